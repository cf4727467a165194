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
from gatekeeper.errors import HttpError, RouteDenied
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
    given = [v for k, v in params if k == "ns"]
    if len(given) > 1:
        raise RouteDenied("gatekeeper: the 'ns' parameter may be given only once")
    namespace = given[0] if given else None
    upstream = default
    if namespace is not None:
        namespace = namespace.lower()
        found = namespaces.get(namespace)
        if found is None:
            known = ", ".join(sorted(namespaces)) or "none"
            raise RouteDenied(
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
    elif _names_a_registry(route.name):
        # Docker Hub names never start with a host; fetched from the Docker Hub route but
        # judged by a rule written for that host (ghcr.io/acme/**), it would be admitted
        # under the wrong registry's policy.
        raise RouteDenied(
            f"gatekeeper: {route.name[:100]!r} names another registry; mirror clients send"
            " it as ?ns=<registry> with the name inside that registry",
            {"name": route.name[:100]},
        )
    return Target(upstream, qualified, namespace, raw_path_qs, own=True)


def _names_a_registry(name: str) -> bool:
    """True when the first component is a host (``ghcr.io``, ``localhost``, ``host:5000``),
    as in docker's reference parsing (``distribution/reference.splitDockerDomain``)."""
    first, slash, _ = name.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")
