"""`python -m champion.runtimes.convert MODEL FRAMEWORK GRAPH ROWS`: a tree model's ONNX graph, and the check
rows built from it, made in a process of its own.

The converters are heavy: importing skl2onnx and onnx costs a serving process about 1.5 s and tens of MiB
it would keep for good, for a conversion made once per model file (`compiled.py` keeps the graph). So the
serving process asks this short-lived process for the graph and only ever imports onnxruntime. Exit status
0 with the graph written to GRAPH and the check rows kept at ROWS; otherwise the last line on stderr says why.

`python -m champion.runtimes.convert --check MODEL FRAMEWORK SHA256` goes further: it loads the native
model, converts and checks it here and keeps the outcome beside the file (`compiled.check_apart`), so a
serving process whose model compiles never loads the native model nor imports its framework.
"""

from __future__ import annotations

import sys
from pathlib import Path

from champion import runtimes
from champion.runtimes import compiled
from champion.runtimes.base import Framework


def main(argv: list[str]) -> int:
    if argv[:1] == ["--check"]:
        return check(*argv[1:])
    model, framework, graph, rows = argv
    try:
        native = runtimes.load(Path(model), Framework(framework))
        data = compiled.convert(native)
        compiled.keep_check_rows(native.signature(), data, Path(rows))
    except Exception as exc:  # any failure is reported, in one line, to the serving process
        sys.stderr.write(compiled.first_line(exc) + "\n")
        return 1
    Path(graph).write_bytes(data)
    return 0


def check(model: str, framework: str, sha256: str) -> int:
    """`--check MODEL FRAMEWORK SHA256`: load the native model, compile and check it here, and keep the outcome
    beside the file (`compiled.check_apart`), so the serving process loads only the form that serves."""
    try:
        native = runtimes.load(Path(model), Framework(framework))
    except Exception as exc:
        sys.stderr.write(compiled.first_line(exc) + "\n")
        return 1
    compiled.serving(native, Path(model), sha256=sha256, here=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
