"""Signed vulnerability attestations through a real gatekeeper in front of a real registry.

Attestations are written as cosign writes them (tests/helpers/attest.py): ``sha256-<hex>.att``
DSSE layers signed with a key, and keyless Sigstore bundles attached as referrers, signed by
a private Sigstore (tests/helpers/fake_sigstore.py) that the policy trusts through a
trusted_root.json. Each scanned rule also has a ``signatures`` section, so every image is
signed too: without that section no attestation could be trusted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import attest, cosign_sign, images, signing
from tests.helpers.fake_sigstore import FakeSigstore
from tests.helpers.processes import Process, start_gatekeeper
from tests.helpers.trivy_reports import ALPINE, DEBIAN

TRUSTED = ec.generate_private_key(ec.SECP256R1())
STRANGER = ec.generate_private_key(ec.SECP256R1())
SIGSTORE = FakeSigstore()
ISSUER = "https://token.actions.githubusercontent.com"
WORKFLOW = "https://github.com/acme/app/.github/workflows/scan.yml@refs/heads/main"
ACCEPT = {"Accept": f"{images.OCI_MANIFEST}, {images.OCI_INDEX}"}

POLICY = r"""
rules:
  - name: attested
    repositories: ["attested/**"]
    scan: {deny_severities: [CRITICAL]}
    signatures:
      keys: ["cosign.pub"]
  - name: attested-keyless
    repositories: ["keyless/**"]
    scan: {deny_severities: [CRITICAL]}
    signatures:
      keyless:
        - issuer: https://token.actions.githubusercontent.com
          subject_regex: '^https://github\.com/acme/.+'
      transparency_log: required
      trusted_root: trusted_root.json
  - name: scan-only
    repositories: ["scanonly/**"]
    scan: {deny_severities: [CRITICAL]}
"""


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("attest-gate")
    (work / "cosign.pub").write_bytes(cosign_sign.public_key_pem(TRUSTED))
    (work / "trusted_root.json").write_bytes(SIGSTORE.trusted_root())
    policy = work / "policy.yaml"
    policy.write_text(POLICY)
    process = start_gatekeeper(work, registry.url, policy)
    yield process
    process.stop()


def seed(tmp_path: Path, registry: Process, repo: str) -> images.Image:
    """Push a fresh image straight to the registry as ``repo:1.0.0``."""
    img = images.image(f"attested {repo} {time.monotonic_ns()}")
    images.push_image(tmp_path, img, f"{registry.host}/{repo}:1.0.0")
    return img


def statement(registry: Process, repo: str, img: images.Image, report: Path) -> bytes:
    """The vuln statement cosign would sign for ``img`` with the real Trivy ``report``."""
    doc: dict[str, Any] = json.loads(report.read_bytes())
    predicate = attest.vuln_predicate(doc, finished=datetime.now(UTC))
    return attest.vuln_statement(img.digest, f"{registry.host}/{repo}", predicate)


def attest_with_key(
    registry: Process, repo: str, img: images.Image, report: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    layer = attest.keyed_layer(statement(registry, repo, img, report), key)
    attest.push_attestations(registry.url, repo, img.digest, attest.attestation_manifest([layer]))


def pull(gate: Process, repo: str) -> requests.Response:
    return requests.get(f"{gate.url}/v2/{repo}/manifests/1.0.0", headers=ACCEPT, timeout=30)


def refusal(response: requests.Response) -> str:
    assert response.status_code == 403, response.text
    error = response.json()["errors"][0]
    assert error["code"] == "DENIED"
    return json.dumps(error, ensure_ascii=False)


def signed_image(tmp_path: Path, registry: Process, repo: str) -> images.Image:
    img = seed(tmp_path, registry, repo)
    signing.sign_and_push(registry.url, registry.host, repo, img.digest, TRUSTED)
    return img


def test_a_signed_critical_attestation_refuses_naming_the_cve(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = "attested/critical"
    img = signed_image(tmp_path, registry, repo)
    attest_with_key(registry, repo, img, DEBIAN, TRUSTED)
    text = refusal(pull(gate, repo))
    assert "CVE-2019-18224 in libidn2-0 2.0.5-1 → 2.0.5-1+deb10u1 (CRITICAL)" in text
    assert "no signature found" not in text  # the image signature passed; the scan refused


def test_a_signed_medium_only_attestation_allows(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = "attested/medium"
    img = signed_image(tmp_path, registry, repo)
    attest_with_key(registry, repo, img, ALPINE, TRUSTED)
    response = pull(gate, repo)
    assert response.status_code == 200, response.text
    assert response.headers["Docker-Content-Digest"] == img.digest


def test_an_attestation_signed_by_an_untrusted_key_does_not_count(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = "attested/stranger"
    img = signed_image(tmp_path, registry, repo)
    attest_with_key(registry, repo, img, ALPINE, STRANGER)
    text = refusal(pull(gate, repo))
    assert f"no vulnerability verdict for {img.digest}" in text
    assert "signed, but not by a trusted key" in text


def test_a_rule_without_signers_trusts_no_attestation(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = "scanonly/app"
    img = seed(tmp_path, registry, repo)
    attest_with_key(registry, repo, img, ALPINE, TRUSTED)
    text = refusal(pull(gate, repo))
    assert f"no vulnerability verdict for {img.digest}" in text
    assert "the rule has no signatures section" in text


@pytest.mark.parametrize(("report", "refused"), [(DEBIAN, True), (ALPINE, False)])
def test_keyless_attestation_bundle_referrers(
    tmp_path: Path, registry: Process, gate: Process, report: Path, refused: bool
) -> None:
    repo = f"keyless/{report.stem}"
    img = seed(tmp_path, registry, repo)
    cert = SIGSTORE.issue(san=x509.UniformResourceIdentifier(WORKFLOW), issuer=ISSUER)
    size = len(img.manifest.data)
    # The image signature and the attestation: two bundles in one referrers index.
    signature = SIGSTORE.keyless_bundle(cert, cosign_sign.sign_statement(img.digest))
    signing.push_bundle_referrer(
        registry.url, repo, img.digest, size, images.OCI_MANIFEST, signature
    )
    vuln = SIGSTORE.keyless_bundle(cert, statement(registry, repo, img, report))
    attest.push_bundle_referrer(registry.url, repo, img.digest, size, vuln)
    response = pull(gate, repo)
    if refused:
        assert "CVE-2019-18224 in libidn2-0" in refusal(response)
    else:
        assert response.status_code == 200, response.text
