"""Keyless (Fulcio certificate + Rekor) signatures end to end through gatekeeper.

The Sigstore instance is a private one made in the test (tests/helpers/fake_sigstore.py: a
Fulcio-profile CA, CT log and Rekor keys); gatekeeper trusts it through a trusted_root.json,
exactly as an operator running a private Sigstore would configure it. Verification of the
bundles goes through sigstore-python.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tests.helpers import cosign_sign, images, signing
from tests.helpers.fake_sigstore import FakeSigstore
from tests.helpers.processes import Process, start_gatekeeper

SIGSTORE = FakeSigstore()
ISSUER = "https://token.actions.githubusercontent.com"
WORKFLOW = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0"


def policy(work: Path, subject_regex: str) -> Path:
    (work / "trusted_root.json").write_bytes(SIGSTORE.trusted_root())
    path = work / "policy.yaml"
    path.write_text(
        "rules:\n"
        "  - name: acme-keyless\n"
        '    repositories: ["acme/**"]\n'
        "    signatures:\n"
        "      keyless:\n"
        f"        - issuer: {ISSUER}\n"
        f"          subject_regex: '{subject_regex}'\n"
        "      transparency_log: required\n"
        "      trusted_root: trusted_root.json\n"
    )
    return path


@pytest.fixture(scope="module")
def gates(
    tmp_path_factory: pytest.TempPathFactory, registry: Process
) -> Iterator[tuple[Process, Process]]:
    acme = tmp_path_factory.mktemp("acme")
    other = tmp_path_factory.mktemp("other")
    trusting = start_gatekeeper(acme, registry.url, policy(acme, r"^https://github\.com/acme/.+"))
    strict = start_gatekeeper(
        other, registry.url, policy(other, r"^https://github\.com/other-org/.+")
    )
    yield trusting, strict
    trusting.stop()
    strict.stop()


def inspect(gate: Process, ref: str) -> tuple[int, str]:
    result = images.skopeo(
        "inspect", "--raw", "--tls-verify=false", f"docker://{gate.host}/{ref}", check=False
    )
    return result.returncode, result.stderr


def test_keyless_bundle_referrer(
    tmp_path: Path, registry: Process, gates: tuple[Process, Process]
) -> None:
    trusting, strict = gates
    img = images.image("keyless-bundle")
    images.push_image(tmp_path, img, f"{registry.host}/acme/bundled:1.0.0")
    cert = SIGSTORE.issue(san=x509.UniformResourceIdentifier(WORKFLOW), issuer=ISSUER)
    bundle = SIGSTORE.keyless_bundle(cert, cosign_sign.sign_statement(img.digest))
    signing.push_bundle_referrer(
        registry.url,
        "acme/bundled",
        img.digest,
        len(img.manifest.data),
        images.OCI_MANIFEST,
        bundle,
    )
    code, err = inspect(trusting, "acme/bundled:1.0.0")
    assert code == 0, err
    code, err = inspect(strict, "acme/bundled:1.0.0")
    assert code != 0
    assert "does not match" in err
    assert WORKFLOW in err


def test_keyless_legacy_signature_with_rekor_set(
    tmp_path: Path, registry: Process, gates: tuple[Process, Process]
) -> None:
    trusting, strict = gates
    img = images.image("keyless-legacy")
    images.push_image(tmp_path, img, f"{registry.host}/acme/legacy:1.0.0")
    cert = SIGSTORE.issue(san=x509.UniformResourceIdentifier(WORKFLOW), issuer=ISSUER)
    payload = cosign_sign.simple_signing_payload(img.digest, f"{registry.host}/acme/legacy")
    layer = cosign_sign.SignatureLayer(payload, SIGSTORE.legacy_annotations(cert, payload))
    signing.push_signature(
        registry.url, "acme/legacy", img.digest, cosign_sign.signature_manifest([layer])
    )
    code, err = inspect(trusting, "acme/legacy:1.0.0")
    assert code == 0, err
    code, err = inspect(strict, "acme/legacy:1.0.0")
    assert code != 0
    assert "does not match" in err


def test_keyless_signature_from_an_untrusted_ca_is_refused(
    tmp_path: Path, registry: Process, gates: tuple[Process, Process]
) -> None:
    trusting, _ = gates
    rogue = FakeSigstore()
    img = images.image("keyless-rogue")
    images.push_image(tmp_path, img, f"{registry.host}/acme/rogue:1.0.0")
    cert = rogue.issue(san=x509.UniformResourceIdentifier(WORKFLOW), issuer=ISSUER)
    bundle = rogue.keyless_bundle(cert, cosign_sign.sign_statement(img.digest))
    signing.push_bundle_referrer(
        registry.url, "acme/rogue", img.digest, len(img.manifest.data), images.OCI_MANIFEST, bundle
    )
    code, err = inspect(trusting, "acme/rogue:1.0.0")
    assert code != 0
    assert "gatekeeper: acme-keyless:" in err
