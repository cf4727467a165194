"""Stream an upstream response to the client with bounded buffers.

Bodies are relayed chunk by chunk as they arrive (``iter_any``: measured here as the
cheapest way to stream with aiohttp); ``StreamResponse.write`` waits for the client to
drain once ``client_write_buffer_bytes`` are queued, and aiohttp pauses reading the upstream
socket when its ``stream_chunk_bytes`` buffer fills, so memory per stream stays under about
``client_write_buffer_bytes + 2 * stream_chunk_bytes`` whatever the blob size.

A client that reads nothing for ``client_write_timeout`` is cut off; a client that goes
away cancels the handler (``handler_cancellation``), which leaves ``Upstream.send`` and so
closes the upstream connection at once. A stream that cannot finish (upstream broke off,
client too slow, shutdown) is aborted with a reset, never framed as complete.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from gatekeeper.config import Limits
from gatekeeper.proxy.headers import response_headers
from gatekeeper.proxy.location import Origins
from gatekeeper.redact import describe

log = logging.getLogger("gatekeeper.proxy")

_NO_BODY_STATUSES = frozenset({204, 304})
_FLUSH_POLL = 0.002
_DEFAULT_LIMITS = Limits()


def relayed_headers(upstream: aiohttp.ClientResponse, origins: Origins) -> CIMultiDict[str]:
    """The headers of ``upstream`` to send on (:func:`response_headers`); may refuse (502)."""
    return response_headers(upstream.headers.items(), upstream.status, str(upstream.url), origins)


async def stream_response(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    origins: Origins,
    extra_headers: Iterable[tuple[str, str]] = (),
    limits: Limits = _DEFAULT_LIMITS,
) -> web.StreamResponse:
    """Relay status, headers and body of ``upstream`` to the client."""
    headers = relayed_headers(upstream, origins)
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    response.headers.extend(headers)
    response.headers.extend(extra_headers)
    await response.prepare(request)
    if request.method == "HEAD" or upstream.status in _NO_BODY_STATUSES:
        await response.write_eof()
        return response
    if request.transport is not None:
        # Let the kernel drain one chunk while the next is read (the default 64 KiB
        # high-water mark stalls every large chunk), but no more than this per client.
        high = limits.client_write_buffer_bytes
        request.transport.set_write_buffer_limits(high=high, low=high // 4)
    patience = limits.client_write_timeout
    try:
        async with asyncio.timeout(None) as deadline:
            loop = asyncio.get_running_loop()
            async for chunk in upstream.content.iter_any():
                deadline.reschedule(loop.time() + patience)
                await response.write(chunk)  # waits while the client's buffer is full
                deadline.reschedule(None)
            deadline.reschedule(loop.time() + patience)
            await response.write_eof()
            await _flushed(request)
    except aiohttp.ClientError as exc:  # its time-outs too (upstream idle): before ours
        # Too late for an error response: cut the connection so the client sees a short
        # body instead of a silently truncated one.
        log.warning(
            "upstream body broke off for %s %s: %s", request.method, request.path, describe(exc)
        )
        _abort(request)
    except TimeoutError:
        log.warning(
            "client stopped reading %s %s for %gs: stream aborted",
            request.method,
            request.path,
            patience,
        )
        _abort(request)
    except ConnectionError:
        _abort(request)  # the client went away; nothing left to tell it
    except asyncio.CancelledError:
        _abort(request)  # client gone, or shutdown: never let a cut stream look complete
        raise
    return response


async def _flushed(request: web.Request) -> None:
    """Wait until the raised write buffer has gone to the kernel.

    A request counts as finished (graceful stop, connection reuse) only once its last bytes
    left user space; aiohttp's write_eof does not wait for that.
    """
    # asyncio transports offer no "buffer empty" event (aiohttp's drain helper is private
    # and stops at the low-water mark), so poll: a few ms at the end of a stream.
    while _buffered(request):  # noqa: ASYNC110
        await asyncio.sleep(_FLUSH_POLL)


def _buffered(request: web.Request) -> bool:
    transport = request.transport
    return bool(
        transport is not None and not transport.is_closing() and transport.get_write_buffer_size()
    )


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()
