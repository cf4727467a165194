"""Run the demo: start a registry and gatekeeper, push images, show what is admitted and why.

Everything runs on loopback in a temporary directory and is stopped at the end; with
``KEEP=1`` (``make demo KEEP=1``) the directory stays, decision logs and policy included.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import images, signing  # noqa: E402
from tests.helpers.processes import Process, start_gatekeeper, start_registry  # noqa: E402
from tests.helpers.trivy_reports import ALPINE, DEBIAN, publish  # noqa: E402

POLICY = r"""
mode: enforce
rules:
  - name: team-apps
    repositories: ["team/**"]
    tags:
      deny: ["latest"]
      allow: ['^v?[0-9]+\.[0-9]+\.[0-9]+$']
    signatures:
      keys: ["cosign.pub"]
    scan:
      deny_severities: [CRITICAL]
      require_verdict: true
    image:
      user: non-root
  - name: official
    repositories: ["library/*"]
    tags:
      deny: ["latest"]
  - name: default-deny
    repositories: ["**"]
    action: deny
"""

BOLD, GREEN, RED, DIM, END = "\033[1m", "\033[32m", "\033[31m", "\033[2m", "\033[0m"


def step(text: str) -> None:
    print(f"\n{BOLD}▶ {text}{END}")


def show(result_ok: bool, command: str, output: str) -> None:
    mark = f"{GREEN}ALLOWED{END}" if result_ok else f"{RED}REFUSED{END}"
    print(f"  {mark}  {DIM}${END} {command}")
    if output.strip():
        print(textwrap.indent(output.strip(), "           "))


def clip(text: str, width: int) -> str:
    """``text`` whole, or cut at a word boundary and marked with an ellipsis."""
    if len(text) <= width:
        return text
    return text[: width - 1].rsplit(" ", 1)[0].rstrip(";,") + " …"


def denied_line(stderr: str) -> str:
    """The part of skopeo's error output that carries gatekeeper's message.

    skopeo logs ``level=fatal msg="…: denied: gatekeeper: …"``: a Go-quoted string, so the
    closing quote goes and escaped quotes are unescaped.
    """
    for line in stderr.splitlines():
        if "gatekeeper:" in line:
            if "denied:" in line:
                line = "…" + line[line.index("denied:") :]
            if 'msg="' in stderr:
                line = line.removesuffix('"').replace('\\"', '"')
            return line
    return stderr.strip().splitlines()[-1] if stderr.strip() else ""


def warning_text(header: str | None) -> str:
    """A ``Warning: 299 - "text"`` header (RFC 7234 5.5) as the text a client shows."""
    if not header:
        return "(no Warning header)"
    code, _, rest = header.partition(" - ")
    text = rest[1:-1].replace('\\"', '"') if rest.startswith('"') and rest.endswith('"') else rest
    return f"Warning {code}: {text}"


def pull(gate: Process, ref: str) -> None:
    result = images.skopeo(
        "inspect", "--raw", "--tls-verify=false", f"docker://{gate.host}/{ref}", check=False
    )
    ok = result.returncode == 0
    out = f"digest {images.sha256(result.stdout.encode())}" if ok else denied_line(result.stderr)
    show(ok, f"skopeo inspect docker://{gate.host}/{ref}", out)


def push(work: Path, gate: Process, img: images.Image, ref: str) -> None:
    result = images.push_image(work, img, f"{gate.host}/{ref}", check=False)
    ok = result.returncode == 0
    show(
        ok,
        f"skopeo copy oci:… docker://{gate.host}/{ref}",
        "" if ok else denied_line(result.stderr),
    )


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="gatekeeper-demo-"))
    key = ec.generate_private_key(ec.SECP256R1())
    (work / "cosign.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    policy = work / "policy.yaml"
    policy.write_text(POLICY)
    reports = work / "reports"
    reports.mkdir()
    step(f"starting a CNCF distribution registry and gatekeeper (work dir {work})")
    registry = start_registry(work / "registry")
    gate = start_gatekeeper(
        work,
        registry.url,
        policy,
        "--decision-log",
        str(work / "decisions.jsonl"),
        "--verdicts",
        str(reports),
    )
    dry = start_gatekeeper(
        work,
        registry.url,
        policy,
        "--dry-run",
        "--decision-log",
        str(work / "dry-decisions.jsonl"),
        "--verdicts",
        str(reports),
    )
    print(
        f"  registry   {registry.url}\n  gatekeeper {gate.url}  (enforce)\n"
        f"  gatekeeper {dry.url}  (dry-run)\n  Trivy reports in {reports}\n  policy:"
    )
    print(textwrap.indent(POLICY.strip(), "    "))
    keep = os.environ.get("KEEP", "") not in ("", "0")
    try:
        run_demo(work, registry, gate, dry, key, reports)
    finally:
        for process in (dry, gate, registry):
            process.stop()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{BOLD}demo finished{END}: everything ran on loopback and has been stopped.")
    what_next(work if keep else None)
    return 0


def what_next(kept: Path | None) -> None:
    step("what next")
    if kept is not None:
        print(f"  work directory kept: {kept}")
        print(f"    decision logs  {kept / 'decisions.jsonl'}, {kept / 'dry-decisions.jsonl'}")
        print(f"    policy         {kept / 'policy.yaml'}   (delete the directory when done)")
    else:
        print("  make demo KEEP=1        keep the work directory: decision logs, policy, reports")
    print(
        "  gatekeeper evaluate     the decision for one image, no client needed:\n"
        "                          .venv/bin/gatekeeper evaluate team/app:1.2.3 \\\n"
        "                            --upstream http://REGISTRY --policy policy.yaml\n"
        "  gatekeeper policy check validate a policy: .venv/bin/gatekeeper policy check FILE\n"
        "  policy/example.yaml     every rule kind, commented (policy/schema.json for editors)\n"
        "  README.md               deployments: front door, pull-through mirror, TLS, Redis\n"
        "  deploy/                 compose.yaml and kubernetes/ (kubectl apply -k)\n"
        "  make image              build the container image here and run it hardened"
    )


def publish_image(
    work: Path,
    registry: Process,
    repo: str,
    tag: str,
    key: Any,
    reports: Path,
    *,
    signed: bool = True,
    report: Path = ALPINE,
    user: str = "1000",
) -> images.Image:
    """What a release pipeline does: push, sign, scan (Trivy report into the directory)."""
    img = images.image(f"demo {repo}", config={"User": user})
    images.push_image(work, img, f"{registry.host}/{repo}:{tag}")
    if signed:
        signing.sign_and_push(registry.url, registry.host, repo, img.digest, key)
    publish(reports, report, img.digest)
    return img


def run_demo(
    work: Path, registry: Process, gate: Process, dry: Process, key: Any, reports: Path
) -> None:
    step("release pipeline: push, sign with cosign's format, drop the Trivy report")
    app = publish_image(work, registry, "team/app", "1.2.3", key, reports)
    publish_image(work, registry, "team/unsigned", "1.0.0", key, reports, signed=False)
    publish_image(work, registry, "team/vulnerable", "1.0.0", key, reports, report=DEBIAN)
    publish_image(work, registry, "team/rootful", "1.0.0", key, reports, user="root")
    publish_image(work, registry, "tools/thing", "1.0.0", key, reports)
    print("  team/app:1.2.3        signed, only MEDIUM findings, runs as uid 1000")
    print("  team/unsigned:1.0.0   not signed")
    print("  team/vulnerable:1.0.0 signed, CRITICAL CVE-2019-18224 in its Trivy report")
    print("  team/rootful:1.0.0    signed, clean, but runs as root")
    print("  tools/thing:1.0.0     in no team's repositories")
    time.sleep(2.5)  # gatekeeper rescans the report directory every second

    step("pulling through gatekeeper")
    pull(gate, "team/app:1.2.3")
    pull(gate, f"team/app@{app.digest}")
    pull(gate, "team/unsigned:1.0.0")
    pull(gate, "team/vulnerable:1.0.0")
    pull(gate, "team/rootful:1.0.0")
    pull(gate, "tools/thing:1.0.0")

    step("pushing through gatekeeper: tag rules apply to pushes")
    push(work, gate, images.image("demo-push-ok"), "team/app:1.3.0")
    latest = images.image("demo-latest")
    push(work, gate, latest, "team/app:latest")

    step("someone pushed team/app:latest straight to the registry, behind the gate")
    images.push_image(work, latest, f"{registry.host}/team/app:latest")
    pull(gate, "team/app:latest")
    blob = requests.get(f"{gate.url}/v2/team/app/blobs/{latest.layers[0].digest}", timeout=10)
    show(
        blob.ok,
        f"GET /v2/team/app/blobs/{latest.layers[0].digest[:19]}…  (its layer)",
        blob.json()["errors"][0]["message"] if not blob.ok else "",
    )

    step("the same pulls through gatekeeper in dry-run: let through, with a warning")
    for repo, ref in (("team/app", "latest"), ("team/vulnerable", "1.0.0")):
        response = requests.get(
            f"{dry.url}/v2/{repo}/manifests/{ref}",
            headers={"Accept": images.OCI_MANIFEST},
            timeout=10,
        )
        show(
            response.ok,
            f"GET /v2/{repo}/manifests/{ref}",
            warning_text(response.headers.get("Warning")),
        )

    step("decision log (one JSON line per decision)")
    for name in ("decisions.jsonl", "dry-decisions.jsonl"):
        for line in (work / name).read_text().splitlines():
            entry = json.loads(line)
            sep = "@" if ":" in entry["reference"] else ":"
            print(
                f"  {entry['outcome']:>10}  {entry['action']:<4} {entry['repository']}{sep}"
                f"{entry['reference'][:19]}  rule={entry['rule']}  "
                f"{clip('; '.join(entry['reasons']), 80)}"
            )

    step("metrics (GET /metrics, an excerpt): decisions by outcome, rule and reason code")
    print_metrics(gate, dry)


_SHOWN_METRICS = (
    "gatekeeper_decisions_total",
    "gatekeeper_decision_reasons_total",
    "gatekeeper_requests_total",
    "gatekeeper_cache_hits_total",
    "gatekeeper_policy_info",
)


def print_metrics(gate: Process, dry: Process) -> None:
    for name, process in (("enforcing gatekeeper", gate), ("dry-run gatekeeper", dry)):
        print(f"  {DIM}{name}{END}")
        text = requests.get(f"{process.url}/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith(_SHOWN_METRICS) and not line.rstrip().endswith(" 0.0"):
                print(f"  {clip(line, 150)}")


if __name__ == "__main__":
    raise SystemExit(main())
