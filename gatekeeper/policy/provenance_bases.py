"""The images a build started from, read from signed SLSA provenance (pure).

SLSA provenance v1 lists what a build resolved in ``predicate.buildDefinition.
resolvedDependencies[]`` (v0.2: ``predicate.materials[]``), each a ``uri`` with a ``digest``
map. BuildKit names images there as Package URLs (``pkg:docker/python@3.12-slim?platform=…``,
``pkg:docker/cgr.dev/chainguard/wolfi-base@latest``, ``pkg:docker/docker/dockerfile@1.5``
for a ``# syntax=`` frontend); the purl spec also has ``pkg:oci/…?repository_url=…``, and
LLB sources are ``docker-image://…``. Git sources and downloads are not images and are
skipped. Each image is named here in full, as a trusted-base entry is written:
``docker.io/library/python:3.12-slim@sha256:<hex>``.

Only statements that verified (a trusted signature, a subject naming the image) reach this
module: :mod:`gatekeeper.gatherers.provenance` reads them for the rule's attestation
requirements, and :func:`signed_bases` picks one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packageurl import PackageURL

from gatekeeper.policy.attestation_evidence import AttestationsEvidence
from gatekeeper.policy.attestation_model import AttestationRequirement

SLSA_PROVENANCE = ("https://slsa.dev/provenance/v1", "https://slsa.dev/provenance/v0.2")
MAX_DEPENDENCIES = 256  # dependencies read from one statement; more are not looked at
_DOCKER_HUB = "docker.io"


@dataclass(frozen=True, slots=True)
class SignedBases:
    """The images one verified provenance statement says the build resolved."""

    attestation: str  # the rule's attestations[] entry that found it
    source: str  # where the statement was found ("tag sha256-<hex>.att", "referrer …")
    signer: str
    images: tuple[str, ...]  # full references; () when it lists no image at all

    @property
    def described(self) -> str:
        return (
            f"signed SLSA provenance '{self.attestation}' ({self.source}, signed by {self.signer})"
        )


def provenance_images(statement: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The images an SLSA provenance statement lists (None: not SLSA provenance)."""
    kind = statement.get("predicateType")
    predicate = statement.get("predicate")
    if kind not in SLSA_PROVENANCE or not isinstance(predicate, dict):
        return None
    if kind == SLSA_PROVENANCE[0]:
        definition = predicate.get("buildDefinition")
        found = definition.get("resolvedDependencies") if isinstance(definition, dict) else None
    else:
        found = predicate.get("materials")
    dependencies = found[:MAX_DEPENDENCIES] if isinstance(found, list) else []
    images = []
    for dependency in dependencies:
        if not isinstance(dependency, dict) or not isinstance(dependency.get("uri"), str):
            continue
        image = image_reference(dependency["uri"], dependency.get("digest"))
        if image is not None:
            images.append(image)
    return tuple(dict.fromkeys(images))


def image_reference(uri: str, digest: object = None) -> str | None:
    """``uri`` as a full image reference, or None when it does not name an image.

    An image URI that cannot be read is returned as written: it then matches no trusted base
    (unless an entry is written for it), so an unreadable dependency is refused, not skipped.
    """
    pinned = _sha256(digest)
    if uri.startswith("docker-image://"):
        return _pin(uri.removeprefix("docker-image://"), pinned)
    if not uri.startswith(("pkg:docker/", "pkg:oci/")):
        return None
    try:
        purl = PackageURL.from_string(uri)
    except ValueError:
        return uri
    qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    version = purl.version or ""
    tag = "" if version.startswith("sha256:") else version
    pinned = pinned or (version if version.startswith("sha256:") else qualifiers.get("digest", ""))
    if purl.type == "oci":
        # pkg:oci: repository_url holds the whole repository; the tag is a qualifier.
        repository = qualifiers.get("repository_url") or purl.name
        tag = qualifiers.get("tag", "")
    else:
        repository = _docker_repository(purl.namespace or "", purl.name, qualifiers)
    return _pin(f"{repository}:{tag}" if tag else repository, pinned)


def signed_bases(
    requirements: Sequence[AttestationRequirement], evidence: AttestationsEvidence | None
) -> SignedBases | None:
    """The first verified SLSA provenance among the rule's attestation requirements.

    Statements that satisfied their requirement's conditions come first; one that lists
    images wins over one that lists none (GitHub's workflow provenance names only the
    source repository). None when no verified provenance was found.
    """
    if evidence is None:
        return None
    wanted = {req.name for req in requirements if req.predicate_type in SLSA_PROVENANCE}
    fallback = None
    for found in evidence.requirements:
        if found.name not in wanted:
            continue
        for statement in found.statements:
            if statement.images is None:
                continue
            bases = SignedBases(found.name, statement.source, statement.signer, statement.images)
            if bases.images:
                return bases
            fallback = fallback or bases
    return fallback


def _docker_repository(namespace: str, name: str, qualifiers: Mapping[str, str]) -> str:
    host = qualifiers.get("repository_url", "").removeprefix("https://").removeprefix("http://")
    first = namespace.split("/", 1)[0]
    if not host and ("." in first or ":" in first or first == "localhost"):
        return f"{namespace}/{name}"  # BuildKit keeps the registry in the namespace
    host = host.rstrip("/") or _DOCKER_HUB
    if host in (_DOCKER_HUB, "index.docker.io", "hub.docker.com", "registry-1.docker.io"):
        return f"{_DOCKER_HUB}/{namespace or 'library'}/{name}"
    return f"{host}/{namespace}/{name}" if namespace else f"{host}/{name}"


def _sha256(digest: object) -> str:
    if isinstance(digest, dict) and isinstance(digest.get("sha256"), str):
        return f"sha256:{digest['sha256']}"
    return ""


def _pin(reference: str, digest: str) -> str:
    if not digest or "@" in reference:
        return reference
    return f"{reference}@{digest}"
