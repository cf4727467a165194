"""Cold and warm admission latency of Notation-signed images, beside cosign's, in one run.

One registry and one gatekeeper; per kind a fresh set of images, each pulled by digest once
(cold: referrers read, envelope fetched and verified) and then the first one pulled again
and again (warm: the verdict cached). Kinds: cosign (legacy ``.sig``, P-256 key), Notation
JWS and COSE (ES256 leaf under a test root), and Notation JWS with an RFC 3161 timestamp
(OpenSSL TSA) under a policy with ``tsa_trust_store``. Sequential requests on one
connection, so these are latencies, not throughput. Also the in-process verification cost
alone (parse + verify of one envelope, no I/O), to separate crypto from registry round trips.

Usage: ``.venv/bin/python bench/notation.py [--quick]``; results in
``bench/results/notation.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gatekeeper.policy.notation import NotationPolicy, parse_identity  # noqa: E402
from gatekeeper.trust.notation.envelope import parse_envelope  # noqa: E402
from gatekeeper.trust.notation.store import notation_trust  # noqa: E402
from gatekeeper.trust.notation.verify import Target, verify_envelope  # noqa: E402
from tests.helpers import images, signing, tsa  # noqa: E402
from tests.helpers import notation_sign as ns  # noqa: E402
from tests.helpers.processes import Process, start_gatekeeper, start_registry  # noqa: E402

COSIGN_KEY = ec.generate_private_key(ec.SECP256R1())
CA = ns.make_ca()
SIGNER = ns.make_signer(CA)
TSA = tsa.make_tsa()
IDENTITY = "x509.subject: C=US, ST=WA, O=Acme, CN=release"
KINDS = ("cosign", "notation_jws", "notation_cose", "notation_jws_tsa")


def _write_policy(work: Path) -> Path:
    (work / "cosign.pub").write_bytes(
        COSIGN_KEY.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    ns.write_pem(work / "ca.pem", CA.chain[0])
    ns.write_pem(work / "tsa.pem", TSA.root)
    notation = f"trust_store: ca.pem, trusted_identities: ['{IDENTITY}']"
    policy = work / "policy.yaml"
    policy.write_text(
        "rules:\n"
        "  - {name: cosign, repositories: ['bench/cosign*'], signatures: {keys: [cosign.pub]}}\n"
        f"  - {{name: tsa, repositories: ['bench/notation_jws_tsa*'],"
        f" signatures: {{notation: {{{notation}, tsa_trust_store: tsa.pem}}}}}}\n"
        f"  - {{name: notation, repositories: ['bench/notation*'],"
        f" signatures: {{notation: {{{notation}}}}}}}\n"
        "  - {name: all, repositories: ['**']}\n"
    )
    return policy


def _sign(registry: Process, kind: str, repo: str, img: images.Image) -> None:
    if kind == "cosign":
        signing.sign_and_push(registry.url, registry.host, repo, img.digest, COSIGN_KEY)
        return
    envelope_type = ns.COSE if kind == "notation_cose" else ns.JWS
    stamper = (lambda sig: tsa.stamp(TSA, sig)) if kind.endswith("_tsa") else None
    descriptor = ns.descriptor(img.manifest.data)
    envelope = ns.sign(SIGNER, descriptor, envelope=envelope_type, timestamper=stamper)
    ns.push_notation_signature(registry.url, repo, descriptor, envelope, envelope_type, SIGNER)


def _quantiles(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": statistics.median(samples),
        "p99_ms": statistics.quantiles(samples, n=100)[98] if len(samples) > 1 else samples[0],
    }


def admission(
    work: Path, registry: Process, gate: Process, count: int, warm_n: int
) -> dict[str, object]:
    session = requests.Session()
    accept = {"Accept": images.OCI_MANIFEST}
    results: dict[str, object] = {}
    for kind in KINDS:
        urls = []
        for i in range(count):
            repo = f"bench/{kind}{i}"
            img = images.image(f"{kind}-{i}")
            images.push_image(work, img, f"{registry.host}/{repo}:1.0.0")
            _sign(registry, kind, repo, img)
            urls.append(f"{gate.url}/v2/{repo}/manifests/{img.digest}")
        cold = []
        for url in urls:
            t0 = time.perf_counter()
            response = session.get(url, headers=accept, timeout=30)
            cold.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.text
        warm = []
        for _ in range(warm_n):
            t0 = time.perf_counter()
            session.get(urls[0], headers=accept, timeout=30).raise_for_status()
            warm.append((time.perf_counter() - t0) * 1000)
        results[kind] = {
            "cold": _quantiles(cold),
            "warm": _quantiles(warm),
            "cold_samples": len(cold),
        }
    return results


def verify_cost(iterations: int) -> dict[str, object]:
    """Parse + verify one envelope in process (no I/O): median and p99 in ms."""
    manifest = images.image("verify-cost").manifest.data
    target = Target(ns.sha256(manifest), len(manifest), images.OCI_MANIFEST)
    trust = notation_trust(CA.chain, (), (TSA.root,))
    plain = NotationPolicy(trusted_identities=(parse_identity(IDENTITY),))
    with_tsa = NotationPolicy(
        trusted_identities=plain.trusted_identities, tsa_trust_store=(Path("tsa.pem"),)
    )
    cases = {
        "jws": (ns.JWS, ns.sign(SIGNER, ns.descriptor(manifest)), plain),
        "cose": (ns.COSE, ns.sign(SIGNER, ns.descriptor(manifest), envelope=ns.COSE), plain),
        "jws_tsa": (
            ns.JWS,
            ns.sign(SIGNER, ns.descriptor(manifest), timestamper=lambda s: tsa.stamp(TSA, s)),
            with_tsa,
        ),
    }
    out: dict[str, object] = {}
    for name, (media_type, data, policy) in cases.items():
        samples = []
        for _ in range(iterations):
            t0 = time.perf_counter()
            envelope = parse_envelope(media_type, data, 4)
            verify_envelope(envelope, target, policy, trust, datetime.now(UTC))
            samples.append((time.perf_counter() - t0) * 1000)
        out[name] = _quantiles(samples)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="few images (smoke test)")
    parser.add_argument("--images", type=int, default=30, help="cold samples per kind")
    args = parser.parse_args()
    count = 4 if args.quick else args.images
    warm_n = 50 if args.quick else 300
    work = Path(tempfile.mkdtemp(prefix="gatekeeper-bench-notation-"))
    policy = _write_policy(work)
    registry = start_registry(work / "registry")
    gate = start_gatekeeper(
        work, registry.url, policy, "--decision-log", str(work / "decisions.log")
    )
    try:
        results = {
            "admission": admission(work, registry, gate, count, warm_n),
            "verify_in_process": verify_cost(40 if args.quick else 300),
        }
    finally:
        gate.stop()
        registry.stop()
    print(f"{'admission (ms)':<20} {'cold p50':>9} {'cold p99':>9} {'warm p50':>9} {'warm p99':>9}")
    admitted = results["admission"]
    assert isinstance(admitted, dict)
    for kind in KINDS:
        row = admitted[kind]
        print(
            f"{kind:<20} {row['cold']['p50_ms']:>9.2f} {row['cold']['p99_ms']:>9.2f}"
            f" {row['warm']['p50_ms']:>9.2f} {row['warm']['p99_ms']:>9.2f}"
        )
    print(f"\n{'verify only (ms)':<20} {'p50':>9} {'p99':>9}")
    verified = results["verify_in_process"]
    assert isinstance(verified, dict)
    for name, row in verified.items():
        print(f"{name:<20} {row['p50_ms']:>9.3f} {row['p99_ms']:>9.3f}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "notation.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
