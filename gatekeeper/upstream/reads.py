"""gatekeeper's own reads from the upstream: manifests and small blobs, bounded.

Used by ``gatekeeper evaluate`` and by evidence gatherers (signatures, attestations, image
configs). Client requests never come through here.
"""

from __future__ import annotations

from dataclasses import dataclass

from multidict import CIMultiDict

from gatekeeper.errors import Denied, GatekeeperError
from gatekeeper.oci.digest import digest_of
from gatekeeper.oci.media_types import ACCEPT_ALL
from gatekeeper.proxy.bodies import read_bounded
from gatekeeper.upstream.client import Upstream


class NotFound(GatekeeperError):
    """The upstream has no such manifest or blob."""

    code = "MANIFEST_UNKNOWN"
    status = 404


@dataclass(frozen=True, slots=True)
class Fetched:
    data: bytes
    digest: str  # computed by gatekeeper over ``data``
    content_type: str | None


async def fetch_manifest(
    upstream: Upstream, repository: str, reference: str, limit: int
) -> Fetched:
    """GET a manifest; the digest is computed here and checked against the reference."""
    fetched = await fetch_optional_manifest(upstream, repository, reference, limit)
    if fetched is None:
        raise NotFound(f"{repository}:{reference} not found upstream")
    return fetched


async def fetch_optional_manifest(
    upstream: Upstream, repository: str, reference: str, limit: int
) -> Fetched | None:
    """Like :func:`fetch_manifest`, but None when the upstream has no such manifest."""
    headers: CIMultiDict[str] = CIMultiDict(Accept=ACCEPT_ALL)
    async with upstream.send(
        "GET", f"/v2/{repository}/manifests/{reference}", headers, own=True
    ) as response:
        if response.status == 404:
            return None
        if response.status != 200:
            raise GatekeeperError(
                f"upstream answered {response.status} for manifest {repository}:{reference}"
            )
        data = await read_bounded(response.content, response.content_length, limit, "manifest")
        content_type = response.headers.get("Content-Type")
    algorithm = reference.split(":", 1)[0] if ":" in reference else "sha256"
    digest = digest_of(data, algorithm)
    if ":" in reference and digest != reference:
        raise Denied(f"upstream sent {digest} for {repository}@{reference}")
    return Fetched(data, digest, content_type)


async def fetch_referrers(
    upstream: Upstream, repository: str, digest: str, limit: int
) -> Fetched | None:
    """The OCI 1.1 referrers index for ``digest``; None when the upstream lacks the API."""
    headers: CIMultiDict[str] = CIMultiDict(Accept="application/vnd.oci.image.index.v1+json")
    async with upstream.send(
        "GET", f"/v2/{repository}/referrers/{digest}", headers, own=True
    ) as response:
        content_type = response.headers.get("Content-Type", "")
        if response.status != 200 or "json" not in content_type:
            return None  # distribution 2.8 answers 404 "page not found": no referrers API
        data = await read_bounded(response.content, response.content_length, limit, "referrers")
    return Fetched(data, digest_of(data), content_type)


async def fetch_blob(upstream: Upstream, repository: str, digest: str, limit: int) -> bytes:
    """GET a small blob (payloads, configs), following storage redirects; digest checked."""
    async with upstream.send(
        "GET", f"/v2/{repository}/blobs/{digest}", CIMultiDict(), follow_redirects=True, own=True
    ) as response:
        if response.status == 404:
            raise NotFound(f"blob {digest} not found in {repository}")
        if response.status != 200:
            raise GatekeeperError(f"upstream answered {response.status} for blob {digest}")
        data = await read_bounded(response.content, response.content_length, limit, "blob")
    if digest_of(data, digest.split(":", 1)[0]) != digest:
        raise Denied(f"blob {digest} in {repository} does not match its digest")
    return data
