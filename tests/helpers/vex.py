"""OpenVEX v0.2.0 documents and their in-toto statements, shaped as vexctl writes them."""

from __future__ import annotations

from typing import Any

from tests.helpers.cosign_sign import go_json

OPENVEX = "https://openvex.dev/ns"  # go-vex TypeURI: the statement's predicateType
OPENVEX_V020 = "https://openvex.dev/ns/v0.2.0"  # go-vex Context: @context, vexctl's annotation


def statement(
    vulnerability: str,
    status: str,
    product_digest: str,
    *,
    timestamp: str = "2026-11-01T10:00:00Z",
    justification: str | None = "vulnerable_code_not_in_execute_path",
    subcomponents: list[str] | None = None,
) -> dict[str, Any]:
    algorithm, _, hex_digest = product_digest.partition(":")
    product: dict[str, Any] = {
        "@id": f"pkg:oci/app@{algorithm}%3A{hex_digest}",
        "hashes": {"sha-256": hex_digest},
    }
    if subcomponents:
        product["subcomponents"] = [{"@id": purl} for purl in subcomponents]
    item: dict[str, Any] = {
        "vulnerability": {"name": vulnerability},
        "timestamp": timestamp,
        "products": [product],
        "status": status,
    }
    if status == "not_affected" and justification:
        item["justification"] = justification
    return item


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": OPENVEX_V020,
        "@id": "https://openvex.dev/docs/public/vex-test",
        "author": "Acme Security",
        "timestamp": "2026-11-01T10:00:00Z",
        "version": 1,
        "statements": list(statements),
    }


def vex_statement(image_digest: str, doc: dict[str, Any], predicate_type: str = OPENVEX) -> bytes:
    """The in-toto statement ``vexctl attest`` signs: subject = the image, predicate = doc."""
    algorithm, _, hex_digest = image_digest.partition(":")
    return go_json(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": predicate_type,
            "subject": [{"name": "app", "digest": {algorithm: hex_digest}}],
            "predicate": doc,
        }
    )
