"""Run the demo: start a registry and gatekeeper, push images, show what is admitted and why.

Everything runs on loopback in a temporary directory and is stopped at the end.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import images  # noqa: E402
from tests.helpers.processes import Process, start_gatekeeper, start_registry  # noqa: E402

POLICY = r"""
mode: enforce
rules:
  - name: team-apps
    repositories: ["team/**"]
    tags:
      deny: ["latest"]
      allow: ['^v?[0-9]+\.[0-9]+\.[0-9]+$']
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


def denied_line(stderr: str) -> str:
    """The part of skopeo's error output that carries gatekeeper's message."""
    for line in stderr.splitlines():
        if "gatekeeper:" in line:
            return "…" + line[line.index("denied:") :] if "denied:" in line else line
    return stderr.strip().splitlines()[-1] if stderr.strip() else ""


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
    policy = work / "policy.yaml"
    policy.write_text(POLICY)
    step(f"starting a CNCF distribution registry and gatekeeper (work dir {work})")
    registry = start_registry(work / "registry")
    gate = start_gatekeeper(
        work, registry.url, policy, "--decision-log", str(work / "decisions.jsonl")
    )
    dry = start_gatekeeper(
        work, registry.url, policy, "--dry-run", "--decision-log", str(work / "dry-decisions.jsonl")
    )
    print(
        f"  registry   {registry.url}\n  gatekeeper {gate.url}  (enforce)\n"
        f"  gatekeeper {dry.url}  (dry-run)\n  policy:"
    )
    print(textwrap.indent(POLICY.strip(), "    "))
    try:
        app = images.image("demo-app")
        other = images.image("demo-latest")
        step("pushing through gatekeeper")
        push(work, gate, app, "team/app:1.2.3")
        push(work, gate, other, "team/app:latest")
        step("someone pushed team/app:latest straight to the registry, behind the gate")
        images.push_image(work, other, f"{registry.host}/team/app:latest")
        print("  (pushed directly)")
        step("pulling through gatekeeper")
        pull(gate, "team/app:1.2.3")
        pull(gate, f"team/app@{app.digest}")
        pull(gate, "team/app:latest")
        pull(gate, "tools/unknown:1.0.0")
        step("a blob of the refused image cannot be fetched by digest either")
        blob = requests.get(f"{gate.url}/v2/team/app/blobs/{other.layers[0].digest}", timeout=10)
        show(
            blob.ok,
            f"GET /v2/team/app/blobs/{other.layers[0].digest[:19]}…",
            blob.json()["errors"][0]["message"] if not blob.ok else "",
        )
        step("the same pull through gatekeeper in dry-run: let through, with a warning")
        response = requests.get(
            f"{dry.url}/v2/team/app/manifests/latest",
            headers={"Accept": images.OCI_MANIFEST},
            timeout=10,
        )
        show(
            response.ok,
            "GET /v2/team/app/manifests/latest",
            f"Warning: {response.headers.get('Warning', '(none)')}",
        )
        step("decision log (one JSON line per decision)")
        for name in ("decisions.jsonl", "dry-decisions.jsonl"):
            for line in (work / name).read_text().splitlines():
                entry = json.loads(line)
                print(
                    f"  {entry['outcome']:>10}  {entry['action']:<4} {entry['repository']}:"
                    f"{entry['reference'][:19]}  rule={entry['rule']}  "
                    f"{'; '.join(entry['reasons'])[:90]}"
                )
    finally:
        for process in (dry, gate, registry):
            process.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{BOLD}demo finished{END}: everything ran on loopback and has been stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
