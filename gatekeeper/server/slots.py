"""A cap on manifest requests decided at once (evidence gathering is the costly part).

Beyond ``max_admissions`` in progress, up to ``admission_queue`` requests wait, each at most
``admission_queue_timeout``; anything more answers ``503`` + ``Retry-After`` at once. A burst
is absorbed, a flood is refused quickly, nothing hangs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from gatekeeper.config import Limits
from gatekeeper.errors import Overloaded
from gatekeeper.upstream.budget import Slots

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def admission_slots(limits: Limits) -> Middleware:
    slots = Slots(limits.max_admissions)
    queue = limits.admission_queue

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if "/manifests/" not in request.path:
            return await handler(request)
        if slots.waiting >= queue:
            raise Overloaded("gatekeeper is deciding too many manifests at once: retry shortly")
        if not await slots.acquire(limits.admission_queue_timeout):
            raise Overloaded("gatekeeper is deciding too many manifests at once: retry shortly")
        try:
            return await handler(request)
        finally:
            slots.release()

    return middleware
