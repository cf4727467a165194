"""Resilience scenarios of issue 10: reported figures, not timed tests.

- ``mixed``: ``--clients`` (200) keep-alive clients for ``--seconds`` (60) of allowed and
  refused manifest and blob GETs through gatekeeper (default limits) against the real
  registry: 5xx count, wrong decisions, p50/p99, gatekeeper RSS at start, peak and end.
- ``hostile``: the same while ``--slow-readers`` (300) clients hold GETs of one 48 MiB blob
  and barely read (4 KiB receive buffer, reconnecting when cut off), and the upstream hangs
  for one repository (20 more clients pull from it). Ordinary pulls should keep p99 < 1 s
  and RSS < 300 MiB.
- ``chunk``: gatekeeper's CPU seconds per GiB of blob GET for several
  ``--stream-chunk-bytes`` values (the upstream read buffer).

The hanging repository is an nginx location in front of the registry that proxies
``/v2/hang/`` to a listener that reads requests and never answers; everything else passes
to the registry. The load generator runs in this process (uvloop) and shares the 2 cores
with gatekeeper, nginx and the registry: latencies include its own queueing.

Usage: ``.venv/bin/python bench/resilience.py --scenario all`` (or mixed / hostile / chunk).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import images  # noqa: E402
from tests.helpers.processes import (  # noqa: E402
    Process,
    free_port,
    running,
    start_gatekeeper,
    start_registry,
    wait_http,
)
from tests.helpers.registry_push import push_blob, push_manifest  # noqa: E402

MIB = 1024 * 1024
POLICY = """\
rules:
  - {name: denied, repositories: ["denied/**"], action: deny}
  - {name: hanging, repositories: ["hang/**"]}
  - {name: versions, repositories: ["**"], tags: {deny: [latest]}}
"""
NGINX = """\
worker_processes 1;
user root;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  upstream registry {{ server {registry}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_request_buffering off;
    proxy_buffering off;
    location /v2/hang/ {{ proxy_pass http://127.0.0.1:{hang}; proxy_read_timeout 600s; }}
    location / {{ proxy_pass http://registry; }}
  }}
}}
"""


@dataclass(frozen=True)
class Probe:
    kind: str
    path: str
    expect: int
    accept: str = images.OCI_MANIFEST


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    wrong: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, object]:
        lat = sorted(self.latencies)
        return {
            "requests": len(lat),
            "rps": round(len(lat) / max(1e-9, self.seconds), 1),
            "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "p99_ms": round(statistics.quantiles(lat, n=100)[98] * 1000, 1)
            if len(lat) > 100
            else None,
            "max_ms": round(lat[-1] * 1000, 1) if lat else None,
            "status": dict(sorted(self.statuses.items())),
            "5xx": sum(n for s, n in self.statuses.items() if s >= 500),
            "wrong_decisions": sum(self.wrong.values()),
            "wrong_by_kind": dict(self.wrong),
            "client_errors": dict(self.errors),
        }

    seconds: float = 1.0


# -- setup ---------------------------------------------------------------------------------


def push(registry: Process, repo: str, tag: str, img: images.Image) -> None:
    for blob in img.blobs:
        push_blob(registry.url, repo, blob.data)
    pushed = push_manifest(registry.url, repo, tag, img.manifest.data, images.OCI_MANIFEST)
    pushed.raise_for_status()


def big_image(size: int) -> images.Image:
    layer = images.Blob(images.OCI_LAYER, os.urandom(size))
    config = images.Blob(images.OCI_CONFIG, b'{"architecture":"amd64","os":"linux"}')
    doc = {
        "schemaVersion": 2,
        "mediaType": images.OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    }
    return images.Image(
        images.Blob(images.OCI_MANIFEST, json.dumps(doc).encode()), config, (layer,)
    )


def probes(registry: Process) -> list[Probe]:
    """Allowed and refused requests, each with the status the policy must give."""
    out: list[Probe] = []
    for i in range(5):
        img = images.image(f"ok{i}", layers=2)
        push(registry, f"bench/ok{i}", "1.0.0", img)
        push(registry, f"bench/ok{i}", "latest", img)
        out += [
            Probe("manifest-allowed", f"/v2/bench/ok{i}/manifests/1.0.0", 200),
            Probe("manifest-allowed", f"/v2/bench/ok{i}/manifests/{img.digest}", 200),
            Probe("manifest-refused-tag", f"/v2/bench/ok{i}/manifests/latest", 403),
            Probe("blob-allowed", f"/v2/bench/ok{i}/blobs/{img.layers[0].digest}", 200, "*/*"),
            Probe("blob-allowed", f"/v2/bench/ok{i}/blobs/{img.config.digest}", 200, "*/*"),
        ]
    denied = images.image("denied")
    push(registry, "denied/app", "1.0.0", denied)
    unadmitted = images.image("unadmitted")
    push(registry, "bench/unadmitted", "1.0.0", unadmitted)
    out += [
        Probe("manifest-refused-repo", "/v2/denied/app/manifests/1.0.0", 403),
        Probe("blob-refused-repo", f"/v2/denied/app/blobs/{denied.layers[0].digest}", 403, "*/*"),
        Probe(
            "blob-refused-unadmitted",
            f"/v2/bench/unadmitted/blobs/{unadmitted.layers[0].digest}",
            403,
            "*/*",
        ),
    ]
    return out


async def hang_server(port: int) -> asyncio.Server:
    """Reads requests and never answers (the hanging upstream repository)."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.read(65536):
                pass
        finally:
            writer.close()

    return await asyncio.start_server(swallow, "127.0.0.1", port, backlog=4096)


def start_front(work: Path, registry: Process, hang: int) -> Process:
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(NGINX.format(work=work, registry=registry.host, port=port, hang=hang))
    with (work / "nginx.log").open("wb") as out:
        proc = subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(work)], stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/v2/", proc)
    return Process(proc, url, work / "nginx.log")


# -- load ----------------------------------------------------------------------------------


async def client(
    session: aiohttp.ClientSession, base: str, mix: list[Probe], tally: Tally, until: float
) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        probe = random.choice(mix)
        started = time.perf_counter()
        try:
            async with session.get(base + probe.path, headers={"Accept": probe.accept}) as r:
                await r.read()
                status = r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            tally.errors[type(exc).__name__] += 1
            continue
        tally.latencies.append(time.perf_counter() - started)
        tally.statuses[status] += 1
        if status != probe.expect:
            tally.wrong[f"{probe.kind}:{status}"] += 1


async def slow_reader(host: str, port: int, path: str, tally: Tally, until: float) -> None:
    """GETs a big blob with a 4 KiB receive buffer and reads a few bytes now and then;
    reconnects when cut off (503 at the budget, or aborted by the write timeout)."""
    loop = asyncio.get_running_loop()
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    while loop.time() < until:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (host, port))
            await loop.sock_sendall(sock, request)
            head = await asyncio.wait_for(loop.sock_recv(sock, 64), 30)
            status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
            tally.statuses[status] += 1
            while loop.time() < until and status == 200:
                await asyncio.sleep(2.0)
                if not await asyncio.wait_for(loop.sock_recv(sock, 64), 30):
                    tally.errors["closed"] += 1
                    break
            if status != 200:
                await asyncio.sleep(1.0)
        except (OSError, TimeoutError) as exc:
            tally.errors[type(exc).__name__] += 1
        finally:
            sock.close()


