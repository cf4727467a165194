"""Build gatekeeper's container image here, run it hardened, and pull an image through it.

Docker Hub is unreachable here, so the base is made locally and everything runs against a
private dockerd (vfs, ``bridge: none``, no iptables: tests/helpers/engines.py) that this script
starts and always stops:

1. base: ``mmdebstrap`` of Debian bookworm with python3 (cached for a week in .cache/image/),
   ``docker import``-ed and pushed to a private registry, so the Dockerfile's ``BASE`` ARG
   names it by tag AND digest and the build pulls it by that digest;
2. wheels: resolved on the host from requirements/runtime.txt (hashes checked) into wheels/,
   installed inside with ``PIP_NO_INDEX=1`` (the build container reaches no package index);
3. ``docker build``, then ``docker run`` with ``--read-only --cap-drop ALL --security-opt
   no-new-privileges --user 10001:10001`` in front of the registry;
4. checks: ``/healthz``, the HEALTHCHECK status (``gatekeeper healthcheck``), the labels, an
   allowed ``docker pull`` through the container and a refused one.

Exit 0 when every check passed. ``KEEP=1`` keeps the work directory (logs, policy).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.engines import Dockerd  # noqa: E402 - after the path setup
from tests.helpers.processes import Process, free_port, start_registry  # noqa: E402

BASE_TAR = REPO / ".cache" / "image" / "base-bookworm.tar"
BASE_MAX_AGE = 7 * 24 * 3600  # seconds: a week-old base misses Debian security updates
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
IMAGE = "gatekeeper:dev"
BUILD_TIMEOUT = 1200.0
POLICY = """\
# The image check's policy: the base image may be pulled at :bookworm, gatekeeper's own image
# if its config passes the checklist; the keyless rule makes the policy load sigstore's
# production trust root on the read-only root filesystem. Anything else is refused.
rules:
  - name: base
    repositories: ["gatekeeper-base"]
    tags:
      allow: ['^bookworm$']
  - name: gatekeeper-itself
    repositories: ["gatekeeper/gatekeeper"]
    image:
      user: non-root
      forbid_secrets_in_env: true
      require_healthcheck: true
      forbid_add_from_url: true
      max_size: 500MiB
      required_labels:
        - org.opencontainers.image.source
        - org.opencontainers.image.version
        - org.opencontainers.image.revision
        - org.opencontainers.image.licenses
  - name: keyless-signed
    repositories: ["signed/**"]
    signatures:
      keyless:
        - issuer: https://token.actions.githubusercontent.com
          subject_regex: '^https://github\\.com/acme/.+'
  - name: default-deny
    repositories: ["**"]
    action: deny
