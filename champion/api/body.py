"""Reading a request body, refusing it once it passes the size limit; JSON parsed with orjson.

Every face reads its body here: the prediction routes the bytes first (WML scoring reads a plain numeric
body straight into a matrix, DataRobot inflates gzip as it streams), the others parsed at once
(`read_json`). The body is counted as it streams in, because Content-Length may be absent (chunked) or
wrong; a declared length over the limit is refused before reading a byte.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from champion.errors import InvalidInput, PayloadTooLarge


def refuse_declared(declared: str | None, *, limit: int) -> None:
    """PayloadTooLarge when the request's Content-Length is over `limit`."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)


async def read_bytes(request: Request, *, limit: int, each: Callable[[bytes], bytes] | None = None) -> bytes:
    """The body (each chunk passed through `each` as it arrives, when given: an inflater), or
    PayloadTooLarge once more than `limit` bytes arrived; ClientDisconnect when the caller goes away first.
    The caller checks the declared length first (`refuse_declared`)."""
    # The ASGI messages read as `Request.stream` reads them, without its async generator: one per
    # request, which the event loop's hooks track and finalise (about 2 us of a request's CPU).
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if message["type"] != "http.request":
            continue
        chunk, more = message.get("body", b""), message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(each(chunk) if each is not None else chunk)
    return b"".join(chunks)


def loads(body: bytes) -> Any:
    """The parsed body, or InvalidInput for bad JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc}", field="body") from None


async def read_json(request: Request, *, limit: int) -> Any:
    """The parsed body, or PayloadTooLarge past `limit` bytes, or InvalidInput for bad JSON."""
    refuse_declared(request.headers.get("content-length"), limit=limit)
    return loads(await read_bytes(request, limit=limit))


def too_large(limit: int, *, which: str = "request body") -> PayloadTooLarge:
    return PayloadTooLarge(f"the {which} is larger than the limit of {limit} bytes", field="body")
