"""Secrets by value and by name in ENV and labels (detect-secrets' detectors), never echoed."""

from __future__ import annotations

import pytest

from gatekeeper.oci.image_config import ImageFacts, SecretFinding
from gatekeeper.policy.checks import CODES
from gatekeeper.policy.image_checks import check_image
from gatekeeper.policy.model import ImagePolicy
from gatekeeper.policy.secret_values import (
    NAMED_LIKE_A_SECRET,
    detectors,
    env_secrets,
    find_secrets,
    label_secrets,
)
from tests.unit.policy.test_decide import NOW

# Shaped like the real thing (AWS's documented example key pair, jwt.io's example token);
# none of them is live.
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB = "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"
GITHUB_FINE = (
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRS"
)
SLACK = "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiw"
    "iaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi\n"
    "-----END RSA PRIVATE KEY-----"
)
OPENSSH = "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\n-----END"
STRIPE = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"

FOUND = [
    ("aws-key-id", f"APP_ID={AWS_KEY_ID}", "AWS Access Key"),
    ("aws-secret-by-name", f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", "AWS Access Key"),
    ("github-classic", f"GH={GITHUB}", "GitHub Token"),
    ("github-in-url", f"REPO=https://x-access-token:{GITHUB}@github.com/a/b", "GitHub Token"),
    ("slack", f"NOTIFY={SLACK}", "Slack Token"),
    ("jwt", f"SESSION={JWT}", "JSON Web Token"),
    ("pem", f"TLS={PEM}", "Private Key"),
    ("openssh-escaped", f"DEPLOY={OPENSSH}", "Private Key"),
    ("stripe", f"PAY={STRIPE}", "Stripe Access Key"),
    (
        "password-in-url",
        "DATABASE_URL=postgres://app:s3cr3t-pw@db:5432/app",
        "Basic Auth Credentials",
    ),
    ("by-name", "DB_PASSWORD=hunter2", NAMED_LIKE_A_SECRET),
    ("by-name-lower", "github_token=abc", NAMED_LIKE_A_SECRET),
]
# Real ENV from official images (python, node, golang, nginx, postgres), and what looks like
# a secret but is not one.
NEAR_MISSES = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
    "PYTHON_SHA256=bfb249609990220491a1b92850a07135ed0831e41738cf681d63cf01b2a8fbd1",
    "NODE_VERSION=20.15.1",
    "YARN_VERSION=1.22.22",
    "GOLANG_VERSION=1.22.5",
    "NGINX_VERSION=1.27.0",
    "PKG_RELEASE=1~bookworm",
    "PGDATA=/var/lib/postgresql/data",
    "GOSU_VERSION=1.17",
    "LANG=C.UTF-8",
    "JAVA_HOME=/opt/java/openjdk",
    "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
    "POSTGRES_PASSWORD_FILE=/run/secrets/db",  # the recommended way: a pointer
    "TOKEN_PATH=/var/run/secrets/kubernetes.io/serviceaccount/token",
    "HTTP_PROXY=http://proxy.internal:3128",  # a port, not a password
    "REPO=https://user@git.example.com/x.git",  # a user without a password
    "ID=123e4567-e89b-12d3-a456-426614174000",
    "AWS_REGION=eu-west-1",
    "AWS_DEFAULT_OUTPUT=json",
    "KEY_ID=AKIA",  # a prefix alone
    "NOTE=ghp_short",
    "HEADER=-----BEGIN CERTIFICATE-----",  # a certificate is public
    "EMPTY_SECRET=",
    "BLANK_TOKEN=   ",
    "PUBLIC_KEY_URL=https://example.com/key.pub",
]


@pytest.mark.parametrize(("entry", "kind"), [f[1:] for f in FOUND], ids=[f[0] for f in FOUND])
def test_env_secret_found(entry: str, kind: str) -> None:
    name = entry.partition("=")[0]
    found = env_secrets([entry])
    assert SecretFinding("env", name, kind) in found
    assert all(entry.partition("=")[2] not in str(item) for item in found)


