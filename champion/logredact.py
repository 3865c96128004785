"""Secrets out of log lines: the value of a query parameter that carries a credential is written `***`.

Two URLs champion hands out carry their credential in the query string, because the WML client
fetches them without its Authorization header: a data asset's one-time upload URL (`?token=`) and
an attachment's download URL (`?token=<JWT>`). With `champion serve --access-log` uvicorn writes
every request line, query string included. `RedactSecrets` sits on uvicorn's log handlers
(`champion/server.py`), so those values never reach the output, whatever else is on the line.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

SECRET_PARAMETERS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "api-key",
        "key",
        "secret",
        "client_secret",
        "password",
        "signature",
    }
)
"""Query parameter names (compared decoded and lowercased) whose values are credentials."""

MASK = "***"

# A query parameter: after `?` or `&`, a name, `=`, and its value up to the next `&`, blank, quote or `#`.
_PARAMETER = re.compile(r"(?<=[?&])([^=&\s\"'#]+)=([^&\s\"'#]*)")


def redact(text: str) -> str:
    """`text` with the value of each secret-bearing query parameter replaced by `***`; the rest as it was."""

    def mask(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"{name}={MASK}" if unquote_plus(name).lower() in SECRET_PARAMETERS else match.group(0)

    return _PARAMETER.sub(mask, text)


class RedactSecrets(logging.Filter):
    """Redacts a record's message and its string arguments in place, before any handler formats it.

    The arguments are redacted one by one rather than the formatted line, because uvicorn's access
    formatter reads them (client, method, path with query, HTTP version, status) to build its line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {name: redact(arg) if isinstance(arg, str) else arg for name, arg in record.args.items()}
        return True
