"""The scoring route's request body as bytes, refused once it passes the size limit, and parsed apart.

`champion.api.body.read_json` reads and parses in one call; the scoring route needs the bytes first, so
that a plain numeric body is read straight into a matrix (`numeric_body`) and only the others are
parsed into Python objects. The same reading and the same errors as `read_json`.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from champion.errors import InvalidInput, PayloadTooLarge


async def read_bytes(request: Request, *, limit: int) -> bytes:
    """The body, or PayloadTooLarge past `limit` bytes; ClientDisconnect when the caller goes away first.

    The body is counted as it streams in, because Content-Length may be absent (chunked) or wrong;
    a declared length over the limit is refused before reading a byte.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    # The ASGI messages read here as `Request.stream` reads them, without its async generator: one per
    # request, which the event loop's hooks track and finalise (about 2 us of a request's CPU).
    chunks, size, more = [], 0, True
    while more:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if message["type"] != "http.request":
            continue
        chunk, more = message.get("body", b""), message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def loads(body: bytes) -> Any:
    """The parsed body, or InvalidInput for bad JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc}", field="body") from None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than the limit of {limit} bytes", field="body")
