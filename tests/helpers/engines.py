"""Real container engines with private state, pulling ``docker.io`` images through a mirror.

Each engine runs as root with every byte of state under a directory the test owns (plus a short
``/tmp/gk-*`` directory for unix sockets, whose paths may not exceed 107 bytes), and is pointed at
one registry URL (``http://127.0.0.1:PORT`` or ``https://…`` with a CA file):

- :class:`Dockerd` — Debian's ``dockerd`` 20.10 with ``registry-mirrors``; ``docker`` CLI pulls.
- :class:`Containerd` — ``containerd`` 1.6 plus ``ctr images pull --hosts-dir``.
- :class:`Podman` — ``podman`` 4.3 with a private ``registries.conf`` (no daemon).

All are context managers; teardown kills the whole process tree (dockerd starts its own
containerd in a new session, so a process-group kill alone would leak it) and lazily unmounts
anything still mounted under the state directories. What each engine does with a mirror that
refuses (the bypasses) is spelled out per class; DESIGN.md has the background.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import psutil
import pytest

# Where each registry host really lives when no mirror answers (containerd's and podman's
# fallback). Docker Hub's API host differs from its name.
DEFAULT_SERVERS = {"docker.io": "https://registry-1.docker.io"}

START_TIMEOUT = 15.0
PULL_TIMEOUT = 60.0


# -- shared plumbing ---------------------------------------------------------------------------


def require(binary: str) -> str:
    """The binary's path, or skip the test (the Makefile installs the engines; see README)."""
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (apt-get install containerd podman docker.io)")
    if os.geteuid() != 0:
        pytest.skip(f"{binary} tests run as root with private state")
    return path


@dataclass(frozen=True)
class Endpoint:
    """A registry URL split the ways engine configs want it."""

    url: str

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")) or self.url.endswith("/"):
            raise ValueError(f"registry URL must be http(s)://host[:port], got {self.url!r}")

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0]

    @property
    def host(self) -> str:
        """``host:port`` (what podman's ``location`` and docker's certs.d want)."""
        return self.url.split("://", 1)[1]

    @property
    def plain_http(self) -> bool:
        return self.scheme == "http"


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path``, deepest first (from /proc/self/mountinfo)."""
    root = str(path.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # field 5 is the mount point, with space, tab, newline, backslash octal-escaped
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
        if point == root or point.startswith(root + "/"):
            found.append(point)
    return sorted(set(found), key=len, reverse=True)


def unmount_under(path: Path) -> list[str]:
    """Lazily unmount everything at or below ``path``; returns what was mounted."""
    points = mounts_under(path)
    for point in points:
        subprocess.run(["umount", "-R", "-l", point], capture_output=True, check=False, timeout=30)
    return points


def short_rundir(workdir: Path) -> Path:
    """A fresh ``/tmp/gk-*`` directory, linked from ``WORKDIR/run`` for debugging.

    Unix socket paths are limited to 107 bytes and podman refuses a runroot over 50 characters;
    pytest's tmp_path is often longer. The owner removes it on stop.
    """
    rundir = Path(tempfile.mkdtemp(prefix="gk-", dir="/tmp"))
    with contextlib.suppress(OSError):
        (workdir / "run").unlink(missing_ok=True)
        (workdir / "run").symlink_to(rundir)
    return rundir


def _text(data: object) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else str(data or "")


def _run(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    check: bool,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            list(cmd),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        err = _text(exc.stderr) + f"\n[timed out after {timeout}s]"
        result = subprocess.CompletedProcess(list(cmd), -9, _text(exc.stdout), err)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


class _PrivateState:
    """An engine's private directories: whatever it mounted there is undone on stop."""

    workdir: Path
    rundir: Path

    def stop(self) -> None:
        self._release_dirs()

    def _release_dirs(self) -> None:
        unmount_under(self.workdir)
        unmount_under(self.rundir)
        shutil.rmtree(self.rundir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Daemon(_PrivateState):
    """A long-running engine process whose whole tree and mounts are cleaned up on stop."""

    name = "daemon"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rundir = short_rundir(self.workdir)
        self.log_path = self.workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _spawn(self, cmd: Sequence[str]) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                list(cmd),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.workdir,
            )

    def _wait_ready(self, probe: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                self.stop()
                raise RuntimeError(
                    f"{self.name} exited ({code}) before it was ready:\n{self.log()[-4000:]}"
                )
            if probe():
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"{self.name} not ready in {START_TIMEOUT}s:\n{self.log()[-4000:]}")

    def stop(self) -> None:
        """SIGTERM the daemon, SIGKILL whatever of its tree survives, unmount, remove sockets."""
        proc, self.proc = self.proc, None
        if proc is not None:
            tree: list[psutil.Process] = []
            with contextlib.suppress(psutil.Error):
                tree = psutil.Process(proc.pid).children(recursive=True)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
            _, alive = psutil.wait_procs(tree, timeout=5)
            for child in alive:  # psutil refuses to signal a recycled pid
                with contextlib.suppress(psutil.Error):
                    child.kill()
            psutil.wait_procs(alive, timeout=5)
        self._release_dirs()


