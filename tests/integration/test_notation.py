"""Notation signatures through gatekeeper against the real registry (referrers tag fallback)."""

from __future__ import annotations

import datetime
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import images, signing
from tests.helpers import notation_sign as ns
from tests.helpers.processes import Process, start_gatekeeper
from tests.helpers.registry_push import push_blob, push_manifest

CA = ns.make_ca()
SIGNER = ns.make_signer(CA)
ACCEPT = ", ".join([images.OCI_MANIFEST, images.OCI_INDEX])
COSIGN = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("notation")
    ns.write_pem(work / "ca.pem", CA.chain[0])
    (work / "cosign.pub").write_bytes(
        COSIGN.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    identity = "'x509.subject: C=US, ST=WA, O=Acme, CN=release'"
    notation = f"{{trust_store: ca.pem, trusted_identities: [{identity}]"
    (work / "policy.yaml").write_text(
        "rules:\n"
        f"  - {{name: notation, repositories: ['nv/**'], signatures: {{notation: {notation}}}}}}}\n"
        f"  - {{name: audit, repositories: ['audit/**'],"
        f" signatures: {{notation: {notation}, level: audit}}}}}}\n"
        f"  - {{name: both, repositories: ['both/**'], signatures: {{keys: [cosign.pub],"
        f" notation: {notation}}}, threshold: 2}}}}\n"
        "  - {name: rest, repositories: ['**']}\n"
    )
    process = start_gatekeeper(work, registry.url, work / "policy.yaml")
    yield process
    process.stop()


def push(registry: Process, repo: str, label: str, tag: str = "1.0.0") -> images.Image:
    img = images.image(label + repo)
    for blob in img.blobs:
        push_blob(registry.url, repo, blob.data)
    push_manifest(
        registry.url, repo, tag, img.manifest.data, images.OCI_MANIFEST
    ).raise_for_status()
    return img


def pull(gate: Process, repo: str, ref: str = "1.0.0") -> requests.Response:
    return requests.get(
        f"{gate.url}/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT}, timeout=30
    )


def attach(
    registry: Process, repo: str, subject: bytes, envelope: bytes, kind: str = ns.JWS
) -> None:
    ns.push_notation_signature(registry.url, repo, ns.descriptor(subject), envelope, kind, SIGNER)


def refusal(response: requests.Response) -> str:
    assert response.status_code == 403, response.text
    return " ".join(json.loads(response.text)["errors"][0]["detail"]["reasons"])


@pytest.mark.parametrize("kind", [ns.JWS, ns.COSE])
def test_signed_image_is_admitted(registry: Process, gate: Process, kind: str) -> None:
    repo = f"nv/signed-{kind.rsplit('/', 1)[1].split('+')[0]}"
    img = push(registry, repo, "signed")
    attach(
        registry,
        repo,
        img.manifest.data,
        ns.sign(SIGNER, ns.descriptor(img.manifest.data), envelope=kind),
        kind,
    )
    response = pull(gate, repo)
    assert response.status_code == 200, response.text
    # The signature artifact itself stays readable for notation and ratify clients.
    fallback = img.digest.replace(":", "-")
    index = pull(gate, repo, fallback)
    assert index.status_code == 200
    sig_digest = index.json()["manifests"][0]["digest"]
    assert pull(gate, repo, sig_digest).status_code == 200


def test_unsigned_image_is_refused(registry: Process, gate: Process) -> None:
    push(registry, "nv/unsigned", "unsigned")
    assert "no signature found" in refusal(pull(gate, "nv/unsigned"))


REFUSED = {
    "untrusted-ca": (
        lambda m: ns.sign(ns.make_signer(ns.make_ca("Evil")), ns.descriptor(m)),
        "does not lead to a certificate in the ca trust store",
    ),
    "wrong-identity": (
        lambda m: ns.sign(ns.make_signer(CA, "nightly"), ns.descriptor(m)),
        "matches no trusted identity",
    ),
    "expired": (
        lambda m: ns.sign(
            SIGNER,
            ns.descriptor(m),
            expiry=datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1),
        ),
        "signature expired",
    ),
    "other-digest": (lambda m: ns.sign(SIGNER, ns.descriptor(m + b" ")), "signature is for"),
    "other-media-type": (
        lambda m: ns.sign(SIGNER, ns.descriptor(m, images.OCI_INDEX)),
        "media type",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_signature_is_refused_with_reason(registry: Process, gate: Process, case: str) -> None:
    make, reason = REFUSED[case]
    repo = f"nv/{case}"
    img = push(registry, repo, case)
    attach(registry, repo, img.manifest.data, make(img.manifest.data))
    assert reason in refusal(pull(gate, repo))


def test_audit_level_warns_and_admits(registry: Process, gate: Process) -> None:
    img = push(registry, "audit/app", "audit")
    attach(
        registry,
        "audit/app",
        img.manifest.data,
        ns.sign(ns.make_signer(CA, "nightly"), ns.descriptor(img.manifest.data)),
    )
    response = pull(gate, "audit/app")
    assert response.status_code == 200
    warning = response.headers.get("Warning", "")
    assert "notation audit" in warning and "matches no trusted identity" in warning
    push(registry, "audit/unsigned", "audit-unsigned")
    response = pull(gate, "audit/unsigned")
    assert response.status_code == 200
    assert "no Notation signature found" in response.headers.get("Warning", "")


def test_threshold_two_needs_cosign_and_notation(registry: Process, gate: Process) -> None:
    img = push(registry, "both/app", "both")
    attach(
        registry, "both/app", img.manifest.data, ns.sign(SIGNER, ns.descriptor(img.manifest.data))
    )
    assert "1 trusted signature of the 2 required" in refusal(pull(gate, "both/app"))
    signing.sign_and_push(registry.url, registry.host, "both/app", img.digest, COSIGN)
    # Negative results are cached briefly (10 s); a fresh digest avoids waiting for it.
    img2 = push(registry, "both/app", "both-2", tag="2.0.0")
    signing.sign_and_push(registry.url, registry.host, "both/app", img2.digest, COSIGN)
    attach(
        registry, "both/app", img2.manifest.data, ns.sign(SIGNER, ns.descriptor(img2.manifest.data))
    )
    assert pull(gate, "both/app", "2.0.0").status_code == 200


def test_signed_index_admits_its_children(registry: Process, gate: Process) -> None:
    repo = "nv/multi"
    children = [images.image("multi-amd64"), images.image("multi-arm64", arch="arm64")]
    for child in children:
        for blob in child.blobs:
            push_blob(registry.url, repo, blob.data)
        push_manifest(
            registry.url, repo, child.digest, child.manifest.data, images.OCI_MANIFEST
        ).raise_for_status()
    top = images.index(children)
    push_manifest(registry.url, repo, "1.0.0", top.data, images.OCI_INDEX).raise_for_status()
    attach(registry, repo, top.data, ns.sign(SIGNER, ns.descriptor(top.data, images.OCI_INDEX)))
    # A child pulled by digest before its index: it has no signature of its own.
    assert "no signature found" in refusal(pull(gate, repo, children[1].digest))
    assert pull(gate, repo).status_code == 200
    for child in children:
        response = pull(gate, repo, child.digest)
        assert response.status_code == 200, response.text
        config = requests.get(f"{gate.url}/v2/{repo}/blobs/{child.config.digest}", timeout=30)
        assert config.status_code == 200


# --- a Notation trustpolicy.json + trust store imported (the specification's example 2)

WABBIT = ns.make_ca("Wabbit Root")
WABBIT_SIGNER = ns.make_signer(
    WABBIT,
    subject=ns.subject("C=US, ST=WA, L=Seattle, O=wabbit-networks.io, OU=Security Tools, CN=ci"),
)
ASSETS = Path(__file__).parents[1] / "assets/notation"


@pytest.fixture(scope="module")
def imported_gate(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("notation-import")
    (work / "notation").mkdir()
    shutil.copy(ASSETS / "trustpolicy.json", work / "notation/trustpolicy.json")
    store = work / "notation/truststore"
    ns.write_trust_store(store, "ca", "wabbit-networks", WABBIT.chain[0])
    ns.write_trust_store(store, "ca", "acme-rockets", CA.chain[0])
    ns.write_trust_store(store, "ca", "acme-rockets-ca2", ns.make_ca("Acme 2").chain[0])
    (work / "policy.yaml").write_text(
        "rules:\n"
        "  - name: notation-users\n"
        "    repositories: ['software/**']\n"
        "    signatures:\n"
        "      notation: {trust_policy: notation/trustpolicy.json,"
        " registry: registry.acme-rockets.io}\n"
        "  - {name: rest, repositories: ['**']}\n"
    )
    process = start_gatekeeper(work, registry.url, work / "policy.yaml")
    yield process
    process.stop()


def test_imported_trust_policy_admits_signed_and_refuses_unsigned(
    registry: Process, imported_gate: Process
) -> None:
    img = push(registry, "software/net-monitor", "wabbit")
    envelope = ns.sign(WABBIT_SIGNER, ns.descriptor(img.manifest.data), envelope=ns.COSE)
    ns.push_notation_signature(
        registry.url, "software/net-monitor", ns.descriptor(img.manifest.data), envelope, ns.COSE
    )
    assert pull(imported_gate, "software/net-monitor").status_code == 200
    push(registry, "software/net-logger", "unsigned-logger")
    assert "no signature found" in refusal(pull(imported_gate, "software/net-logger"))
    # signed by Acme's CA, which the wabbit-networks statement does not trust
    img = push(registry, "software/net-logger", "acme-logger", tag="2.0.0")
    attach(
        registry,
        "software/net-logger",
        img.manifest.data,
        ns.sign(SIGNER, ns.descriptor(img.manifest.data)),
    )
    assert "does not lead to a certificate in the ca trust store" in refusal(
        pull(imported_gate, "software/net-logger", "2.0.0")
    )


def test_imported_global_audit_statement_warns_and_admits(
    registry: Process, imported_gate: Process
) -> None:
    push(registry, "software/other", "other-unsigned")
    response = pull(imported_gate, "software/other")
    assert response.status_code == 200, response.text
    assert "no Notation signature found" in response.headers.get("Warning", "")


def test_imported_override_logs_expiry(registry: Process, imported_gate: Process) -> None:
    img = push(registry, "software/legacy/metrics", "legacy")
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    attach(
        registry,
        "software/legacy/metrics",
        img.manifest.data,
        ns.sign(SIGNER, ns.descriptor(img.manifest.data), expiry=past),
    )
    response = pull(imported_gate, "software/legacy/metrics")
    assert response.status_code == 200, response.text
    assert "signature expired" in response.headers.get("Warning", "")
