"""Sigstore trust roots: Fulcio CAs, Rekor and CT log keys, TSAs, each with its validity window.

Reads the ``TrustedRoot`` JSON of sigstore/protobuf-specs (``trustroot.proto``, media type
``application/vnd.dev.sigstore.trustedroot+json;version=0.1``), or a ``ClientTrustConfig``
that wraps one. sigstore-python's view of the same bytes is built through its public
``ClientTrustConfig.from_json`` (a verify-only config: gatekeeper never signs).

The default is the Sigstore production root that sigstore-python ships as the seed of its TUF
cache. sigstore's public ``ClientTrustConfig.production(offline=True)`` would read it through
the user's TUF cache: it writes that cache (failing on a read-only root filesystem), trusts
whatever an earlier run left there without verifying it, and never replaces it when sigstore is
upgraded. So gatekeeper reads the shipped file itself, as package data of the installed
distribution (never the network or the user's cache); a test checks it against the public API
in a fresh cache. A policy's ``trusted_root`` names another file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography import x509
from sigstore.errors import Error as SigstoreError
from sigstore.models import ClientTrustConfig
from sigstore.models import TrustedRoot as SigstoreTrustedRoot

from gatekeeper.trust._decode import json_object
from gatekeeper.trust.errors import SignatureRejected, TrustError
from gatekeeper.trust.keys import TrustedKey, load_public_key

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
CLIENT_TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
PRODUCTION_TUF_URL = "https://tuf-repo-cdn.sigstore.dev"
MAX_TRUSTED_ROOT_BYTES = 4 * 1024 * 1024

_FRACTION = re.compile(r"\.(\d{6})\d+")  # protobuf JSON allows nanoseconds; Python parses 6


@dataclass(frozen=True, slots=True)
class Validity:
    """A ``validFor`` time range; ``end`` None means still valid."""

    start: datetime
    end: datetime | None = None

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment and (self.end is None or moment <= self.end)


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """One Fulcio CA: its chain (issuing certificate first, root last) and validity."""

    chain: tuple[x509.Certificate, ...] = field(compare=False)
    validity: Validity


@dataclass(frozen=True, slots=True)
class TimestampAuthority:
    """One RFC 3161 TSA: its chain (signing certificate first, root last) and validity."""

    chain: tuple[x509.Certificate, ...] = field(compare=False)
    validity: Validity
    uri: str = ""


@dataclass(frozen=True, slots=True)
class LogKey:
    """A Rekor or CT log key; ``log_id`` is the hex id signatures name it by."""

    key: TrustedKey
    log_id: str
    validity: Validity
    url: str = ""


@dataclass(frozen=True, slots=True)
class TrustedRoot:
    """The parsed trust root, plus sigstore-python's view of the same bytes."""

    fulcio: tuple[CertificateAuthority, ...]
    rekor: tuple[LogKey, ...]
    ctlogs: tuple[LogKey, ...]
    sha256: str  # of the trusted root JSON as read
    source: str
    sigstore: SigstoreTrustedRoot = field(compare=False, repr=False)
    skipped: tuple[str, ...] = ()  # log keys of types gatekeeper cannot use
    tsas: tuple[TimestampAuthority, ...] = ()  # ``timestampAuthorities``

    def rekor_key(self, log_id: str, at: datetime) -> LogKey:
        """The Rekor key with ``log_id`` valid at ``at``; SignatureRejected otherwise."""
        return _log_key(self.rekor, log_id, at, "Rekor")

    def ct_key(self, log_id: str, at: datetime) -> LogKey:
        """The CT log key with ``log_id`` valid at ``at``; SignatureRejected otherwise."""
        return _log_key(self.ctlogs, log_id, at, "CT log")

    def fulcio_certificates(self, at: datetime) -> list[x509.Certificate]:
        """Certificates of every Fulcio CA whose validity window contains ``at``."""
        return [cert for ca in self.fulcio if ca.validity.contains(at) for cert in ca.chain]


def _log_key(keys: tuple[LogKey, ...], log_id: str, at: datetime, kind: str) -> LogKey:
    for candidate in keys:
        if candidate.log_id == log_id:
            if not candidate.validity.contains(at):
                raise SignatureRejected(f"{kind} key {log_id[:16]} was not valid at {at:%F %T}Z")
            return candidate
    raise SignatureRejected(f"{kind} {log_id[:16]} is not in the trusted root")


def load_trusted_root(data: bytes, source: str) -> TrustedRoot:
    """Parse trusted root (or client trust config) JSON; raise TrustError naming the flaw."""
    try:
        doc: Any = json_object(data, f"trusted root {source}", MAX_TRUSTED_ROOT_BYTES)
        if doc.get("mediaType") == CLIENT_TRUST_CONFIG_MEDIA_TYPE:
            doc = doc.get("trustedRoot")
        if not isinstance(doc, dict) or doc.get("mediaType") != TRUSTED_ROOT_MEDIA_TYPE:
            raise TrustError(f"{source}: not a Sigstore trusted root ({TRUSTED_ROOT_MEDIA_TYPE})")
        rekor, skipped_rekor = _log_keys(doc.get("tlogs", []), f"{source} tlogs")
        ctlogs, skipped_ct = _log_keys(doc.get("ctlogs", []), f"{source} ctlogs")
        fulcio = tuple(
            _authority(item, f"{source} certificateAuthorities[{i}]")
            for i, item in enumerate(_list(doc.get("certificateAuthorities", []), source))
        )
        tsas = tuple(
            _tsa(item, f"{source} timestampAuthorities[{i}]")
            for i, item in enumerate(_list(doc.get("timestampAuthorities", []), source))
        )
        sigstore_root = _sigstore_view(doc)
    except TrustError:
        raise
    except (
        SignatureRejected,
        SigstoreError,
        ValueError,
        TypeError,
        KeyError,
        binascii.Error,
    ) as exc:
        raise TrustError(f"{source}: invalid trusted root: {str(exc)[:200]}") from exc
    return TrustedRoot(
        fulcio=fulcio,
        rekor=rekor,
        ctlogs=ctlogs,
        sha256=hashlib.sha256(data).hexdigest(),
        source=source,
        sigstore=sigstore_root,
        skipped=skipped_rekor + skipped_ct,
        tsas=tsas,
    )


