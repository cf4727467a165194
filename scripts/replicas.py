"""Scale-out, shown: gatekeeper replicas sharing one Redis serve each other's decisions warm.

    python scripts/replicas.py [--replicas 3] [--keep]      (or: make replicas)

Starts a CNCF distribution registry, a redis-server and N gatekeeper processes on different
ports (all `--redis` to the same Redis), pushes a two-platform image index signed with a
cosign-format key, then pulls it the way a container engine does, spread over the replicas:
replica 1 the index by tag (it verifies the signature and decides), replica 2 the platform
manifests by digest (children of an admitted index inherit its signature), replica 3 the
config and layer blobs (opened by the admitted manifests). Each replica's /metrics shows who
verified what; a fresh replica without the shared Redis refuses the same child, for contrast.
Exit 0 when every replica behaved as described, 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from tests.helpers import images, signing  # noqa: E402
from tests.helpers.processes import Process, free_port, start_gatekeeper, start_registry  # noqa: E402
from tests.helpers.redis_server import RedisServer  # noqa: E402

REPOSITORY = "demo/app"
POLICY = """\
rules:
  - name: signed
    repositories: ["demo/**"]
    signatures:
      keys: ["cosign.pub"]
  - name: default-deny
    repositories: ["**"]
    action: deny
"""
ACCEPT = {"Accept": f"{images.OCI_INDEX}, {images.OCI_MANIFEST}"}


def metric(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> int:
    want = set(labels.items())
    return int(sum(v for (n, ls), v in samples.items() if n == name and want <= ls))


def get(gate: Process, path: str) -> int:
    return requests.get(
        f"{gate.url}/v2/{REPOSITORY}/{path}", headers=ACCEPT, timeout=30
    ).status_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=3, choices=(2, 3))
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gatekeeper-replicas-"))
    started: list[Process] = []
    redis = RedisServer(free_port(), work)
    try:
        registry = start_registry(work / "registry")
        started.append(registry)
        redis.start()
        platforms = [images.image("replicas-amd64"), images.image("replicas-arm64", arch="arm64")]
        index = images.index(platforms)
        layout = images.write_layout(work / "layout", platforms, index, "t")
        images.push_layout(layout, "t", f"{registry.host}/{REPOSITORY}:1.0.0", all_images=True)
        key = ec.generate_private_key(ec.SECP256R1())
        signing.sign_and_push(registry.url, registry.host, REPOSITORY, index.digest, key)
        (work / "cosign.pub").write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        policy = work / "policy.yaml"
        policy.write_text(POLICY)
        print(f"registry {registry.url}, redis {redis.url}")
        print(f"pushed {REPOSITORY}:1.0.0 = index {index.digest[:19]}… (amd64, arm64), signed")
        gates = []
        for n in range(1, args.replicas + 1):
            gate = start_gatekeeper(
                work / f"replica{n}", registry.url, policy, "--redis", redis.url
            )
            started.append(gate)
            gates.append(gate)
            print(f"replica {n}: {gate.url}")

        plan: list[tuple[int, str]] = [(0, "manifests/1.0.0")]
        children = [f"manifests/{img.digest}" for img in platforms]
        blobs = [f"blobs/{b.digest}" for img in platforms for b in (img.config, *img.layers)]
        if args.replicas == 3:
            plan += [(1, path) for path in children] + [(2, path) for path in blobs]
        else:
            plan += [(1, path) for path in children + blobs]
        print()
        ok = True
        for replica, path in plan:
            status = get(gates[replica], path)
            ok &= status == 200
            kind, _, ref = path.partition("/")
            shown = f"{kind}/{ref[:19]}…" if ref.startswith("sha256:") else path
            print(f"  replica {replica + 1}  GET /v2/{REPOSITORY}/{shown:<30} {status}")

        print()
        head = ("manifests", "blobs", "allowed", "signature", "signatures")
        print(f"  {'':10} {head[0]:>9} {head[1]:>5} {head[2]:>7} {head[3]:>9} {head[4]:>10}")
        print(f"  {'':10} {'served':>9} {'served':>5} {'':>7} {'checks':>9} {'verified':>10}")
        rows = []
        for n, gate in enumerate(gates, 1):
            m = metric(gate.url)
            row = (
                total(m, "gatekeeper_requests_total", kind="manifest", status="200"),
                total(m, "gatekeeper_requests_total", kind="blob", status="200"),
                total(m, "gatekeeper_decisions_total", outcome="allow"),
                total(m, "gatekeeper_evidence_duration_seconds_count", kind="signatures"),
                total(m, "gatekeeper_verification_duration_seconds_count", kind="signatures"),
            )
            rows.append(row)
            print(f"  replica {n:<2} {row[0]:>9} {row[1]:>5} {row[2]:>7} {row[3]:>9} {row[4]:>10}")
        # Replica 1 checked the signature; the others served children and blobs without.
        ok &= rows[0][3] >= 1 and rows[0][4] >= 1
        ok &= all(r[3] == 0 and r[4] == 0 for r in rows[1:])
        ok &= sum(r[0] for r in rows[1:]) == len(children)
        ok &= sum(r[1] for r in rows) == len(blobs)

        lonely = start_gatekeeper(work / "lonely", registry.url, policy)
        started.append(lonely)
        refused = get(lonely, children[0])
        ok &= refused == 403
        print()
        print(f"  a replica without the shared Redis, same child: {refused} (it knows no index)")
        print()
        if ok:
            print(
                f"OK: replica 1 decided the signed index once; replicas 2..{args.replicas} "
                "served its children and blobs warm from that decision in Redis "
                "(no signature fetched or verified there)."
            )
        else:
            print("FAILED: the replicas did not behave as described above")
        if args.keep:
            print(f"work directory kept: {work} (each replica's log in replica*/)")
        return 0 if ok else 1
    finally:
        for process in reversed(started):
            process.stop()
        redis.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
