"""RegistryArtifacts: which referrers and layers are fetched for signatures vs attestations."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric import ec

from gatekeeper.gatherers.artifacts import ArtifactKind, RegistryArtifacts
from gatekeeper.oci.digest import tag_fallback
from gatekeeper.trust.verify import BundleSignature, LegacySignature
from gatekeeper.upstream.client import Upstream
from tests.helpers import attest, cosign_sign
from tests.helpers.images import OCI_INDEX, OCI_MANIFEST
from tests.unit.gatherers.conftest import FakeRegistry
from tests.unit.scans.conftest import subject

SIGNATURES = ArtifactKind(
    ".sig", cosign_sign.SIMPLE_SIGNING, cosign_sign.SIGN_PREDICATE, 1024, 4096
)
EMPTY = "application/vnd.oci.empty.v1+json"
ATTESTATIONS = ArtifactKind(".att", attest.DSSE, attest.VULN, 1 << 20, 1 << 20)


def attach(registry: FakeRegistry, repo: str, digest: str, bundles: dict[str, bytes]) -> None:
    """Bundle referrers by predicate type, listed in the referrers tag fallback index."""
    entries = []
    for predicate, bundle in bundles.items():
        blob = cosign_sign.sha256_digest(bundle)
        registry.put_blobs({blob: bundle})
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": cosign_sign.BUNDLE_V03,
                "config": {
                    "mediaType": EMPTY,
                    "digest": cosign_sign.sha256_digest(b"{}"),
                    "size": 2,
                },
                "layers": [
                    {"mediaType": cosign_sign.BUNDLE_V03, "digest": blob, "size": len(bundle)}
                ],
            }
        ).encode()
        referrer = registry.put_manifest(repo, "unused-" + predicate[-8:], manifest, OCI_MANIFEST)
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": referrer,
                "size": len(manifest),
                "artifactType": cosign_sign.BUNDLE_V03,
                "annotations": {"dev.sigstore.bundle.predicateType": predicate},
            }
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    registry.put_manifest(repo, tag_fallback(digest), index.encode(), OCI_INDEX)


async def test_each_kind_fetches_only_bundles_of_its_predicate(
    registry: FakeRegistry, upstream: Upstream
) -> None:
    image = subject(label="referrers")
    attach(
        registry,
        image.repository,
        image.digest,
        {cosign_sign.SIGN_PREDICATE: b'{"sign":1}', attest.VULN: b'{"vuln":1}'},
    )
    artifacts = RegistryArtifacts(upstream, max_candidates=8)
    signatures = await artifacts.discover(image, SIGNATURES)
    attestations = await artifacts.discover(image, ATTESTATIONS)
    assert [c.bundle for c in signatures.candidates if isinstance(c, BundleSignature)] == [
        b'{"sign":1}'
    ]
    assert [c.bundle for c in attestations.candidates if isinstance(c, BundleSignature)] == [
        b'{"vuln":1}'
    ]
    assert attestations.looked_at == (f"tag {tag_fallback(image.digest)}.att", "referrers")
    assert signatures.problems == attestations.problems == ()


async def test_tag_layers_of_another_media_type_are_skipped_and_fetch_errors_are_problems(
    registry: FakeRegistry, upstream: Upstream
) -> None:
    image = subject(label="layers")
    statement = attest.vuln_statement(
        image.digest, "r", attest.vuln_predicate({"SchemaVersion": 2}, finished=None)
    )
    dsse = attest.keyed_layer(statement, ec.generate_private_key(ec.SECP256R1()))
    art = attest.attestation_manifest([dsse])
    manifest = json.loads(art.manifest)
    manifest["layers"].append(dict(manifest["layers"][0], mediaType="text/plain"))
    registry.put_manifest(
        image.repository,
        attest.attestation_tag(image.digest),
        json.dumps(manifest).encode(),
        OCI_MANIFEST,
    )  # blobs not pushed: the fetch fails
    found = await RegistryArtifacts(upstream, max_candidates=8).discover(image, ATTESTATIONS)
    assert found.candidates == ()
    assert found.problems == (f"blob {dsse.digest} not found in {image.repository}",)
    registry.put_blobs(art.blobs)
    found = await RegistryArtifacts(upstream, max_candidates=8).discover(image, ATTESTATIONS)
    assert [type(c) for c in found.candidates] == [LegacySignature]
