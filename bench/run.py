"""Benchmark gatekeeper against the registry directly and a plain nginx pass-through.

Everything is measured in one run on this machine, so the ratios are comparable even when
absolute numbers drift between runs:

- manifest GET by digest: requests/s and p50/p99 latency at 16 and 64 connections (wrk)
- blob GET and PUT of 256 MiB: throughput (curl), best of a few runs after a warm-up
- gatekeeper's peak RSS (VmHWM)

Usage: ``make bench`` (or ``.venv/bin/python bench/run.py [--quick]``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import images, signing  # noqa: E402
from tests.helpers.processes import (  # noqa: E402
    Process,
    free_port,
    peak_rss_bytes,
    start_gatekeeper,
    start_registry,
    wait_http,
)

MIB = 1024 * 1024
TARGETS = ("direct", "nginx", "nginx-tuned", "gatekeeper")
SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())
# "nginx" is the plain pass-through the issue names (proxy_pass, HTTP/1.1 keep-alive to the
# upstream, nginx's default buffering); "nginx-tuned" adds large in-memory buffers and no
# temp-file spooling, the best nginx managed here (a stricter reference, reported alongside).
PLAIN_PROXY = """
      proxy_request_buffering off;"""
TUNED_PROXY = """
      proxy_request_buffering off;
      proxy_buffering on;
      proxy_max_temp_file_size 0;
      proxy_buffer_size 64k;
      proxy_buffers 16 64k;
      proxy_busy_buffers_size 128k;"""
NGINX_CONF = """\
worker_processes 1;
user root;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  upstream registry {{ server {upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    location / {{
      proxy_pass http://registry;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;{proxy}
    }}
  }}
}}
"""


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float


def start_nginx(work: Path, upstream_host: str, proxy: str = PLAIN_PROXY) -> Process:
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, upstream=upstream_host, port=port, proxy=proxy))
    log = work / "nginx.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(work)], stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/v2/", proc)
    return Process(proc, url, log)


def wrk(url: str, connections: int, seconds: int, accept: str) -> Load:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-H",
            f"Accept: {accept}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    return Load(rps, _latency(out, "50%"), _latency(out, "99%"))


def _latency(out: str, pct: str) -> float:
    match = re.search(rf"{re.escape(pct)}\s+([\d.]+)(us|ms|s)", out)
    if match is None:
        return float("nan")
    value, unit = float(match[1]), match[2]
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def curl_get(url: str) -> float:
    """Seconds to download ``url`` into /dev/null."""
    out = subprocess.run(
        ["curl", "-sf", "-o", "/dev/null", "-w", "%{time_total}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out)


def curl_put(base: str, repo: str, path: Path, digest: str) -> float:
    started = requests.post(f"{base}/v2/{repo}/blobs/uploads/", timeout=30)
    started.raise_for_status()
    location = started.headers["Location"]
    if location.startswith("/"):
        location = base + location
    sep = "&" if "?" in location else "?"
    t0 = time.perf_counter()
    subprocess.run(
        [
            "curl",
            "-sf",
            "-o",
            "/dev/null",
            "-T",
            str(path),
            "-H",
            "Expect:",
            "-H",
            "Content-Type: application/octet-stream",
            f"{location}{sep}digest={digest}",
        ],
        check=True,
    )
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--blob-mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    seconds = 2 if args.quick else args.seconds
    blob_mib = 16 if args.quick else args.blob_mib
    repeat = 1 if args.quick else args.repeat

    work = Path(tempfile.mkdtemp(prefix="gatekeeper-bench-"))
    (work / "cosign.pub").write_bytes(
        SIGNING_KEY.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    policy = work / "policy.yaml"
    # bench/signed/* needs a signature; everything else is the permissive pass-through rule.
    policy.write_text(
        "rules:\n"
        '  - {name: signed, repositories: ["bench/signed*"], '
        "signatures: {keys: [cosign.pub]}}\n"
        '  - {name: all, repositories: ["**"]}\n'
    )
    registry = start_registry(work / "registry")
    nginx = start_nginx(work / "nginx", registry.host)
    tuned = start_nginx(work / "nginx-tuned", registry.host, TUNED_PROXY)
    gate = start_gatekeeper(
        work, registry.url, policy, "--decision-log", str(work / "decisions.log")
    )
    targets = {
        "direct": registry.url,
        "nginx": nginx.url,
        "nginx-tuned": tuned.url,
        "gatekeeper": gate.url,
    }
    try:
        results = run(work, targets, seconds, blob_mib, repeat)
        results.update(admission_latency(work, registry, gate, 5 if args.quick else 20))
        results["gatekeeper_peak_rss_mib"] = peak_rss_bytes(gate.proc.pid) / MIB
    finally:
        for process in (gate, tuned, nginx, registry):
            process.stop()
    report(results)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    return 0


def run(
    work: Path, targets: dict[str, str], seconds: int, blob_mib: int, repeat: int
) -> dict[str, object]:
    repo = "bench/app"
    img = images.image("bench")
    images.push_image(work, img, f"{targets['direct'].split('://')[1]}/{repo}:1.0.0")
    results: dict[str, object] = {}
    for connections in (16, 64):
        for name, base in targets.items():
            url = f"{base}/v2/{repo}/manifests/{img.digest}"
            wrk(url, connections, 1, images.OCI_MANIFEST)  # warm up connections and caches
            results[f"manifest_c{connections}_{name}"] = asdict(
                wrk(url, connections, seconds, images.OCI_MANIFEST)
            )

    blob = work / "blob.bin"
    with blob.open("wb") as out:
        for _ in range(blob_mib):
            out.write(os.urandom(MIB))
    digest = (
        "sha256:"
        + subprocess.run(
            ["sha256sum", str(blob)], capture_output=True, text=True, check=True
        ).stdout.split()[0]
    )
    curl_put(targets["direct"], repo, blob, digest)
    for name, base in targets.items():
        url = f"{base}/v2/{repo}/blobs/{digest}"
        curl_get(url)  # the VM evicts idle page cache: warm up before timing
        best_get = min(curl_get(url) for _ in range(repeat))
        best_put = min(curl_put(base, f"{repo}-{name}", blob, digest) for _ in range(repeat))
        results[f"blob_get_{name}_mib_s"] = blob_mib / best_get
        results[f"blob_put_{name}_mib_s"] = blob_mib / best_put
    return results


def admission_latency(
    work: Path, registry: Process, gate: Process, images_count: int
) -> dict[str, object]:
    """Cold (first pull, signature fetched and verified) and warm (cached) admission of a
    signed image, against an unsigned image under the pass-through rule: sequential
    requests, so these are latencies, not throughput."""
    session = requests.Session()
    accept = {"Accept": images.OCI_MANIFEST}
    cold: list[float] = []
    signed_urls = []
    for i in range(images_count):
        repo = f"bench/signed{i}"
        img = images.image(f"signed-{i}")
        images.push_image(work, img, f"{registry.host}/{repo}:1.0.0")
        signing.sign_and_push(registry.url, registry.host, repo, img.digest, SIGNING_KEY)
        url = f"{gate.url}/v2/{repo}/manifests/{img.digest}"
        t0 = time.perf_counter()
        response = session.get(url, headers=accept, timeout=30)
        cold.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.text
        signed_urls.append(url)
    unsigned = images.image("unsigned-latency")
    images.push_image(work, unsigned, f"{registry.host}/bench/plain:1.0.0")
    plain_url = f"{gate.url}/v2/bench/plain/manifests/{unsigned.digest}"

    def sample(url: str, n: int = 400) -> list[float]:
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            session.get(url, headers=accept, timeout=30).raise_for_status()
            out.append((time.perf_counter() - t0) * 1000)
        return out

    sample(plain_url, 50)
    warm = sample(signed_urls[0])
    plain = sample(plain_url)
    return {
        "signed_cold_p50_ms": statistics.median(cold),
        "signed_warm_p50_ms": statistics.median(warm),
        "unsigned_p50_ms": statistics.median(plain),
        "signed_warm_p99_ms": statistics.quantiles(warm, n=100)[98],
        "unsigned_p99_ms": statistics.quantiles(plain, n=100)[98],
    }


def report(results: dict[str, object]) -> None:
    def num(key: str) -> float:
        value = results[key]
        assert isinstance(value, int | float)
        return float(value)

    print("\nmanifest GET by digest (wrk)")
    print(f"{'':>22} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x direct':>9}")
    for connections in (16, 64):
        direct = results[f"manifest_c{connections}_direct"]
        assert isinstance(direct, dict)
        for name in TARGETS:
            load = results[f"manifest_c{connections}_{name}"]
            assert isinstance(load, dict)
            print(
                f"{name + f' c={connections}':>22} {load['rps']:>9.0f} {load['p50_ms']:>8.2f} "
                f"{load['p99_ms']:>8.2f} {load['rps'] / direct['rps']:>9.2f}"
            )
    for kind in ("get", "put"):
        print(f"\nblob {kind.upper()} (MiB/s)")
        direct = num(f"blob_{kind}_direct_mib_s")
        nginx = num(f"blob_{kind}_nginx_mib_s")
        tuned = num(f"blob_{kind}_nginx-tuned_mib_s")
        for name in TARGETS:
            value = num(f"blob_{kind}_{name}_mib_s")
            print(
                f"{name:>22} {value:>9.0f}  x direct {value / direct:.2f}  "
                f"x nginx {value / nginx:.2f}  x nginx-tuned {value / tuned:.2f}"
            )
    print("\nadmission latency, sequential GET by digest (ms)")
    print(f"{'signed, cold (p50)':>28} {num('signed_cold_p50_ms'):>8.2f}")
    print(
        f"{'signed, warm (p50/p99)':>28} {num('signed_warm_p50_ms'):>8.2f} "
        f"{num('signed_warm_p99_ms'):>8.2f}"
    )
    print(
        f"{'unsigned pass-through (p50/p99)':>28} {num('unsigned_p50_ms'):>8.2f} "
        f"{num('unsigned_p99_ms'):>8.2f}"
    )
    print(
        f"{'warm - unsigned at p50':>28} "
        f"{num('signed_warm_p50_ms') - num('unsigned_p50_ms'):>8.2f}  (target ≤ 2 ms)"
    )
    print(f"\ngatekeeper peak RSS: {num('gatekeeper_peak_rss_mib'):.0f} MiB")


if __name__ == "__main__":
    raise SystemExit(main())
