"""Reading a JSON request body with orjson, refusing it once it passes the size limit."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from champion.errors import InvalidInput, PayloadTooLarge


async def read_json(request: Request, *, limit: int) -> Any:
    """The parsed body, or PayloadTooLarge past `limit` bytes, or InvalidInput for bad JSON.

    The body is counted as it streams in, because Content-Length may be absent (chunked) or wrong;
    a declared length over the limit is refused before reading a byte.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc}", field="body") from None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than the limit of {limit} bytes", field="body")
