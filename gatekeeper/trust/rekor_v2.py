"""Rekor v2 entry bodies, and whether one logs a given DSSE signature.

Rekor v2 (rekor-tiles ``api/proto/rekor/v2``; bodies are protobuf JSON) logs a DSSE envelope in
one of two ways, both seen in real bundles:

* ``hashedrekord`` 0.0.2 over the envelope (rekor-v2-spec §6.1.4; current cosign, sigstore-go
  and sigstore-python): ``spec.hashedRekordV002.data`` is the digest of the DSSE PAE under the
  hash the key's ``keyDetails`` names, ``signature.content`` is the envelope's one signature
  and ``signature.verifier`` the public key (``publicKey.rawBytes``, DER SPKI) or certificate
  (``x509Certificate.rawBytes``, DER);
* ``dsse`` 0.0.2 (early Rekor v2 shards, e.g. sigstore-python's ``a.dsse.staging-rekor-v2``
  asset): ``spec.dsseV002.payloadHash`` is the payload's digest and ``signatures[]`` pairs each
  signature ``content`` with its ``verifier``.

sigstore-python checks these bodies only inside ``Verifier.verify_dsse``, which needs a signing
certificate; a public-key bundle has none, so the comparison is made here. Digests are compared
on the bytes, never on JSON text.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gatekeeper.trust._decode import b64decode, json_object, member
from gatekeeper.trust.errors import SignatureRejected, TrustError
from gatekeeper.trust.keys import load_public_key
from gatekeeper.trust.limits import TrustLimits

V2_KINDS = frozenset({("hashedrekord", "0.0.2"), ("dsse", "0.0.2")})
_HASHES = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}


def check_v2_dsse_entry(
    body: bytes,
    *,
    pae: bytes,
    payload: bytes,
    signature: bytes,
    verifier: bytes,
    limits: TrustLimits,
) -> None:
    """The Rekor v2 ``body`` must log ``signature`` by ``verifier`` (DER) over this envelope."""
    doc = json_object(body, "Rekor v2 entry body", limits.max_bundle_bytes)
    kind = member(doc, "kind", str, "Rekor v2 entry body")
    version = member(doc, "apiVersion", str, "Rekor v2 entry body")
    spec = member(doc, "spec", dict, "Rekor v2 entry body")
    if (kind, version) == ("hashedrekord", "0.0.2"):
        entry = member(spec, "hashedRekordV002", dict, "Rekor hashedrekord 0.0.2 entry")
        data = member(entry, "data", dict, "Rekor hashedrekord 0.0.2 entry")
        if not _digest(data, "digest", pae, "hashedrekord data"):
            raise SignatureRejected("Rekor entry is for a different DSSE envelope")
        pairs = [_signature(member(entry, "signature", dict, "Rekor hashedrekord entry"))]
    elif (kind, version) == ("dsse", "0.0.2"):
        entry = member(spec, "dsseV002", dict, "Rekor dsse 0.0.2 entry")
        hashed = member(entry, "payloadHash", dict, "Rekor dsse 0.0.2 entry")
        if not _digest(hashed, "digest", payload, "dsse payloadHash"):
            raise SignatureRejected("Rekor entry is for a different payload")
        raw = member(entry, "signatures", list, "Rekor dsse 0.0.2 entry")
        if not raw or len(raw) > limits.max_signatures:
            raise SignatureRejected("Rekor dsse 0.0.2 entry has no or too many signatures")
        pairs = [_signature(item) for item in raw]
    else:
        raise SignatureRejected(f"Rekor {kind[:40]} {version[:20]} entries are not supported")
    if (signature, verifier) not in pairs:
        raise SignatureRejected("Rekor entry names a different signature or signer")


def _digest(hashed: dict[str, Any], field: str, data: bytes, what: str) -> bool:
    algorithm = _HASHES.get(str(hashed.get("algorithm")))
    if algorithm is None:
        raise SignatureRejected(f"Rekor {what} uses an unsupported hash algorithm")
    logged = b64decode(hashed.get(field), f"Rekor {what}", 64)
    return logged == hashlib.new(algorithm, data).digest()


def _signature(raw: Any) -> tuple[bytes, bytes]:
    where = "Rekor v2 signature"
    content = b64decode(member(raw, "content", str, where), where, 16 * 1024)
    verifier = member(raw, "verifier", dict, where)
    if isinstance(verifier.get("x509Certificate"), dict):
        der = member(verifier["x509Certificate"], "rawBytes", str, where)
        return content, b64decode(der, f"{where} certificate", 16 * 1024)
    key = member(member(verifier, "publicKey", dict, where), "rawBytes", str, where)
    try:
        loaded = load_public_key(b64decode(key, f"{where} public key", 16 * 1024), where)
    except TrustError as exc:
        raise SignatureRejected(exc.message) from exc
    return content, loaded.der
