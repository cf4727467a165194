"""Transparency log inclusion proofs and signed checkpoints, checked offline.

Rekor v2 (rekor-tiles) returns no Signed Entry Timestamp: an entry is proven by an RFC 6962
Merkle inclusion proof up to a root hash, and that root is vouched for by a checkpoint, a C2SP
``signed-note`` (``origin\\nsize\\nbase64(root)\\n[extensions]\\n\\n— name base64(keyhint ‖
signature)\\n…``) signed by the log key. Rekor v1 bundles carry the same proof beside their SET.

* the leaf hash is ``SHA-256(0x00 ‖ canonicalizedBody)`` and nodes ``SHA-256(0x01 ‖ l ‖ r)``
  (RFC 6962 §2.1); the proof must hash to the proof's root, and that root and tree size must
  be exactly those the checkpoint states;
* the checkpoint needs a signature line whose 4-byte key hint is the start of the entry's
  ``logId`` and which verifies with that log's key from the trusted root (Ed25519 over the note
  text for Rekor v2, ECDSA for v1); other lines (witness cosignatures) are ignored;
* the log key must be valid at the verified signing time (a TSA timestamp); with none, only a
  key the trusted root still lists as current (no ``validFor.end``) is used.

sigstore-python implements the same checks only privately (``sigstore._internal.merkle`` and
``…rekor.checkpoint``, reached through ``Verifier`` for certificate bundles), and cannot verify
a public-key bundle at all; hence this module. A proof says nothing about what was signed:
the caller must still bind the body to the signature (:mod:`gatekeeper.trust.rekor_v2`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gatekeeper.trust._decode import b64decode, member
from gatekeeper.trust.errors import SignatureRejected
from gatekeeper.trust.limits import TrustLimits
from gatekeeper.trust.rekor import log_number
from gatekeeper.trust.trusted_root import LogKey, TrustedRoot

MAX_PROOF_HASHES = 64  # a tree of 2**64 leaves
MAX_CHECKPOINT_BYTES = 16 * 1024
MAX_CHECKPOINT_SIGNATURES = 16
_SIGNATURE_LINE = re.compile(r"\u2014 (\S+) ([A-Za-z0-9+/=]+)")


@dataclass(frozen=True, slots=True)
class ProvenEntry:
    """A log entry whose inclusion in a checkpointed tree was verified."""

    body: bytes  # canonicalizedBody, as proven
    kind: str
    version: str
    log_id: str  # hex
    log_index: int


def verify_inclusion(
    raw: Any, root: TrustedRoot, at: datetime | None, limits: TrustLimits
) -> ProvenEntry:
    """Verify a bundle ``tlogEntries[]`` item's inclusion proof and checkpoint."""
    where = "bundle tlog entry"
    if not isinstance(raw, dict):
        raise SignatureRejected(f"{where} is not an object")
    proof = raw.get("inclusionProof")
    if not isinstance(proof, dict):
        raise SignatureRejected(f"{where} has neither a SET nor an inclusion proof")
    body = b64decode(raw.get("canonicalizedBody"), f"{where} body", limits.max_bundle_bytes)
    log_id = b64decode(member(raw, "logId", dict, where).get("keyId"), f"{where} logId", 64)
    kind_version = member(raw, "kindVersion", dict, where)
    index = log_number(proof.get("logIndex"), "inclusion proof logIndex")
    size = log_number(proof.get("treeSize"), "inclusion proof treeSize")
    if index >= size:
        raise SignatureRejected(f"inclusion proof index {index} is outside a tree of {size}")
    proof_root = b64decode(proof.get("rootHash"), "inclusion proof rootHash", 64)
    raw_hashes = member(proof, "hashes", list, "inclusion proof")
    if len(raw_hashes) > MAX_PROOF_HASHES:
        raise SignatureRejected("inclusion proof has too many hashes")
    hashes = [b64decode(item, "inclusion proof hash", 64) for item in raw_hashes]
    computed = root_from_proof(leaf_hash(body), index, size, hashes)
    if computed != proof_root:
        raise SignatureRejected(f"inclusion proof does not hash to its root (entry {index})")
    checkpoint = member(member(proof, "checkpoint", dict, "inclusion proof"), "envelope", str, "")
    log_key = _log_key(root, log_id.hex(), at)
    checkpoint_size, checkpoint_root = verify_checkpoint(checkpoint, log_id, log_key)
    if (checkpoint_size, checkpoint_root) != (size, proof_root):
        raise SignatureRejected("checkpoint states another tree than the inclusion proof")
    return ProvenEntry(
        body=body,
        kind=member(kind_version, "kind", str, where),
        version=member(kind_version, "version", str, where),
        log_id=log_id.hex(),
        log_index=log_number(raw.get("logIndex"), f"{where} logIndex"),
    )


def leaf_hash(body: bytes) -> bytes:
    """RFC 6962 §2.1 leaf hash."""
    return hashlib.sha256(b"\x00" + body).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 §2.1 interior node hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_proof(leaf: bytes, index: int, size: int, hashes: list[bytes]) -> bytes:
    """The root an audit path implies (RFC 9162 §2.1.3.2), or SignatureRejected."""
    fn, sn, node = index, size - 1, leaf
    for sibling in hashes:
        if sn == 0:
            raise SignatureRejected("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = node_hash(node, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise SignatureRejected("inclusion proof is shorter than the tree is deep")
    return node


def verify_checkpoint(text: str, log_id: bytes, log_key: LogKey) -> tuple[int, bytes]:
    """(tree size, root hash) of a checkpoint signed by ``log_key`` (hint: ``log_id[:4]``)."""
    if len(text) > MAX_CHECKPOINT_BYTES:
        raise SignatureRejected("checkpoint is too large")
    note, separator, signatures = text.partition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise SignatureRejected("checkpoint is not a signed note")
    note += "\n"  # the signed text ends with the note's last newline
    lines = note.split("\n")[:-1]
    if len(lines) < 3 or not lines[0]:
        raise SignatureRejected("checkpoint lacks an origin, a tree size or a root hash")
    if not lines[1].isdigit():
        raise SignatureRejected("checkpoint tree size is not a number")
    root_hash = b64decode(lines[2], "checkpoint root hash", 64)
    signature_lines = signatures[:-1].split("\n")
    if len(signature_lines) > MAX_CHECKPOINT_SIGNATURES:
        raise SignatureRejected("checkpoint has too many signatures")
    for line in signature_lines:
        match = _SIGNATURE_LINE.fullmatch(line)
        if match is None:
            raise SignatureRejected("checkpoint has a malformed signature line")
        signed = b64decode(match.group(2), "checkpoint signature", 1024)
        if len(signed) > 4 and signed[:4] == log_id[:4]:
            if log_key.key.verify(signed[4:], note.encode()):
                return int(lines[1]), root_hash
            raise SignatureRejected(
                f"checkpoint signature does not verify with log key {log_id.hex()[:16]}"
            )
    raise SignatureRejected(f"checkpoint is not signed by log {log_id.hex()[:16]}")


def _log_key(root: TrustedRoot, log_id: str, at: datetime | None) -> LogKey:
    if at is not None:
        return root.rekor_key(log_id, at)
    for candidate in root.rekor:
        if candidate.log_id == log_id:
            if candidate.validity.end is not None:
                raise SignatureRejected(
                    f"Rekor key {log_id[:16]} has retired; without a verified timestamp its"
                    " checkpoints cannot be dated"
                )
            return candidate
    raise SignatureRejected(f"Rekor {log_id[:16]} is not in the trusted root")
