"""Which upstream a request goes to, and the repository name policy sees for it.

Front door: one upstream, names as requested. Mirror mode: containerd adds ``?ns=<registry>``
to every request; ``--upstream NAME=URL`` routes each namespace. Docker Hub names stay
unqualified (``library/alpine``, as dockerd sends them); other registries' names are
qualified with the namespace (``ghcr.io/acme/app``) so policy globs can tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from gatekeeper.config import DEFAULT_NAMESPACE
from gatekeeper.errors import Denied, HttpError
from gatekeeper.oci.routes import Route
from gatekeeper.upstream.client import Upstream

_READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Target:
    upstream: Upstream
    repository: str  # the name policy and admission records use
    namespace: str | None  # the ?ns= a mirror client sent
    raw_path_qs: str  # what to request upstream (``ns`` removed)
    own: bool  # send with gatekeeper's credentials, never the client's (mirror mode)


def resolve(
    route: Route,
    method: str,
    raw_path_qs: str,
    default: Upstream,
    namespaces: dict[str, Upstream],
    mirror: bool,
) -> Target:
    if not mirror:
        return Target(default, route.name, None, raw_path_qs, own=False)
    if method not in _READ_METHODS:
        raise HttpError(
            "UNSUPPORTED",
            405,
            f"gatekeeper runs as a read-only mirror here: {method} is not supported",
        )
    path, _, query = raw_path_qs.partition("?")
    params = parse_qsl(query, keep_blank_values=True)
    namespace = next((v for k, v in params if k == "ns"), None)
    upstream = default
    if namespace is not None:
        namespace = namespace.lower()
        found = namespaces.get(namespace)
        if found is None:
            known = ", ".join(sorted(namespaces)) or "none"
            raise Denied(
                f"gatekeeper: registry {namespace[:100]!r} is not mirrored here "
                f"(mirrored: {known})",
                {"namespace": namespace},
            )
        upstream = found
        kept = [(k, v) for k, v in params if k != "ns"]
        raw_path_qs = path + ("?" + urlencode(kept) if kept else "")
    qualified = route.name
    if namespace not in (None, DEFAULT_NAMESPACE) and route.name:
        qualified = f"{namespace}/{route.name}"
    return Target(upstream, qualified, namespace, raw_path_qs, own=True)
