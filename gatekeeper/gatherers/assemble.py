"""The gatherers a running gatekeeper uses, built around its upstream and settings.

Everything with a lifetime (the verdict directory's watcher, the Redis connection, the
scanner's polling tasks) is entered on an AsyncExitStack that the caller closes at shutdown.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from gatekeeper.admission.evidence import Gatherers
from gatekeeper.config import Settings
from gatekeeper.gatherers.attestations import RegistryAttestations
from gatekeeper.gatherers.image_config import ImageConfigs
from gatekeeper.gatherers.notation import CombinedSignatures, NotationSignatures
from gatekeeper.gatherers.provenance import RegistryStatements
from gatekeeper.gatherers.signatures import RegistrySignatures
from gatekeeper.gatherers.vex import RegistryVex, WithVex
from gatekeeper.scans.cache import VerdictCache
from gatekeeper.scans.directory import VerdictDirectory
from gatekeeper.scans.gatherer import ScanVerdicts
from gatekeeper.scans.harbor import HarborScanner
from gatekeeper.state.shared_redis import SharedRedis
from gatekeeper.upstream.client import Upstream


async def build_gatherers(
    settings: Settings, upstream: Upstream, stack: AsyncExitStack, redis: SharedRedis | None
) -> Gatherers:
    cache = VerdictCache(shared=redis)
    directory = None
    if settings.verdicts is not None:
        directory = VerdictDirectory(settings.verdicts)
        await stack.enter_async_context(directory)
    # The scanner pulls from the upstream itself, never through gatekeeper (which would
    # refuse the unscanned image), with gatekeeper's own credentials when it has any.
    scanner = HarborScanner(
        upstream.session,
        cache,
        registry_url=upstream.base_url,
        registry_authorization=upstream.auth.basic(),
    )
    stack.push_async_callback(scanner.close)
    return Gatherers(
        signatures=CombinedSignatures(RegistrySignatures(upstream), NotationSignatures(upstream)),
        image=ImageConfigs(upstream),
        attestations=RegistryStatements(upstream),
        scan=WithVex(
            ScanVerdicts(
                cache,
                directory=directory,
                scanner=scanner,
                sources=[RegistryAttestations(upstream)],
            ),
            RegistryVex(upstream),
        ),
    )
