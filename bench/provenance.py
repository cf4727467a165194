"""Cold attestation verification and CEL evaluation, measured in process (p50/p99).

- ``verify+judge real``: the real npm SLSA v1 provenance bundle (tests/assets/provenance),
  keyless, verified offline against the production root (SET, chain, SCT, identity, DSSE,
  entry), then two CEL conditions evaluated: what a cold pull with a provenance requirement
  costs per candidate, registry I/O aside.
- ``verify+judge keyed``: a key-signed bundle with the same conditions.
- ``cel only``: the two conditions over the already verified statement.

Warm decisions do none of this: results are cached per (digest, requirement) like signatures.
Usage: ``.venv/bin/python bench/provenance.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gatekeeper.gatherers.artifacts import Discovery  # noqa: E402
from gatekeeper.gatherers.provenance import judge_requirement, judge_statement  # noqa: E402
from gatekeeper.policy.loader import load_policy  # noqa: E402
from gatekeeper.trust.verify import BundleSignature  # noqa: E402
from tests.helpers import cosign_sign  # noqa: E402
from tests.helpers.provenance import slsa_statement  # noqa: E402

BUNDLE = (ROOT / "tests/assets/provenance/sigstore-3.1.0.sigstore.json").read_bytes()
NPM_DIGEST = (
    "sha512:669cd60051c816ac85139e9d5ea817fc3903459773fab45c8e8224fd1414e085"
    "f4c220afd65f12ed9ad70c770273eb9a7feea8ef0de1da5de0e86606e5328df5"
)
POLICY = """\
rules:
  - name: built
    repositories: ["**"]
    attestations:
      - name: provenance
        predicate_type: https://slsa.dev/provenance/v1
        signers: %s
        conditions:
          - predicate.buildDefinition.externalParameters.workflow.repository == "%s"
          - predicate.runDetails.builder.id.startsWith("https://github.com/actions/runner")
"""


def measure(name: str, runs: int, work: Callable[[], object]) -> None:
    work()  # warm imports and caches of the libraries (not of gatekeeper's results)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"{name:24s} p50 {statistics.median(samples):7.2f} ms   p99 {p99:7.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    key = ec.generate_private_key(ec.SECP256R1())
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "cosign.pub").write_bytes(cosign_sign.public_key_pem(key))
        keyless = (
            "{keyless: [{issuer: 'https://token.actions.githubusercontent.com',"
            " subject_regex: '^https://github\\.com/sigstore/.+'}]}"
        )
        real_policy = Path(work) / "real.yaml"
        real_policy.write_text(
            textwrap.dedent(POLICY % (keyless, "https://github.com/sigstore/sigstore-js"))
        )
        keyed_policy = Path(work) / "keyed.yaml"
        keyed_policy.write_text(
            textwrap.dedent(POLICY % ("{keys: [cosign.pub]}", "https://github.com/acme/app"))
        )
        real = load_policy([real_policy]).rules[0].attestations[0]
        keyed = load_policy([keyed_policy]).rules[0].attestations[0]
    digest = "sha256:" + "ab" * 32
    keyed_bundle = cosign_sign.dsse_bundle(key, slsa_statement(digest, "app"))
    real_found = Discovery((BundleSignature("referrer r", BUNDLE),), (), ())
    keyed_found = Discovery((BundleSignature("referrer k", keyed_bundle),), (), ())
    evidence = judge_requirement(real_found, NPM_DIGEST, real)
    assert evidence.satisfied_by is not None, evidence
    assert judge_requirement(keyed_found, digest, keyed).satisfied_by is not None
    measure("verify+judge real", args.runs, lambda: judge_requirement(real_found, NPM_DIGEST, real))
    measure("verify+judge keyed", args.runs, lambda: judge_requirement(keyed_found, digest, keyed))
    import base64
    import json

    from gatekeeper.trust.attestations import VerifiedStatement

    payload = base64.b64decode(json.loads(BUNDLE)["dsseEnvelope"]["payload"])
    verified = VerifiedStatement("r", "s", json.loads(payload), payload)
    measure("cel only", args.runs, lambda: judge_statement(verified, real.conditions))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