"""
HARDENING = (
    "--read-only",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--user",
    "10001:10001",
)


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(cmd: list[str], timeout: float = 600.0) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd[:4])} … failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return done.stdout


def make_base() -> Path:
    fresh = BASE_TAR.exists() and time.time() - BASE_TAR.stat().st_mtime < BASE_MAX_AGE
    if fresh:
        step(f"base: reusing {BASE_TAR.relative_to(REPO)} (mmdebstrap, under a week old)")
        return BASE_TAR
    step(f"base: mmdebstrap bookworm with {BASE_PACKAGES} (under a minute)")
    BASE_TAR.parent.mkdir(parents=True, exist_ok=True)
    partial = BASE_TAR.with_suffix(".partial")
    run(
        [
            "mmdebstrap",
            "--quiet",
            "--format=tar",
            "--variant=minbase",
            f"--include={BASE_PACKAGES}",
            "bookworm",
            str(partial),
        ],
        timeout=1200,
    )
    partial.replace(BASE_TAR)
    return BASE_TAR


def fetch_wheels() -> None:
    wheels = REPO / "wheels"
    for old in wheels.glob("*.whl"):
        old.unlink()
    pip = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(wheels)]
    pip += ["--python-version", "3.11", "--platform", "manylinux2014_x86_64"]
    pip += ["--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64"]
    run([*pip, "--require-hashes", "-r", str(REPO / "requirements" / "runtime.txt")])
    run([*pip, "--no-deps", "setuptools>=77"])  # gatekeeper's build backend (pyproject.toml)
    count = len(list(wheels.glob("*.whl")))
    step(f"wheels: {count} resolved on the host from requirements/runtime.txt into wheels/")


def revision() -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback URL
            return response.status, response.read().decode()
    except OSError as exc:
        return 0, str(exc)


def wait_healthy(docker: Dockerd, name: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    status = "?"
    while time.monotonic() < deadline:
        state = json.loads(docker.docker("inspect", "--format", "{{json .State}}", name).stdout)
        status = state.get("Health", {}).get("Status", "none")
        probes = state.get("Health", {}).get("Log") or [{"Output": ""}]
        if status == "healthy" or not state.get("Running"):
            return f"{status} ({probes[-1]['Output'].strip()})"
        time.sleep(1)
    return status


def check(results: list[tuple[str, bool]], what: str, ok: bool, detail: str = "") -> None:
    results.append((what, ok))
    print(f"    [{'ok' if ok else 'FAIL'}] {what}{': ' + detail if detail else ''}", flush=True)


def main() -> int:
    if os.geteuid() != 0:
        raise SystemExit("make image runs a private dockerd: run it as root")
    keep = os.environ.get("KEEP") == "1"
    workdir = Path(tempfile.mkdtemp(prefix="gk-image-"))
    results: list[tuple[str, bool]] = []
    started = time.monotonic()
    registry: Process | None = None
    docker: Dockerd | None = None
    try:
        base_tar = make_base()
        fetch_wheels()
        registry = start_registry(workdir / "registry")
        docker = Dockerd(workdir / "dockerd", None)
        step(f"private dockerd up (vfs, bridge none); registry at {registry.url}")

        base_tag = f"{registry.host}/gatekeeper-base:bookworm"
        docker.docker("import", str(base_tar), base_tag, timeout=600, check=True)
        docker.docker("push", base_tag, timeout=600, check=True)
        # The same image as :latest, which the check's policy refuses through the gate.
        docker.docker("tag", base_tag, f"{base_tag[: -len(':bookworm')]}:latest", check=True)
        docker.docker("push", f"{base_tag[: -len(':bookworm')]}:latest", timeout=600, check=True)
        digest = docker.docker(
            "inspect", "--format", "{{index .RepoDigests 0}}", base_tag, check=True
        ).stdout.strip()
        base = f"{base_tag}@{digest.rsplit('@', 1)[1]}"
        # The build must pull it by its digest.
        docker.docker("rmi", base_tag, f"{base_tag[: -len(':bookworm')]}:latest", check=True)
        step(f"base: {base}")

        step("docker build (legacy builder, no index inside: PIP_NO_INDEX=1)")
        build = docker.docker(
            "build",
            "--network",
            "host",
            "--build-arg",
            f"BASE={base}",
            "--build-arg",
            "PIP_NO_INDEX=1",
            "--build-arg",
            f"REVISION={revision()}",
            "-t",
            IMAGE,
            str(REPO),
            timeout=BUILD_TIMEOUT,
        )
        (workdir / "build.log").write_text(build.stdout + build.stderr)
        if build.returncode != 0:
            print(build.stdout[-3000:], build.stderr[-3000:], sep="\n")
            raise SystemExit("docker build failed")
        inspect = json.loads(docker.docker("image", "inspect", IMAGE, check=True).stdout)[0]
        size_mb = inspect["Size"] / 1e6
        labels = inspect["Config"]["Labels"]
        step(f"built {IMAGE}: {size_mb:.0f} MB, {len(inspect['RootFS']['Layers'])} layers")
        wanted = ("source", "version", "revision", "licenses", "base.name")
        missing = [k for k in wanted if not labels.get(f"org.opencontainers.image.{k}")]
        check(results, "OCI labels " + ", ".join(wanted), not missing, f"missing {missing}")
        for key, value in sorted(labels.items()):
            print(f"        {key}={value}")
        check(results, "USER 10001:10001", inspect["Config"]["User"] == "10001:10001")
        own = f"{registry.host}/gatekeeper/gatekeeper:0.1.0"
        docker.docker("tag", IMAGE, own, check=True)
        docker.docker("push", own, timeout=600, check=True)

        policy_dir = workdir / "policy"
        policy_dir.mkdir()
        (policy_dir / "policy.yaml").write_text(POLICY)
        policy_dir.chmod(0o755)
        port = free_port()
        step(f"docker run {' '.join(HARDENING)} (no tmpfs, no writable mount)")
        docker.docker(
            "run",
            "-d",
            "--name",
            "gatekeeper",
            "--network",
            "host",
            *HARDENING,
            "--health-interval",
            "2s",
            "-v",
            f"{policy_dir}:/etc/gatekeeper/policy:ro",
            "-e",
            f"GATEKEEPER_LISTEN=127.0.0.1:{port}",
            "-e",
            f"GATEKEEPER_UPSTREAM={registry.url}",
            IMAGE,
            check=True,
        )
        gate = f"127.0.0.1:{port}"
        status, body = 0, ""
        for _ in range(100):
            status, body = get(f"http://{gate}/healthz")
            if status == 200:
                break
            time.sleep(0.1)
        check(results, f"GET http://{gate}/healthz", status == 200, f"{status} {body.strip()}")
        health = wait_healthy(docker, "gatekeeper", 60)
        check(results, "HEALTHCHECK (gatekeeper healthcheck)", health.startswith("healthy"), health)

        pulled = docker.docker("pull", f"{gate}/gatekeeper-base:bookworm", timeout=300)
        said = [line for line in pulled.stdout.splitlines() if line.startswith("Digest:")]
        last = (said or pulled.stderr.strip().splitlines() or [""])[-1]
        check(results, f"docker pull {gate}/gatekeeper-base:bookworm", pulled.returncode == 0, last)
        itself = docker.docker("pull", f"{gate}/gatekeeper/gatekeeper:0.1.0", timeout=300)
        said = [line for line in itself.stdout.splitlines() if line.startswith("Digest:")]
        check(
            results,
            f"docker pull {gate}/gatekeeper/gatekeeper:0.1.0 (its own image, image checklist)",
            itself.returncode == 0,
            (said or itself.stderr.strip().splitlines() or [""])[-1],
        )
        refused = docker.docker("pull", f"{gate}/gatekeeper-base:latest", timeout=120)
        said = refused.stderr.strip().splitlines()[-1] if refused.stderr.strip() else ""
        check(
            results,
            "refused: docker pull …/gatekeeper-base:latest",
            refused.returncode != 0 and "denied" in said,
            said,
        )
        logs = docker.docker("logs", "gatekeeper")
        (workdir / "gatekeeper.log").write_text(logs.stdout + logs.stderr)
        user = docker.docker("exec", "gatekeeper", "id", "-u").stdout.strip()
        check(results, "runs as uid 10001", user == "10001", user)
        write = docker.docker("exec", "gatekeeper", "sh", "-c", "touch /opt/gatekeeper/x")
        check(results, "root filesystem is read-only", write.returncode != 0)
    finally:
        if docker is not None:
            (workdir / "dockerd.log").write_text(docker.log())
            docker.docker("rm", "-f", "gatekeeper")
            docker.stop()
        if registry is not None:
            registry.stop()
        if keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    failed = [what for what, ok in results if not ok]
    minutes = (time.monotonic() - started) / 60
    print(
        f"make image: {len(results) - len(failed)} passed, {len(failed)} failed ({minutes:.1f} min)"
    )
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
