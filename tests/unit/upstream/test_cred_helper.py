"""Docker credential helpers run for real: small scripts speaking the helper protocol."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from gatekeeper.upstream.cred_helper import CredentialHelperError, run_helper
from gatekeeper.upstream.credentials import Credential, CredentialStore, HelperRef

SECRET = "s3cret-value"


def helper(tmp_path: Path, body: str, name: str = "test") -> str:
    """A ``docker-credential-<name>`` shell script in ``tmp_path``; returns the search path."""
    script = tmp_path / f"docker-credential-{name}"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(tmp_path)


async def test_answer_with_the_server_read_from_stdin(tmp_path: Path) -> None:
    search = helper(
        tmp_path,
        '[ "$1" = get ] || exit 3\nread server\n'
        'printf \'{"ServerURL":"%s","Username":"%s","Secret":"' + SECRET + "\"}' "
        '"$server" "user-for-$server"\n',
    )
    got = await run_helper(HelperRef("test", "reg.example:5000"), seconds=10, search=search)
    assert got == Credential("user-for-reg.example:5000", SECRET)


async def test_identity_token(tmp_path: Path) -> None:
    search = helper(tmp_path, 'cat >/dev/null\necho \'{"Username":"<token>","Secret":"rt"}\'\n')
    got = await run_helper(HelperRef("test", "r"), seconds=10, search=search)
    assert got == Credential(identity_token="rt")


async def test_not_found_means_anonymous(tmp_path: Path) -> None:
    search = helper(
        tmp_path, "cat >/dev/null\necho 'credentials not found in native keychain'\nexit 1\n"
    )
    assert await run_helper(HelperRef("test", "r"), seconds=10, search=search) is None


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("echo 'no route to the metadata service' >&2\nexit 2\n", "exit 2: no route to the"),
        (f"echo 'Secret={SECRET}'\nexit 1\n", "output withheld"),
        (f"echo 'oops {SECRET}'\n", "output is not JSON"),
        ('echo \'{"Username":"u"}\'\n', "lacks a Username and Secret"),
        ("head -c 200000 /dev/zero | tr '\\0' a\n", "more than 65536 bytes"),
    ],
)
async def test_failures_are_one_line_without_the_secret(
    tmp_path: Path, body: str, says: str
) -> None:
    search = helper(tmp_path, "cat >/dev/null\n" + body)
    with pytest.raises(CredentialHelperError) as caught:
        await run_helper(HelperRef("test", "r.example"), seconds=10, search=search)
    message = caught.value.message
    assert says in message
    assert "docker-credential-test get for r.example" in message
    assert SECRET not in message and "\n" not in message


async def test_a_hanging_helper_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    search = helper(tmp_path, f"echo $$ > {pid_file}\nexec sleep 30\n")
    started = time.monotonic()
    with pytest.raises(CredentialHelperError, match=r"no answer within 0\.5s"):
        await run_helper(HelperRef("test", "r"), seconds=0.5, search=search)
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


async def test_a_missing_helper(tmp_path: Path) -> None:
    with pytest.raises(CredentialHelperError, match="docker-credential-nope is not on PATH"):
        await run_helper(HelperRef("nope", "r"), seconds=1, search=str(tmp_path))


def test_config_lookup_order(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "auths": {"plain.example": {"username": "u", "password": "p"}},
                "credHelpers": {"123.dkr.ecr.example:443": "ecr-login", "docker.io": "hub"},
            }
        )
    )
    store = CredentialStore.load(path)
    assert store.lookup("https://123.dkr.ecr.example") == HelperRef(
        "ecr-login", "123.dkr.ecr.example"
    )
    assert store.lookup("https://registry-1.docker.io") == HelperRef(
        "hub", "https://index.docker.io/v1/"
    )
    assert store.lookup("https://plain.example") == Credential("u", "p")
    assert store.lookup("https://other.example") is None
    path.write_text(json.dumps({"auths": {"plain.example": {}}, "credsStore": "desktop"}))
    assert CredentialStore.load(path).lookup("http://plain.example:5000") == HelperRef(
        "desktop", "plain.example:5000"
    )


@pytest.mark.parametrize(
    "doc",
    [{"credsStore": "../../bin/sh"}, {"credHelpers": {"h": "-rf"}}, {"credHelpers": {"h": 1}}],
)
def test_bad_helper_names(tmp_path: Path, doc: object) -> None:
    from gatekeeper.errors import ConfigError

    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError):
        CredentialStore.load(path)
