"""The README's examples run as pasted, in order, against a fresh `champion serve --tls`.

Every ```python block of README.md is an example a newcomer pastes: they run one after the other in one
interpreter (a child process, as a user's would be, with the official `ibm-watsonx-ai`, `datarobot` and
`datarobot-predict` clients), with only the server's URL and the API key put in. A comment line
`# prints: TEXT` under a `print(...)` is what that print writes (`...` matches anything, as in doctest).
The curl command of "The two commands" runs too.
"""

from __future__ import annotations

import doctest
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from champion.models.software_specs import versioned_type
from tests.servers import RunningServer, running_server

pytestmark = pytest.mark.compat

README = Path(__file__).resolve().parents[1] / "README.md"
README_URL = "https://127.0.0.1:8443"
README_KEY = "<api key>"
PRINTS = re.compile(r"^\s*# prints: (?P<want>.*)$", re.MULTILINE)
# The README's examples wait for captured predictions to be stored; a short flush keeps the test short.
FLUSH_SECONDS = "1"
TIMEOUT_SECONDS = 180


@dataclass(frozen=True)
class Block:
    number: int
    language: str
    code: str
    line: int  # where the block starts in README.md, for failure messages

    @property
    def prints(self) -> list[str]:
        return [found["want"] for found in PRINTS.finditer(self.code)]


def blocks(language: str, text: str | None = None) -> list[Block]:
    text = README.read_text() if text is None else text
    fence = re.compile(rf"^```{language}\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
    return [
        Block(number, language, found["code"], text.count("\n", 0, found.start()) + 1)
        for number, found in enumerate(fence.finditer(text))
    ]


def pasted(code: str, server: RunningServer) -> str:
    """The block as a user pastes it after `make run`: the URL and the key it printed put in."""
    return code.replace(README_URL, server.url).replace(README_KEY, server.admin_api_key)


# The child: every block in one namespace, in order, a marker printed before each.
RUNNER = """
import json, sys
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for number, code in enumerate(blocks):
    print("=== README block", number, "===", flush=True)
    exec(compile(code, f"README.md python block {number}", "exec"), namespace)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("readme-server")
    with running_server(root, CHAMPION_CAPTURE_FLUSH_SECONDS=FLUSH_SECONDS) as running:
        yield running


def clean_env(**extra: str) -> dict[str, str]:
    """A newcomer's environment: no CA bundle overriding `ssl_verify=False` (see the next test), no CHAMPION_."""
    drop = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("CHAMPION_")}
    env.update(PYTHONWARNINGS="ignore", **extra)
    return env


def test_the_readme_has_its_examples() -> None:
    python = blocks("python")
    assert len(python) >= 4, "the README lost its client examples"
    assert all(block.prints for block in python[1:3]), "the WML and DataRobot examples show what they print"


def test_the_python_examples_run_as_pasted_in_order(server: RunningServer, tmp_path: Path) -> None:
    python = blocks("python")
    codes = tmp_path / "blocks.json"
    codes.write_text(json.dumps([pasted(block.code, server) for block in python]))
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(codes)],
        cwd=tmp_path,  # the WML client writes model folders into the working directory
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    outputs = re.split(r"^=== README block \d+ ===$", result.stdout, flags=re.MULTILINE)[1:]
    assert result.returncode == 0 and len(outputs) == len(python), (
        f"README python block {len(outputs) - 1} (line {python[max(len(outputs) - 1, 0)].line}) failed:\n"
        f"{result.stderr[-4000:]}"
    )
    checker = doctest.OutputChecker()
    for block, output in zip(python, outputs, strict=True):
        lines = output.splitlines()
        for want in block.prints:
            assert any(checker.check_output(want, line, doctest.ELLIPSIS) for line in lines), (
                f"README python block {block.number} (line {block.line}) should print {want!r}; it printed:\n{output}"
            )


def test_the_readme_model_type_is_the_installed_library_version() -> None:
    """The examples name the type the server really runs (`<library>_<major.minor>`)."""
    named = set(re.findall(r"TYPE: \"([^\"]+)\"", README.read_text()))
    assert named == {versioned_type("scikit-learn")}


def test_a_ca_bundle_pointing_at_the_server_certificate_lets_the_datarobot_client_in(server: RunningServer) -> None:
    """The README's note: with REQUESTS_CA_BUNDLE set, requests ignores `ssl_verify=False`; pointing the
    variable at champion's certificate works (and verifies it)."""
    code = pasted(
        "import datarobot as dr\n"
        'dr.Client(token="<api key>", endpoint="https://127.0.0.1:8443/api/v2", ssl_verify=False)\n'
        "print(len(dr.Deployment.list()))\n",
        server,
    )
    cert = server.home / "tls" / "cert.pem"
    assert cert.is_file()
    env = clean_env(REQUESTS_CA_BUNDLE=str(cert), CURL_CA_BUNDLE="/nonexistent/ca.pem")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().isdigit()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_first_curl_command_runs(server: RunningServer) -> None:
    (first, *_) = [block for block in blocks("bash") if block.code.startswith("curl ")]
    command = pasted(first.code.strip(), server)
    result = subprocess.run(
        ["bash", "-c", command], env=clean_env(), capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "resources" in json.loads(result.stdout)
