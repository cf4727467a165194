"""Reading a whole body (a manifest, a signature payload) into memory, never unbounded."""

from __future__ import annotations

from aiohttp import StreamReader

from gatekeeper.errors import SizeInvalid


async def read_bounded(stream: StreamReader, declared: int | None, limit: int, what: str) -> bytes:
    """All of ``stream``, refusing (SIZE_INVALID) a body larger than ``limit`` bytes.

    A declared Content-Length over the limit is refused before reading anything; a body
    that grows past it is refused as soon as it does.
    """
    if declared is not None and declared > limit:
        raise SizeInvalid(f"{what} of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_any():
        size += len(chunk)
        if size > limit:
            raise SizeInvalid(f"{what} exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