@pytest.mark.parametrize("entry", NEAR_MISSES)
def test_env_near_miss_passes(entry: str) -> None:
    assert env_secrets([entry]) == ()


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (
            {"com.acme.deploy-key": GITHUB},
            [SecretFinding("label", "com.acme.deploy-key", "GitHub Token")],
        ),
        ({"ci.token": "abc"}, [SecretFinding("label", "ci.token", NAMED_LIKE_A_SECRET)]),
        (
            {"com.acme.api-key": "abc"},
            [SecretFinding("label", "com.acme.api-key", NAMED_LIKE_A_SECRET)],
        ),
        ({"x.aws": AWS_KEY_ID}, [SecretFinding("label", "x.aws", "AWS Access Key")]),
        ({"org.opencontainers.image.revision": "0123456789abcdef0123456789abcdef01234567"}, []),
        ({"org.opencontainers.image.source": "https://github.com/acme/app"}, []),
        ({"maintainer": "Jane Doe <jane@example.com>"}, []),
        ({"com.acme.secret.path": "/run/secrets/x"}, []),
    ],
)
def test_label_secrets(labels: dict[str, str], expected: list[SecretFinding]) -> None:
    assert list(label_secrets(labels)) == expected


def test_detectors_are_detect_secrets_regex_plugins_without_heuristics() -> None:
    kinds = {detector.secret_type for detector in detectors()}
    assert {
        "AWS Access Key",
        "Private Key",
        "GitHub Token",
        "Slack Token",
        "JSON Web Token",
    } <= kinds
    assert not kinds & {"Public IP (ipv4)", "Secret Keyword", "Hex High Entropy String"}


CHECKS = [
    ("env-off", ImagePolicy(), ImageFacts(env=(f"GH={GITHUB}",)), None),
    (
        "env-by-value",
        ImagePolicy(forbid_secrets_in_env=True),
        ImageFacts(env=(f"GH={GITHUB}", f"K={AWS_KEY_ID}", "PATH=/bin")),
        "secrets baked into the image: ENV GH (GitHub Token), ENV K (AWS Access Key)",
    ),
    (
        "labels-not-asked",
        ImagePolicy(forbid_secrets_in_env=True),
        ImageFacts(labels={"x": GITHUB}),
        None,
    ),
    (
        "labels",
        ImagePolicy(forbid_secrets_in_labels=True),
        ImageFacts(env=(f"GH={GITHUB}",), labels={"com.acme.key": PEM}),
        "secrets baked into the image: label com.acme.key (Private Key)",
    ),
    (
        "both",
        ImagePolicy(forbid_secrets_in_env=True, forbid_secrets_in_labels=True),
        ImageFacts(env=(f"S={SLACK}",), labels={"jwt": JWT}),
        "secrets baked into the image: ENV S (Slack Token), label jwt (JSON Web Token)",
    ),
    (
        "scanned-by-gatherer",  # findings kept with the facts are used as they are
        ImagePolicy(forbid_secrets_in_env=True),
        ImageFacts(secrets=(SecretFinding("env", "A", "Private Key"),)),
        "secrets baked into the image: ENV A (Private Key)",
    ),
]


@pytest.mark.parametrize(
    ("image", "facts", "reason"), [c[1:] for c in CHECKS], ids=[c[0] for c in CHECKS]
)
def test_check_names_variable_and_kind_never_value(
    image: ImagePolicy, facts: ImageFacts, reason: str | None
) -> None:
    result = check_image(image, facts, NOW)
    if reason is None:
        assert result.refusals == ()
        return
    assert [r.reason for r in result.refusals] == [reason]
    assert result.refusals[0].code == "image-secrets" in CODES
    text = repr(result)
    for value in (GITHUB, AWS_KEY_ID, SLACK, JWT, PEM, "MIIEpAIBAAK"):
        assert value not in text


def test_find_secrets_covers_env_and_labels() -> None:
    facts = ImageFacts(env=(f"A={GITHUB}",), labels={"b": STRIPE})
    assert find_secrets(facts) == (
        SecretFinding("env", "A", "GitHub Token"),
        SecretFinding("label", "b", "Stripe Access Key"),
    )