def _sigstore_view(doc: dict[str, Any]) -> SigstoreTrustedRoot:
    """sigstore-python's TrustedRoot for ``doc``, through its public ClientTrustConfig API.

    The signing config is required by the schema but only used to sign: an empty one says
    that this config verifies and never signs.
    """
    # Proto3 JSON omits empty repeated fields (GitHub's trusted root has no "tlogs" or
    # "ctlogs"); sigstore-models insists on them, so the omitted lists are written out.
    repeated = ("tlogs", "certificateAuthorities", "ctlogs", "timestampAuthorities")
    config = {
        "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
        "trustedRoot": {**{name: [] for name in repeated}, **doc},
        "signingConfig": {"mediaType": SIGNING_CONFIG_MEDIA_TYPE},
    }
    return ClientTrustConfig.from_json(json.dumps(config)).trusted_root


def load_trusted_root_file(path: Path) -> TrustedRoot:
    """Read and parse a trusted root file (policy ``signatures.trusted_root``)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TrustError(f"cannot read trusted root {path}: {exc.strerror}") from exc
    return load_trusted_root(data, str(path))


@cache
def production_trusted_root() -> TrustedRoot:
    """The Sigstore production trusted root shipped with the installed sigstore package."""
    # The seed sigstore copies into its TUF cache (see the module docstring for why not
    # ClientTrustConfig.production): package data, read without importing a private module.
    embedded = resources.files("sigstore").joinpath(
        "_store", quote(PRODUCTION_TUF_URL, safe=""), "trusted_root.json"
    )
    try:
        data = embedded.read_bytes()
    except OSError as exc:
        raise TrustError("the sigstore package ships no production trusted root") from exc
    return load_trusted_root(data, "sigstore production trusted root")


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise TrustError(f"{where}: expected a list")
    return value


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise TrustError(f"{where}: expected an RFC 3339 time")
    moment = datetime.fromisoformat(_FRACTION.sub(r".\1", value))
    if moment.tzinfo is None:
        raise TrustError(f"{where}: time {value!r} has no time zone")
    return moment.astimezone(UTC)


def _validity(raw: Any, where: str) -> Validity:
    if not isinstance(raw, dict) or "start" not in raw:
        raise TrustError(f"{where}: validFor.start is required")
    end = raw.get("end")
    return Validity(_time(raw["start"], where), None if end is None else _time(end, where))


def _raw_bytes(raw: Any, where: str) -> bytes:
    if not isinstance(raw, dict) or not isinstance(raw.get("rawBytes"), str):
        raise TrustError(f"{where}: rawBytes is required")
    return base64.b64decode(raw["rawBytes"], validate=True)


def _log_keys(raw: Any, where: str) -> tuple[tuple[LogKey, ...], tuple[str, ...]]:
    keys: list[LogKey] = []
    skipped: list[str] = []
    for i, item in enumerate(_list(raw, where)):
        at = f"{where}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("publicKey"), dict):
            raise TrustError(f"{at}: publicKey is required")
        log_id = base64.b64decode(item.get("logId", {}).get("keyId", ""), validate=True).hex()
        try:
            key = load_public_key(_raw_bytes(item["publicKey"], at), f"{at} ({log_id[:16]})")
        except TrustError as exc:
            skipped.append(exc.message)  # e.g. a newer key type: unusable, not fatal
            continue
        validity = _validity(item["publicKey"].get("validFor"), at)
        keys.append(LogKey(key, log_id, validity, str(item.get("baseUrl", ""))))
    return tuple(keys), tuple(skipped)


def _authority(raw: Any, where: str) -> CertificateAuthority:
    if not isinstance(raw, dict) or not isinstance(raw.get("certChain"), dict):
        raise TrustError(f"{where}: certChain is required")
    chain = tuple(
        x509.load_der_x509_certificate(_raw_bytes(item, where))
        for item in _list(raw["certChain"].get("certificates"), where)
    )
    if not chain:
        raise TrustError(f"{where}: certChain has no certificates")
    return CertificateAuthority(chain, _validity(raw.get("validFor"), where))


def _tsa(raw: Any, where: str) -> TimestampAuthority:
    # Same shape as a certificate authority (trustroot.proto reuses the message); the chain
    # starts with the TSA's signing certificate (sigstore-go and sigstore-python read it so).
    authority = _authority(raw, where)
    return TimestampAuthority(authority.chain, authority.validity, str(raw.get("uri", "")))
