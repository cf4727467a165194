from __future__ import annotations

from gatekeeper.errors import Denied
from gatekeeper.policy.decision import Decision
from gatekeeper.policy.model import Mode, Outcome
from gatekeeper.server.enforce import refusal, warning_headers

DIGEST = "sha256:" + "c" * 64
DENY = Decision(
    Outcome.DENY, "team-apps", Mode.ENFORCE, ("tag 'latest' is not allowed",), ("pin by digest",)
)


def test_enforced_deny_raises_a_readable_denied_error() -> None:
    error = refusal(DENY, DIGEST, "latest")
    assert isinstance(error, Denied)
    assert error.status == 403 and error.code == "DENIED"
    assert error.message == (
        "gatekeeper: team-apps: tag 'latest' is not allowed (fix: pin by digest)"
    )
    assert error.detail == {
        "rule": "team-apps",
        "reasons": ["tag 'latest' is not allowed"],
        "hints": ["pin by digest"],
        "codes": [],
        "digest": DIGEST,
        "reference": "latest",
    }


def test_dry_run_deny_is_a_warning_only() -> None:
    dry = Decision(Outcome.DENY, "team-apps", Mode.DRY_RUN, ('tag "x" bad',))
    assert warning_headers(dry) == ['299 - "gatekeeper: would deny: team-apps: tag \\"x\\" bad"']
    assert dry.log_outcome == "would-deny"


def test_allow_has_no_warning() -> None:
    allow = Decision(Outcome.ALLOW, "r", Mode.ENFORCE)
    assert warning_headers(allow) == []


def test_no_rule_message() -> None:
    decision = Decision(Outcome.DENY, None, Mode.ENFORCE, ("no policy rule matches x",))
    assert refusal(decision, DIGEST, "v1").message.startswith("gatekeeper: no matching rule:")


def test_long_warnings_end_with_an_ellipsis() -> None:
    dry = Decision(Outcome.DENY, "r", Mode.DRY_RUN, ("x" * 1000,))
    (warning,) = warning_headers(dry)
    assert warning.endswith('..."') and len(warning) < 480
