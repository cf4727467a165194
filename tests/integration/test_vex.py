"""Signed OpenVEX through a real gatekeeper in front of a real registry.

Each image is signed and carries a signed vulnerability attestation with a real Trivy report
(CRITICAL CVE-2019-12900 in libbz2, HIGH CVE-2020-28196 in krb5-libs); an OpenVEX
attestation beside it, in the same ``.att`` artifact as vexctl/cosign append it, answers
some of them. VEX must answer exactly the named CVE for exactly the named image digest.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import attest, cosign_sign, images, signing, trivy_reports, vex
from tests.helpers.processes import Process, start_gatekeeper
from tests.helpers.trivy_reports import MANY

TRUSTED = ec.generate_private_key(ec.SECP256R1())
STRANGER = ec.generate_private_key(ec.SECP256R1())
ACCEPT = {"Accept": f"{images.OCI_MANIFEST}, {images.OCI_INDEX}"}

POLICY = """
rules:
  - name: vex-critical
    repositories: ["critical/**"]
    signatures: {keys: ["cosign.pub"]}
    scan:
      deny_severities: [CRITICAL]
      vex: {signers: {keys: ["cosign.pub"]}}
  - name: vex-high
    repositories: ["high/**"]
    signatures: {keys: ["cosign.pub"]}
    scan:
      deny_severities: [CRITICAL, HIGH]
      vex: {signers: {keys: ["cosign.pub"]}}
  - name: no-vex
    repositories: ["novex/**"]
    signatures: {keys: ["cosign.pub"]}
    scan:
      deny_severities: [CRITICAL]
"""


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("vex-gate")
    (work / "cosign.pub").write_bytes(cosign_sign.public_key_pem(TRUSTED))
    policy = work / "policy.yaml"
    policy.write_text(POLICY)
    process = start_gatekeeper(work, registry.url, policy)
    yield process
    process.stop()


def publish(
    tmp_path: Path,
    registry: Process,
    repo: str,
    statements: list[dict[str, Any]] | None,
    *,
    vex_key: ec.EllipticCurvePrivateKey = TRUSTED,
    product: str | None = None,
) -> images.Image:
    """A signed image with a vuln attestation and (unless None) a VEX attestation."""
    img = images.image(f"vex {repo} {time.monotonic_ns()}")
    images.push_image(tmp_path, img, f"{registry.host}/{repo}:1.0.0")
    signing.sign_and_push(registry.url, registry.host, repo, img.digest, TRUSTED)
    report: dict[str, Any] = json.loads(MANY.read_bytes())
    predicate = attest.vuln_predicate(report, finished=datetime.now(UTC))
    statement = attest.vuln_statement(img.digest, f"{registry.host}/{repo}", predicate)
    layers = [attest.keyed_layer(statement, TRUSTED)]
    if statements is not None:
        doc = vex.document(
            *(
                {**item, "products": vex.statement("x", "fixed", product or img.digest)["products"]}
                for item in statements
            )
        )
        layers.append(
            attest.keyed_layer(
                vex.vex_statement(img.digest, doc),
                vex_key,
                predicate_type=vex.OPENVEX_V020,  # vexctl's layer annotation
            )
        )
    attest.push_attestations(registry.url, repo, img.digest, attest.attestation_manifest(layers))
    return img


def pull(gate: Process, repo: str) -> requests.Response:
    return requests.get(f"{gate.url}/v2/{repo}/manifests/1.0.0", headers=ACCEPT, timeout=30)


def refusal(response: requests.Response) -> str:
    assert response.status_code == 403, response.text
    return json.dumps(response.json()["errors"][0], ensure_ascii=False)


NOT_AFFECTED = vex.statement("CVE-2019-12900", "not_affected", "sha256:" + "0" * 64)


def test_not_affected_from_a_trusted_signer_admits(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    img = publish(tmp_path, registry, "critical/answered", [NOT_AFFECTED])
    response = pull(gate, "critical/answered")
    assert response.status_code == 200, response.text
    logged = [
        json.loads(line)
        for line in gate.log().splitlines()
        if line.startswith("{") and '"critical/answered"' in line
    ]
    (entry,) = [item for item in logged if item.get("digest") == img.digest]
    assert entry["outcome"] == "allow"
    att = img.digest.replace(":", "-") + ".att"
    assert (
        "CVE-2019-12900 in libbz2 answered by VEX not_affected"
        f" (vulnerable_code_not_in_execute_path) from tag {att} statement 0, signed by key"
    ) in " ".join(entry["reasons"])


def test_vex_answers_exactly_the_named_cve(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    publish(tmp_path, registry, "high/answered", [NOT_AFFECTED])
    text = refusal(pull(gate, "high/answered"))
    assert "blocking vulnerabilities: CVE-2020-28196 in krb5-libs" in text
    assert "CVE-2019-12900 in libbz2 answered by VEX not_affected" in text


def test_vex_about_another_image_answers_nothing(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    publish(tmp_path, registry, "critical/other", [NOT_AFFECTED], product="sha256:" + "e" * 64)
    assert "CVE-2019-12900 in libbz2" in refusal(pull(gate, "critical/other"))


def test_under_investigation_answers_nothing(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    pending = vex.statement("CVE-2019-12900", "under_investigation", "sha256:" + "0" * 64)
    publish(tmp_path, registry, "critical/pending", [pending])
    assert "CVE-2019-12900 in libbz2" in refusal(pull(gate, "critical/pending"))


def test_vex_from_an_untrusted_signer_answers_nothing(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    publish(tmp_path, registry, "critical/stranger", [NOT_AFFECTED], vex_key=STRANGER)
    text = refusal(pull(gate, "critical/stranger"))
    assert "CVE-2019-12900 in libbz2" in text


def test_a_rule_without_scan_vex_ignores_vex(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    publish(tmp_path, registry, "novex/app", [NOT_AFFECTED])
    assert "CVE-2019-12900 in libbz2" in refusal(pull(gate, "novex/app"))


def test_verdicts_show_names_the_statement_that_answered(
    tmp_path: Path, registry: Process, gate: Process
) -> None:
    repo = "critical/shown"
    img = publish(tmp_path, registry, repo, [NOT_AFFECTED])
    reports = tmp_path / "reports"
    reports.mkdir()
    trivy_reports.publish(reports, MANY, img.digest)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    (tmp_path / "cosign.pub").write_bytes(cosign_sign.public_key_pem(TRUSTED))
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "gatekeeper",
            "verdicts",
            "show",
            f"{repo}:1.0.0",
            "--verdicts",
            str(reports),
            "--upstream",
            registry.url,
            "--policy",
            str(policy),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "PASSES" in shown.stdout
    att = img.digest.replace(":", "-") + ".att"
    assert (
        "CVE-2019-12900 in libbz2 answered by VEX not_affected"
        f" (vulnerable_code_not_in_execute_path) from tag {att} statement 0, signed by key"
    ) in shown.stdout