async def sample_rss(pid: int, samples: list[int], stop: asyncio.Event) -> None:
    proc = psutil.Process(pid)
    while not stop.is_set():
        samples.append(proc.memory_info().rss)
        await asyncio.sleep(1.0)


def rss_total(pid: int) -> int:
    """RSS of gatekeeper (and its workers, if any)."""
    proc = psutil.Process(pid)
    return int(sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]))


async def load(
    gate: Process,
    mix: list[Probe],
    clients: int,
    seconds: float,
    extra: Callable[[float], list[Awaitable[None]]] | None = None,
) -> dict[str, object]:
    tally = Tally(seconds=seconds)
    rss: list[int] = []
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # warm up: admit the manifests, open connections
        for probe in mix:
            async with session.get(gate.url + probe.path, headers={"Accept": probe.accept}) as r:
                await r.read()
        start_rss = rss_total(gate.proc.pid)
        cpu0 = psutil.Process(gate.proc.pid).cpu_times()
        sampler = asyncio.ensure_future(sample_rss(gate.proc.pid, rss, stop))
        until = asyncio.get_running_loop().time() + seconds
        side = extra(until) if extra else []
        await asyncio.gather(
            *(client(session, gate.url, mix, tally, until) for _ in range(clients)), *side
        )
        stop.set()
        await sampler
        cpu1 = psutil.Process(gate.proc.pid).cpu_times()
    end_rss = rss_total(gate.proc.pid)
    await asyncio.sleep(5)
    settled_rss = rss_total(gate.proc.pid)
    return {
        **tally.summary(),
        "gatekeeper_cpu_s": round(cpu1.user + cpu1.system - cpu0.user - cpu0.system, 1),
        "rss_mib": {
            "start": round(start_rss / MIB),
            "peak": round(max(rss, default=0) / MIB),
            "end": round(end_rss / MIB),
            "5s_after": round(settled_rss / MIB),
        },
    }


# -- scenarios -----------------------------------------------------------------------------


