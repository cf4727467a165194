"""Current Sigstore output through gatekeeper: Rekor v2 key-signed bundles and timestamp-only
keyless bundles (GitHub's instance style), under a trusted root with a Rekor v2 shard and a TSA.

The log, TSA and Fulcio CA are private ones made here (tests/helpers/rekor_v2.py, tsa.py,
fake_sigstore.py); the bundles are attached as cosign v3 referrers in the real registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tests.helpers import cosign_sign, images, rekor_v2, signing
from tests.helpers.fake_sigstore import FakeSigstore
from tests.helpers.processes import Process, start_gatekeeper
from tests.helpers.tsa import Tsa, make_tsa

SIGSTORE = FakeSigstore()
LOG = rekor_v2.FakeRekorV2()
TSA = make_tsa("gatekeeper integration TSA")
KEY = ec.generate_private_key(ec.SECP256R1())
ISSUER = "https://token.actions.githubusercontent.com"
WORKFLOW = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Process]:
    work = tmp_path_factory.mktemp("rekor2")
    root = rekor_v2.with_logs_and_tsas(SIGSTORE.trusted_root(), [LOG], [TSA])
    (work / "trusted_root.json").write_bytes(root)
    (work / "cosign.pub").write_bytes(cosign_sign.public_key_pem(KEY))
    path = work / "policy.yaml"
    path.write_text(
        "rules:\n"
        "  - name: keyed-rekor-v2\n"
        '    repositories: ["acme/keyed-*"]\n'
        "    signatures:\n"
        "      keys: [cosign.pub]\n"
        "      transparency_log: required\n"
        "      timestamps: required\n"
        "      trusted_root: trusted_root.json\n"
        "  - name: keyless-timestamped\n"
        '    repositories: ["acme/keyless-*"]\n'
        "    signatures:\n"
        "      keyless:\n"
        f"        - {{issuer: {ISSUER}, subject: '{WORKFLOW}'}}\n"
        "      timestamps: required\n"
        "      trusted_root: trusted_root.json\n"
    )
    process = start_gatekeeper(work, registry.url, path)
    yield process
    process.stop()


def _keyed_bundle(digest: str, **entry_options: object) -> bytes:
    statement = cosign_sign.sign_statement(digest)
    pae = cosign_sign.dsse_pae(cosign_sign.IN_TOTO, statement)
    signature = cosign_sign.sign(KEY, pae)
    body = rekor_v2.hashedrekord_v2_body(pae, signature, rekor_v2.key_verifier(KEY))
    return rekor_v2.bundle(
        statement,
        signature,
        material={"publicKey": {"hint": ""}},
        tlog_entries=[LOG.entry(body, **entry_options)],  # type: ignore[arg-type]
        timestamps=[rekor_v2.timestamp_response(TSA, signature)],
    )


def _keyless_bundle(digest: str, tsa: Tsa) -> bytes:
    leaf = SIGSTORE.issue(
        san=x509.UniformResourceIdentifier(WORKFLOW),
        issuer=ISSUER,
        not_before=datetime.now(UTC) - timedelta(minutes=1),
        with_sct=True,
    )
    statement = cosign_sign.sign_statement(digest)
    pae = cosign_sign.dsse_pae(cosign_sign.IN_TOTO, statement)
    signature = leaf.key.sign(pae, ec.ECDSA(hashes.SHA256()))
    return rekor_v2.bundle(
        statement,
        signature,
        material={"certificate": rekor_v2.cert_verifier(leaf.cert)["x509Certificate"]},
        tlog_entries=[],
        timestamps=[rekor_v2.timestamp_response(tsa, signature)],
    )


def _push(tmp_path: Path, registry: Process, repo: str, make: object) -> None:
    img = images.image(repo)
    images.push_image(tmp_path, img, f"{registry.host}/{repo}:1.0.0")
    bundle = make(img.digest)  # type: ignore[operator]
    signing.push_bundle_referrer(
        registry.url, repo, img.digest, len(img.manifest.data), images.OCI_MANIFEST, bundle
    )


def _inspect(gate: Process, ref: str) -> tuple[int, str]:
    result = images.skopeo(
        "inspect", "--raw", "--tls-verify=false", f"docker://{gate.host}/{ref}", check=False
    )
    return result.returncode, result.stderr


@pytest.mark.parametrize(
    ("repo", "make", "refusal"),
    [
        ("acme/keyed-good", _keyed_bundle, None),
        (
            "acme/keyed-bad-checkpoint",
            lambda d: _keyed_bundle(d, checkpoint_signer=ed25519.Ed25519PrivateKey.generate()),
            "checkpoint signature does not verify",
        ),
        (
            "acme/keyed-other-leaf",
            lambda d: _keyed_bundle(d, proven_body=b"{}"),
            "does not hash to its root",
        ),
        ("acme/keyless-good", lambda d: _keyless_bundle(d, TSA), None),
        (
            "acme/keyless-rogue-tsa",
            lambda d: _keyless_bundle(d, make_tsa("rogue TSA")),
            "signed timestamp does not verify",
        ),
    ],
)
def test_current_sigstore_bundles_through_the_gate(
    tmp_path: Path, registry: Process, gate: Process, repo: str, make: object, refusal: str | None
) -> None:
    _push(tmp_path, registry, repo, make)
    code, err = _inspect(gate, f"{repo}:1.0.0")
    if refusal is None:
        assert code == 0, err
    else:
        assert code != 0
        assert refusal in err, err
