"""The floor: the barest aiohttp pass-through (uvloop, one ClientSession, ``iter_any``).

No policy, no header filtering, no digests: what any Python proxy built on aiohttp costs at
least. gatekeeper's own request path is measured against it (``bench/shapes.py``).

Usage: ``python bench/floor.py UPSTREAM_URL PORT``.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import uvloop
from aiohttp import web

_DROP = frozenset({"host", "connection", "keep-alive", "transfer-encoding", "content-length"})


async def serve(upstream: str, port: int) -> None:
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=256), auto_decompress=False
    )

    async def handle(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
        data = request.content if request.body_exists else None
        async with session.request(
            request.method, upstream + request.raw_path, headers=headers, data=data
        ) as response:
            out = web.StreamResponse(status=response.status)
            for name, value in response.headers.items():
                if name.lower() not in _DROP:
                    out.headers.add(name, value)
            if response.content_length is not None:
                out.content_length = response.content_length
            await out.prepare(request)
            if request.method != "HEAD":
                async for chunk in response.content.iter_any():
                    await out.write(chunk)
            await out.write_eof()
            return out

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    uvloop.run(serve(sys.argv[1].rstrip("/"), int(sys.argv[2])))
