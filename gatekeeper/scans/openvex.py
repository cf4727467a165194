"""OpenVEX documents (https://openvex.dev, spec v0.0.1 and v0.2.0) → statements about one image.

Pure parsing of a document already verified as a signed attestation predicate. A statement
counts for the image only when one of its products names the image's digest:

* ``"@id"`` / ``identifiers.purl`` / a v0.0.1 product string that is the digest itself, ends
  in ``@<digest>``, or is a purl whose version is the digest (``pkg:oci/app@sha256%3A<hex>``);
* ``hashes`` with the digest's hex under ``sha-256`` (``sha-512``).

A product named without a digest (``pkg:oci/app?tag=1.0``, ``nginx``) never matches: a tag
moves, and a statement about "nginx" is not a statement about these bytes. Subcomponents, when
given, narrow the statement to those packages (matched by purl name against the finding's
package). Unreadable parts of a document are skipped and reported, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from gatekeeper.policy.vex_evidence import VexStatement

VEX_PREDICATES = ("https://openvex.dev/ns", "https://openvex.dev/ns/v0.2.0")
STATUSES = frozenset({"not_affected", "affected", "fixed", "under_investigation"})
MAX_STATEMENTS = 4096
MAX_TEXT = 512
_HASHES = {"sha256": "sha-256", "sha512": "sha-512"}


class VexProblem(ValueError):
    """A document or statement that cannot be used; the message says why."""


def image_statements(
    document: Any, digest: str, source: str, signer: str
) -> tuple[list[VexStatement], list[str]]:
    """The statements of ``document`` about ``digest``, and why others were skipped."""
    if not isinstance(document, dict):
        raise VexProblem("the predicate is not an OpenVEX document (not an object)")
    raw = document.get("statements")
    if not isinstance(raw, list):
        raise VexProblem("the OpenVEX document has no statements list")
    if len(raw) > MAX_STATEMENTS:
        raise VexProblem(f"the OpenVEX document has more than {MAX_STATEMENTS} statements")
    default_time = _time(document.get("timestamp"))
    found: list[VexStatement] = []
    problems: list[str] = []
    for index, item in enumerate(raw):
        where = f"{source} statement {index}"
        try:
            statement = _statement(item, digest, where, signer, default_time)
        except VexProblem as exc:
            problems.append(f"{where}: {exc}")
            continue
        if statement is not None:
            found.append(statement)
    return found, problems


def _statement(
    item: Any, digest: str, where: str, signer: str, default_time: datetime | None
) -> VexStatement | None:
    if not isinstance(item, dict):
        raise VexProblem("not an object")
    products = item.get("products")
    if not isinstance(products, list):
        raise VexProblem("no products list")
    matching = [product for product in products if _names_digest(product, digest)]
    if not matching:
        return None
    status = _text(item.get("status"), "status")
    if status not in STATUSES:
        raise VexProblem(f"unknown status {status[:40]!r}")
    name, aliases = _vulnerability(item.get("vulnerability"))
    packages = [*_subcomponents(item.get("subcomponents"))]
    for product in matching:
        if isinstance(product, dict):
            packages.extend(_subcomponents(product.get("subcomponents")))
    justification = item.get("justification")
    return VexStatement(
        vulnerability=name,
        status=status,
        source=where,
        signer=signer,
        timestamp=_time(item.get("timestamp")) or default_time,
        justification=justification[:MAX_TEXT] if isinstance(justification, str) else "",
        aliases=aliases,
        packages=tuple(dict.fromkeys(packages)),
    )


def _vulnerability(value: Any) -> tuple[str, tuple[str, ...]]:
    if isinstance(value, str):  # v0.0.1
        return _text(value, "vulnerability"), ()
    if not isinstance(value, dict):
        raise VexProblem("no vulnerability")
    name = _text(value.get("name"), "vulnerability.name")
    aliases = value.get("aliases", [])
    if not isinstance(aliases, list):
        raise VexProblem("vulnerability.aliases is not a list")
    return name, tuple(_text(alias, "vulnerability alias") for alias in aliases[:16])


def _names_digest(product: Any, digest: str) -> bool:
    algorithm, _, hex_digest = digest.partition(":")
    if isinstance(product, str):
        return _reference_names(product, digest)
    if not isinstance(product, dict):
        return False
    identifiers = product.get("identifiers")
    purl = identifiers.get("purl") if isinstance(identifiers, dict) else None
    hashes = product.get("hashes")
    hashed = hashes.get(_HASHES.get(algorithm, algorithm)) if isinstance(hashes, dict) else None
    return (
        any(_reference_names(value, digest) for value in (product.get("@id"), purl))
        or hashed == hex_digest
    )


def _reference_names(value: Any, digest: str) -> bool:
    if not isinstance(value, str) or len(value) > 2 * MAX_TEXT:
        return False
    if value == digest:
        return True
    path = value.split("?", 1)[0].split("#", 1)[0]
    return "@" in path and unquote(path.rsplit("@", 1)[1]) == digest


def _subcomponents(value: Any) -> Iterator[str]:
    if not isinstance(value, list):
        return
    for item in value[:256]:
        ref = item if isinstance(item, str) else None
        if isinstance(item, dict):
            identifiers = item.get("identifiers")
            purl = identifiers.get("purl") if isinstance(identifiers, dict) else None
            ref = purl if isinstance(purl, str) else item.get("@id")
        if isinstance(ref, str) and ref:
            yield _package_name(ref)


def _package_name(ref: str) -> str:
    """``pkg:deb/debian/libidn2-0@2.0.5-1?arch=amd64`` → ``libidn2-0``; other text as is."""
    if not ref.startswith("pkg:"):
        return ref[:MAX_TEXT]
    path = ref.split("?", 1)[0].split("#", 1)[0].split("@", 1)[0]
    return unquote(path.rsplit("/", 1)[-1])[:MAX_TEXT]


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise VexProblem(f"{what} is missing or not a string")
    return value[:MAX_TEXT]


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