async def scenario(
    work: Path, hostile: bool, clients: int, seconds: float, readers: int
) -> dict[str, object]:
    with running(start_registry(work / "registry")) as registry:
        hang_port = free_port()
        hang = await hang_server(hang_port)
        try:
            mix = await asyncio.to_thread(probes, registry)
            big = big_image(48 * MIB)
            await asyncio.to_thread(push, registry, "bench/big", "1.0.0", big)
            front = await asyncio.to_thread(start_front, work / "nginx", registry, hang_port)
            policy = work / "policy.yaml"
            policy.write_text(POLICY)
            with (
                running(front),
                running(
                    await asyncio.to_thread(start_gatekeeper, work / "gate", front.url, policy)
                ) as gate,
            ):
                async with aiohttp.ClientSession() as session:
                    url = f"{gate.url}/v2/bench/big/manifests/1.0.0"
                    async with session.get(url, headers={"Accept": images.OCI_MANIFEST}) as r:
                        assert r.status == 200, await r.text()
                slow = Tally(seconds=seconds)
                hung = Tally(seconds=seconds)
                host, port = gate.url.removeprefix("http://").split(":")
                hung_mix = [
                    Probe("hung-manifest", "/v2/hang/app/manifests/1.0.0", 504),
                    Probe("hung-blob", f"/v2/hang/app/blobs/{big.layers[0].digest}", 504, "*/*"),
                ]

                def side(until: float) -> list[Awaitable[None]]:
                    if not hostile:
                        return []
                    path = f"/v2/bench/big/blobs/{big.layers[0].digest}"
                    tasks: list[Awaitable[None]] = [
                        slow_reader(host, int(port), path, slow, until) for _ in range(readers)
                    ]
                    hung_session = aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(limit=0),
                        timeout=aiohttp.ClientTimeout(total=60),
                    )

                    async def hung_clients() -> None:
                        async with hung_session:
                            await asyncio.gather(
                                *(
                                    client(hung_session, gate.url, hung_mix, hung, until)
                                    for _ in range(20)
                                )
                            )

                    tasks.append(hung_clients())
                    return tasks

                result = await load(gate, mix, clients, seconds, side)
                if hostile:
                    result["slow_readers"] = {
                        "responses": dict(sorted(slow.statuses.items())),
                        "cut_off_or_errors": dict(slow.errors),
                    }
                    result["hung_repository"] = hung.summary()
                return result
        finally:
            hang.close()


async def chunk_cpu(work: Path, sizes: list[int], blob_mib: int, repeat: int) -> dict[str, object]:
    """CPU seconds per GiB of blob GET through gatekeeper, per stream read buffer size."""
    results: dict[str, object] = {}
    with running(start_registry(work / "registry")) as registry:
        img = big_image(blob_mib * MIB)
        await asyncio.to_thread(push, registry, "bench/blob", "1.0.0", img)
        policy = work / "policy.yaml"
        policy.write_text(POLICY)
        digest = img.layers[0].digest
        for size in sizes:
            gate = await asyncio.to_thread(
                start_gatekeeper,
                work / f"gate-{size}",
                registry.url,
                policy,
                "--stream-chunk-bytes",
                str(size),
            )
            with running(gate):
                proc = psutil.Process(gate.proc.pid)
                cmd = ["curl", "-sf", "-o", "/dev/null", "-w", "%{time_total}"]
                subprocess.run(
                    [
                        "curl",
                        "-sf",
                        "-o",
                        "/dev/null",
                        "-H",
                        f"Accept: {images.OCI_MANIFEST}",
                        f"{gate.url}/v2/bench/blob/manifests/1.0.0",
                    ],
                    check=True,
                )
                url = f"{gate.url}/v2/bench/blob/blobs/{digest}"
                subprocess.run([*cmd, url], check=True, capture_output=True)  # warm page cache
                per_gib, speeds = [], []
                for _ in range(repeat):
                    c0 = proc.cpu_times()
                    took = float(
                        subprocess.run(
                            [*cmd, url], check=True, capture_output=True, text=True
                        ).stdout
                    )
                    c1 = proc.cpu_times()
                    cpu = c1.user + c1.system - c0.user - c0.system
                    per_gib.append(cpu / (blob_mib / 1024))
                    speeds.append(blob_mib / took)
                results[f"{size // 1024}KiB"] = {
                    "cpu_s_per_gib": [round(x, 2) for x in per_gib],
                    "cpu_s_per_gib_median": round(statistics.median(per_gib), 2),
                    "mib_s_median": round(statistics.median(speeds)),
                    "peak_rss_mib": round(proc.memory_info().rss / MIB),
                }
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=["mixed", "hostile", "chunk", "all"], default="all")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--slow-readers", type=int, default=300)
    parser.add_argument("--chunks", default="65536,262144,1048576")
    parser.add_argument("--blob-mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="gk-resilience-") as tmp:
        work = Path(tmp)
        if args.scenario in ("mixed", "all"):
            results["mixed"] = asyncio.run(
                scenario(work / "mixed", False, args.clients, args.seconds, 0)
            )
            print(json.dumps(results["mixed"]), file=sys.stderr, flush=True)
        if args.scenario in ("hostile", "all"):
            results["hostile"] = asyncio.run(
                scenario(work / "hostile", True, args.clients, args.seconds, args.slow_readers)
            )
            print(json.dumps(results["hostile"]), file=sys.stderr, flush=True)
        if args.scenario in ("chunk", "all"):
            sizes = [int(x) for x in args.chunks.split(",")]
            results["chunk"] = asyncio.run(
                chunk_cpu(work / "chunk", sizes, args.blob_mib, args.repeat)
            )
            print(json.dumps(results["chunk"]), file=sys.stderr, flush=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