def _unix_http_ok(path: Path, request: bytes) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(str(path))
            sock.sendall(request)
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


# -- dockerd -----------------------------------------------------------------------------------


class Dockerd(_Daemon):
    """``dockerd`` with ``registry-mirrors: [mirror]`` and private data/exec roots.

    ``registry-mirrors`` serve Docker Hub only: ``docker pull hello:1.0.0`` asks the mirror for
    ``/v2/library/hello/…``. On ANY mirror error (403 DENIED included) dockerd logs
    ``Attempting next endpoint for pull after error: …`` and falls back to Docker Hub, which is
    unreachable here, so the pull then fails with a Docker Hub error, not the mirror's message:
    assert refusals on :meth:`log`.

    ``ca_file`` (https mirror with a private CA): dockerd has no flag for its certs directory, so
    this writes ``/etc/docker/certs.d/HOST:PORT/ca.crt`` (unique per port) and removes it on stop.
    """

    name = "dockerd"

    def __init__(
        self,
        workdir: Path,
        mirror: str | None,
        *,
        ca_file: Path | None = None,
        insecure_registries: Sequence[str] = (),
        extra_config: Mapping[str, object] | None = None,
    ) -> None:
        self.binary = require("dockerd")
        super().__init__(workdir)
        self.mirror = Endpoint(mirror) if mirror else None
        self.socket = self.rundir / "docker.sock"
        self.cli = shutil.which("docker", path="/usr/bin:/bin") or require("docker")
        self._certs_d: Path | None = None
        config: dict[str, object] = {
            "data-root": str(self.workdir / "data"),
            "exec-root": str(self.rundir / "exec"),
            "pidfile": str(self.rundir / "docker.pid"),
            "hosts": [f"unix://{self.socket}"],
            "deprecated-key-path": str(self.workdir / "key.json"),
            "iptables": False,
            "ip6tables": False,
            "ip-forward": False,
            "ip-masq": False,
            "bridge": "none",
            "storage-driver": "vfs",
            "registry-mirrors": [self.mirror.url] if self.mirror else [],
            "insecure-registries": list(insecure_registries),
            **(extra_config or {}),
        }
        self.config_path = self.workdir / "daemon.json"
        self.config_path.write_text(json.dumps(config, indent=2))
        if ca_file is not None:
            if self.mirror is None or self.mirror.plain_http:
                raise ValueError("ca_file needs an https mirror")
            self._certs_d = Path("/etc/docker/certs.d") / self.mirror.host
            self._certs_d.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ca_file, self._certs_d / "ca.crt")
        self.env = {
            **os.environ,
            "DOCKER_HOST": f"unix://{self.socket}",
            "DOCKER_CONFIG": str(self.workdir / "cli"),
        }
        self.start()

    def start(self) -> None:
        self._spawn([self.binary, "--config-file", str(self.config_path)])
        self._wait_ready(
            lambda: _unix_http_ok(
                self.socket, b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
            )
        )

    def stop(self) -> None:
        super().stop()
        if self._certs_d is not None:
            shutil.rmtree(self._certs_d, ignore_errors=True)
            with contextlib.suppress(OSError):  # only if no other entry is left in certs.d
                self._certs_d.parent.rmdir()
            self._certs_d = None

    def docker(
        self,
        *args: str,
        timeout: float = PULL_TIMEOUT,
        check: bool = False,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """The docker CLI against this daemon (private ``DOCKER_CONFIG`` for ``login``)."""
        return _run([self.cli, *args], env=self.env, timeout=timeout, check=check, stdin=stdin)

    def pull(
        self,
        ref: str,
        *,
        platform: str | None = None,
        timeout: float = PULL_TIMEOUT,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """``docker pull [--platform P] REF`` (``hello:1.0.0`` means docker.io/library/hello)."""
        extra = ["--platform", platform] if platform else []
        return self.docker("pull", *extra, ref, timeout=timeout, check=check)

    def repo_digests(self, ref: str) -> list[str]:
        """``RepoDigests`` of a local image (``name@sha256:…`` of the pulled manifest/index)."""
        result = self.docker("image", "inspect", ref, check=True)
        return list(json.loads(result.stdout)[0]["RepoDigests"])


# -- containerd --------------------------------------------------------------------------------

ContainerdMode = Literal["mirror", "server"]


def containerd_hosts_toml(
    registry: str, gate: str, mode: ContainerdMode, ca_file: Path | None = None
) -> str:
    """``hosts.toml`` for ``registry`` (e.g. ``docker.io``) with ``gate`` as mirror or server.

    ``mirror``: the gate is a ``[host]`` tried first; on any status > 399 containerd tries the
    next host, the real registry (``server``), so refusals are bypassable where egress is open.
    ``server``: the gate is the ONLY host (``server =`` plus the ``[host]`` table containerd 1.6
    needs: a lone ``server =`` line is ignored and it goes to the default registry instead).
    """
    url = Endpoint(gate).url
    ca = f'  ca = "{ca_file}"\n' if ca_file else ""
    if mode == "mirror":
        server = DEFAULT_SERVERS.get(registry, f"https://{registry}")
        return f'server = "{server}"\n\n[host."{url}"]\n  capabilities = ["pull", "resolve"]\n{ca}'
    if mode == "server":
        top = f'ca = "{ca_file}"\n' if ca_file else ""
        return f'server = "{url}"\n{top}\n[host."{url}"]\n{ca}'
    raise ValueError(f"unknown containerd mode {mode!r}")


class Containerd(_Daemon):
    """``containerd`` with private root/state/sockets; ``ctr images pull --hosts-dir``.

    The hosts dir is read on every pull, so :meth:`configure` switches gate/mode without a
    restart. ``content_sharing_policy = "isolated"`` makes every namespace fetch its own blobs
    (with the default "shared", blobs already pulled in any namespace are never requested again,
    so a gate would not see them). Requests carry ``?ns=<registry>``.
    """

    name = "containerd"

    def __init__(
        self,
        workdir: Path,
        gate: str | None,
        *,
        mode: ContainerdMode = "mirror",
        registries: Sequence[str] = ("docker.io",),
        ca_file: Path | None = None,
        namespace: str = "gatekeeper-test",
    ) -> None:
        self.binary = require("containerd")
        self.ctr_binary = require("ctr")
        super().__init__(workdir)
        self.namespace = namespace
        self.socket = self.rundir / "containerd.sock"
        self.hosts_dir = self.workdir / "hosts"
        self.configure(gate, mode=mode, registries=registries, ca_file=ca_file)
        disabled = ", ".join(
            f'"{p}"'
            for p in (
                "io.containerd.grpc.v1.cri",
                "io.containerd.snapshotter.v1.aufs",
                "io.containerd.snapshotter.v1.btrfs",
                "io.containerd.snapshotter.v1.zfs",
                "io.containerd.snapshotter.v1.devmapper",
            )
        )
        self.config_path = self.workdir / "config.toml"
        self.config_path.write_text(f"""\
version = 2
root = "{self.workdir / "root"}"
state = "{self.rundir / "state"}"
disabled_plugins = [{disabled}]

[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
[debug]
  address = "{self.rundir / "debug.sock"}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{self.workdir / "opt"}"
[plugins."io.containerd.metadata.v1.bolt"]
  content_sharing_policy = "isolated"
""")
        self.env = {**os.environ, "CONTAINERD_ADDRESS": str(self.socket)}
        self.start()

    def configure(
        self,
        gate: str | None,
        *,
        mode: ContainerdMode = "mirror",
        registries: Sequence[str] = ("docker.io",),
        ca_file: Path | None = None,
    ) -> None:
        """(Re)write ``HOSTS/<registry>/hosts.toml`` for each registry host (``gate=None``: no
        hosts files, containerd's defaults)."""
        shutil.rmtree(self.hosts_dir, ignore_errors=True)
        self.hosts_dir.mkdir(parents=True)
        if gate is None:
            return
        for registry in registries:
            path = self.hosts_dir / registry / "hosts.toml"
            path.parent.mkdir(parents=True)
            path.write_text(containerd_hosts_toml(registry, gate, mode, ca_file))

    def start(self) -> None:
        self._spawn([self.binary, "--config", str(self.config_path)])
        self._wait_ready(
            lambda: (
                self.socket.exists()
                and self.ctr("version", timeout=5, namespace="default").returncode == 0
            )
        )

    def ctr(
        self,
        *args: str,
        timeout: float = PULL_TIMEOUT,
        check: bool = False,
        namespace: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            self.ctr_binary,
            "--address",
            str(self.socket),
            "-n",
            namespace or self.namespace,
            *args,
        ]
        return _run(cmd, env=self.env, timeout=timeout, check=check)

    def pull(
        self,
        ref: str,
        *,
        platform: str | None = None,
        all_platforms: bool = False,
        namespace: str | None = None,
        timeout: float = PULL_TIMEOUT,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """``ctr images pull --hosts-dir HOSTS REF``; REF fully qualified
        (``docker.io/library/hello:1.0.0``). A fresh ``namespace`` re-fetches everything."""
        extra = ["--platform", platform] if platform else []
        if all_platforms:
            extra.append("--all-platforms")
        return self.ctr(
            "images",
            "pull",
            "--hosts-dir",
            str(self.hosts_dir),
            *extra,
            ref,
            timeout=timeout,
            check=check,
            namespace=namespace,
        )

    def image_digest(self, ref: str, *, namespace: str | None = None) -> str | None:
        """The target digest of a local image, or None."""
        out = self.ctr("images", "ls", check=True, namespace=namespace).stdout
        for line in out.splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == ref:
                return fields[2]
        return None


# -- podman ------------------------------------------------------------------------------------

PodmanMode = Literal["mirror", "remap", "blocked"]


def podman_registries_conf(
    registries: Sequence[str], gate: str | None, mode: PodmanMode = "mirror"
) -> str:
    """``registries.conf`` sending ``registries`` (e.g. ``docker.io``) through ``gate``
    (``gate=None``: no registry entries, podman talks to registries directly).

    ``mirror``: ``[[registry.mirror]]``; podman tries the real registry after a mirror fails
    (bypassable). ``remap``: ``location`` is the gate (enforcing). ``blocked``: a mirror plus
    ``blocked = true`` on the real registry: podman still uses the mirror but never falls back
    (enforcing; the error names both).
    """
    out = ['unqualified-search-registries = ["docker.io"]', 'short-name-mode = "permissive"', ""]
    if gate is None:
        return "\n".join(out)
    endpoint = Endpoint(gate)
    insecure = "true" if endpoint.plain_http else "false"
    for registry in registries:
        if mode == "remap":
            out += [
                "[[registry]]",
                f'prefix = "{registry}"',
                f'location = "{endpoint.host}"',
                f"insecure = {insecure}",
                "",
            ]
            continue
        if mode not in ("mirror", "blocked"):
            raise ValueError(f"unknown podman mode {mode!r}")
        out += ["[[registry]]", f'prefix = "{registry}"', f'location = "{registry}"']
        if mode == "blocked":
            out.append("blocked = true")
        out += [
            "[[registry.mirror]]",
            f'location = "{endpoint.host}"',
            f"insecure = {insecure}",
            "",
        ]
    return "\n".join(out)


class Podman(_PrivateState):
    """``podman`` as root with vfs storage, its own registries/storage/containers.conf and
    signature policy, and (for an https gate) a private ``--cert-dir`` holding ``ca_file``.

    podman has no daemon: every call is a fresh process, so there is nothing to stop except
    leftover storage mounts (vfs makes none; teardown sweeps anyway).
    """

    def __init__(
        self,
        workdir: Path,
        gate: str | None,
        *,
        mode: PodmanMode = "mirror",
        registries: Sequence[str] = ("docker.io",),
        ca_file: Path | None = None,
    ) -> None:
        self.binary = require("podman")
        self.workdir = workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rundir = short_rundir(self.workdir)
        self.root, self.runroot = self.workdir / "root", self.rundir / "runroot"
        self.cert_dir = self.workdir / "certs"
        self.registries_conf = self.workdir / "registries.conf"
        storage_conf = self.workdir / "storage.conf"
        storage_conf.write_text(
            f'[storage]\ndriver = "vfs"\nrunroot = "{self.runroot}"\ngraphroot = "{self.root}"\n'
        )
        tmp = self.workdir / "tmp"
        tmp.mkdir(exist_ok=True)
        containers_conf = self.workdir / "containers.conf"
        containers_conf.write_text(
            f'[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
            f'events_logfile_path = "{self.workdir / "events.log"}"\n'
            f'image_copy_tmp_dir = "{tmp}"\n'
        )
        self.policy = self.workdir / "policy.json"
        self.policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}\n')
        auth_file = self.workdir / "auth.json"  # podman refuses a REGISTRY_AUTH_FILE that is absent
        if not auth_file.exists():
            auth_file.write_text('{"auths": {}}\n')
        self.env = {
            **os.environ,
            "CONTAINERS_REGISTRIES_CONF": str(self.registries_conf),
            "CONTAINERS_STORAGE_CONF": str(storage_conf),
            "CONTAINERS_CONF": str(containers_conf),
            "REGISTRY_AUTH_FILE": str(auth_file),
            "TMPDIR": str(tmp),
        }
        self.configure(gate, mode=mode, registries=registries, ca_file=ca_file)

    def configure(
        self,
        gate: str | None,
        *,
        mode: PodmanMode = "mirror",
        registries: Sequence[str] = ("docker.io",),
        ca_file: Path | None = None,
    ) -> None:
        """(Re)write registries.conf and the cert dir; read afresh by the next command."""
        self.registries_conf.write_text(podman_registries_conf(registries, gate, mode))
        shutil.rmtree(self.cert_dir, ignore_errors=True)
        self.cert_dir.mkdir()
        if ca_file is not None:
            # containers/image treats every *.crt in --cert-dir as a CA, for mirrors too
            shutil.copyfile(ca_file, self.cert_dir / "ca.crt")

    def podman(
        self, *args: str, timeout: float = PULL_TIMEOUT, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            self.binary,
            "--root",
            str(self.root),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            "vfs",
            *args,
        ]
        return _run(cmd, env=self.env, timeout=timeout, check=check)

    def pull(
        self,
        ref: str,
        *,
        arch: str | None = None,
        platform: str | None = None,
        timeout: float = PULL_TIMEOUT,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """``podman pull REF`` with the private policy and cert dir."""
        extra = ["--arch", arch] if arch else []
        extra += ["--platform", platform] if platform else []
        return self.podman(
            "pull",
            "--signature-policy",
            str(self.policy),
            "--cert-dir",
            str(self.cert_dir),
            *extra,
            ref,
            timeout=timeout,
            check=check,
        )

    def image_digest(self, ref: str) -> str:
        """The digest podman recorded for a local image (of the manifest or index pulled)."""
        return self.podman(
            "image", "inspect", "--format", "{{.Digest}}", ref, check=True
        ).stdout.strip()
