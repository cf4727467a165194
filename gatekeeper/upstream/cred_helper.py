"""Run a Docker credential helper: ``docker-credential-<name> get``, the server on stdin.

The protocol (docker/docker-credential-helpers ``client.Get``): the server URL is written to
the helper's stdin; it prints ``{"ServerURL": …, "Username": …, "Secret": …}`` and exits 0,
or prints ``credentials not found in native keychain`` and exits non-zero when it has none
(then the upstream is asked anonymously, as Docker does). A ``Username`` of ``<token>``
means ``Secret`` is an identity token (an OAuth2 refresh token), not a password.

Bounded: the helper gets ``seconds`` and ``max_bytes`` of output, then it is killed.
Every failure is one line naming the helper and the server; the helper's output is quoted
only when it cannot hold the secret (a non-JSON line), and never after a parse failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil

from gatekeeper.errors import Unavailable
from gatekeeper.upstream.credentials import Credential, HelperRef

NOT_FOUND = "credentials not found in native keychain"
IDENTITY_TOKEN_USERNAME = "<token>"  # noqa: S105 - the protocol's marker, not a secret
MAX_BYTES = 64 * 1024


class CredentialHelperError(Unavailable):
    """A credential helper failed: gatekeeper cannot authenticate to that upstream."""


async def run_helper(
    ref: HelperRef, *, seconds: float, max_bytes: int = MAX_BYTES, search: str | None = None
) -> Credential | None:
    """The credential ``ref``'s helper gives for its server; None when it has none.

    The helper is looked up on ``search`` (default: ``PATH``), as Docker looks it up."""
    program = f"docker-credential-{ref.name}"
    where = f"{program} get for {ref.server}"
    path = shutil.which(program, path=search)
    if path is None:
        raise CredentialHelperError(f"{where}: {program} is not on PATH")
    try:
        proc = await asyncio.create_subprocess_exec(
            path,
            "get",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=os.environ.copy(),
        )
    except OSError as exc:
        raise CredentialHelperError(f"{where}: cannot run it ({exc.strerror})") from None
    try:
        async with asyncio.timeout(seconds):
            out, err = await _exchange(proc, ref.server.encode(), max_bytes)
            code = await proc.wait()
    except TimeoutError:
        raise CredentialHelperError(f"{where}: no answer within {seconds:g}s") from None
    except _TooLong:
        raise CredentialHelperError(f"{where}: more than {max_bytes} bytes of output") from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if code != 0:
        said = _first_line(out) or _first_line(err)
        if NOT_FOUND in said:
            return None
        raise CredentialHelperError(f"{where}: exit {code}" + (f": {said}" if said else ""))
    return _parse(out, where)


class _TooLong(Exception):
    pass


async def _exchange(
    proc: asyncio.subprocess.Process, stdin: bytes, max_bytes: int
) -> tuple[bytes, bytes]:
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(stdin)
        await proc.stdin.drain()
    proc.stdin.close()
    out, err = await asyncio.gather(
        _read_bounded(proc.stdout, max_bytes), _read_bounded(proc.stderr, max_bytes)
    )
    return out, err


async def _read_bounded(stream: asyncio.StreamReader, max_bytes: int) -> bytes:
    """Everything until EOF; ``_TooLong`` past ``max_bytes``."""
    data = bytearray()
    while chunk := await stream.read(65536):
        data += chunk
        if len(data) > max_bytes:
            raise _TooLong
    return bytes(data)


def _first_line(data: bytes) -> str:
    """The first non-empty line, shortened; withheld when it might be a credential document."""
    for line in data.decode("utf-8", "replace").splitlines():
        text = line.strip()
        if text:
            if "{" in text or "Secret" in text:
                return "(output withheld: it may hold a secret)"
            return text[:200] + ("…" if len(text) > 200 else "")
    return ""


def _parse(out: bytes, where: str) -> Credential:
    try:
        doc = json.loads(out)
    except ValueError:
        raise CredentialHelperError(f"{where}: output is not JSON") from None
    if not isinstance(doc, dict):
        raise CredentialHelperError(f"{where}: output is not a JSON object")
    username, secret = doc.get("Username"), doc.get("Secret")
    if not isinstance(username, str) or not isinstance(secret, str) or not secret:
        raise CredentialHelperError(f"{where}: output lacks a Username and Secret")
    if username == IDENTITY_TOKEN_USERNAME:
        return Credential(identity_token=secret)
    return Credential(username, secret)
