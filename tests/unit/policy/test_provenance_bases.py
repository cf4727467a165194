"""Trusted bases read from signed SLSA provenance, the label as the fallback, max_layers."""

from __future__ import annotations

from typing import Any

import pytest

from gatekeeper.policy.attestation_evidence import (
    AttestationsEvidence,
    RequirementEvidence,
    StatementResult,
)
from gatekeeper.policy.attestation_model import AttestationRequirement
from gatekeeper.policy.evidence import Evidence, ImageFacts
from gatekeeper.policy.image_checks import BASE_NAME_LABEL, check_image
from gatekeeper.policy.model import ImagePolicy, Outcome, SignaturePolicy
from gatekeeper.policy.provenance_bases import (
    SignedBases,
    image_reference,
    provenance_images,
    signed_bases,
)
from tests.unit.policy.test_decide import NOW, decide, policy, request, rule

SLSA_V1 = "https://slsa.dev/provenance/v1"
SHA = "a" * 64


@pytest.mark.parametrize(
    ("uri", "digest", "expected"),
    [
        # as BuildKit writes them
        (
            "pkg:docker/python@3.11-slim-bookworm?platform=linux%2Famd64",
            {"sha256": SHA},
            f"docker.io/library/python:3.11-slim-bookworm@sha256:{SHA}",
        ),
        ("pkg:docker/docker/dockerfile@1.5", None, "docker.io/docker/dockerfile:1.5"),
        (
            "pkg:docker/cgr.dev/chainguard/wolfi-base@latest",
            None,
            "cgr.dev/chainguard/wolfi-base:latest",
        ),
        (
            "pkg:docker/registry.gitlab.com/base-images/python@3.12",
            {"sha256": SHA},
            f"registry.gitlab.com/base-images/python:3.12@sha256:{SHA}",
        ),
        ("pkg:docker/localhost:5000/base/x@1", None, "localhost:5000/base/x:1"),
        (f"pkg:docker/alpine@sha256%3A{SHA}", None, f"docker.io/library/alpine@sha256:{SHA}"),
        (
            "pkg:docker/base/x@2?repository_url=ghcr.io",
            None,
            "ghcr.io/base/x:2",
        ),
        # the purl spec's OCI form
        (
            f"pkg:oci/debian@sha256%3A{SHA}?repository_url=docker.io/library/debian&tag=12",
            None,
            f"docker.io/library/debian:12@sha256:{SHA}",
        ),
        # LLB source identifiers
        (
            f"docker-image://docker.io/library/alpine:3.20@sha256:{SHA}",
            {"sha256": "b" * 64},
            f"docker.io/library/alpine:3.20@sha256:{SHA}",
        ),
        # not images
        ("git+https://github.com/acme/app@refs/heads/main", {"gitCommit": "0" * 40}, None),
        ("https://download.example/tool.tgz", {"sha256": SHA}, None),
        ("pkg:pypi/requests@2.32.0", None, None),
        # an image that cannot be read stays as written: it matches no trusted base
        ("pkg:docker/", None, "pkg:docker/"),
    ],
)
def test_image_reference(uri: str, digest: object, expected: str | None) -> None:
    assert image_reference(uri, digest) == expected


def buildkit_v1(*uris: str) -> dict[str, Any]:
    return {
        "predicateType": SLSA_V1,
        "predicate": {
            "buildDefinition": {
                "resolvedDependencies": [{"uri": uri, "digest": {"sha256": SHA}} for uri in uris]
            }
        },
    }


def test_provenance_images_v1_v02_and_others() -> None:
    statement = buildkit_v1(
        "pkg:docker/docker/dockerfile@1.5",
        "pkg:docker/alpine@3.20?platform=linux%2Famd64",
        "git+https://github.com/acme/app@refs/heads/main",
        "pkg:docker/alpine@3.20?platform=linux%2Famd64",  # twice: named once
    )
    assert provenance_images(statement) == (
        f"docker.io/docker/dockerfile:1.5@sha256:{SHA}",
        f"docker.io/library/alpine:3.20@sha256:{SHA}",
    )
    v02 = {
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "predicate": {"materials": [{"uri": "pkg:docker/nginx@1.27-alpine"}]},
    }
    assert provenance_images(v02) == ("docker.io/library/nginx:1.27-alpine",)
    github = buildkit_v1("git+https://github.com/acme/app@refs/heads/main")
    assert provenance_images(github) == ()
    assert provenance_images({"predicateType": SLSA_V1, "predicate": {}}) == ()
    assert (
        provenance_images({"predicateType": "https://cyclonedx.org/bom", "predicate": {}}) is None
    )
    assert provenance_images({"predicateType": SLSA_V1, "predicate": "x"}) is None


REQUIREMENT = AttestationRequirement("provenance", SLSA_V1, SignaturePolicy(keys=()))
ALPINE = f"docker.io/library/alpine:3.20@sha256:{SHA}"
EVIL = f"docker.io/library/alpine-evil:1@sha256:{SHA}"


def found(*statements: StatementResult, name: str = "provenance") -> AttestationsEvidence:
    return AttestationsEvidence((RequirementEvidence(name, SLSA_V1, statements),))


def statement(*images: str, failed: str | None = None) -> StatementResult:
    return StatementResult("tag sha256-x.att", "key k1", failed, images=images)


def test_signed_bases_prefers_statements_that_name_images() -> None:
    none = statement()
    some = statement(ALPINE)
    assert signed_bases((REQUIREMENT,), found(none, some)) == SignedBases(
        "provenance", "tag sha256-x.att", "key k1", (ALPINE,)
    )
    assert signed_bases((REQUIREMENT,), found(none)) == SignedBases(
        "provenance", "tag sha256-x.att", "key k1", ()
    )
    assert signed_bases((REQUIREMENT,), None) is None
    # a statement that is not provenance, or a requirement the rule does not have
    assert signed_bases((REQUIREMENT,), found(StatementResult("s", "k"))) is None
    assert signed_bases((REQUIREMENT,), found(some, name="other")) is None


BASES = ImagePolicy(trusted_bases=("docker.io/library/alpine",))
PROVENANCE = "signed SLSA provenance 'provenance' (tag sha256-x.att, signed by key k1)"
LABEL_ALPINE = ImageFacts(labels={BASE_NAME_LABEL: "docker.io/library/alpine:3.20"})
LABEL_EVIL = ImageFacts(labels={BASE_NAME_LABEL: "docker.io/library/alpine-evil:1"})

BASE_CASES = [
    (
        "provenance-trusted",  # the label is not read when provenance names the base
        LABEL_EVIL,
        statement(ALPINE),
        None,
    ),
    (
        "provenance-untrusted-beats-label",
        LABEL_ALPINE,
        statement(EVIL),
        f"base image {EVIL} untrusted (read from {PROVENANCE})",
    ),
    (
        "provenance-every-image-counts",
        LABEL_ALPINE,
        statement(ALPINE, "docker.io/docker/dockerfile:1.5", EVIL),
        f"base images docker.io/docker/dockerfile:1.5, {EVIL} untrusted (read from {PROVENANCE})",
    ),
    (
        "provenance-without-images-falls-back-to-label",
        LABEL_ALPINE,
        statement(),
        None,
    ),
    (
        "provenance-without-images-and-no-label",
        ImageFacts(),
        statement(),
        f"base image unknown: {PROVENANCE} names no image, and label {BASE_NAME_LABEL} is not set",
    ),
    (
        "label-fallback-untrusted",
        LABEL_EVIL,
        None,
        "base image docker.io/library/alpine-evil:1 is untrusted"
        f" (read from label {BASE_NAME_LABEL}: no signed provenance names it)",
    ),
]


@pytest.mark.parametrize(
    ("facts", "provenance", "reason"),
    [c[1:] for c in BASE_CASES],
    ids=[c[0] for c in BASE_CASES],
)
def test_trusted_base_source(
    facts: ImageFacts, provenance: StatementResult | None, reason: str | None
) -> None:
    gate = policy(rule("app", "team/*", image=BASES, attestations=(REQUIREMENT,)))
    attestations = found(provenance) if provenance is not None else found()
    decision = decide(gate, request(), Evidence(image=facts, attestations=attestations))
    if reason is None:
        assert decision.outcome is Outcome.ALLOW, decision.reasons
        return
    assert decision.outcome is Outcome.DENY
    assert reason in decision.reasons
    assert "image-base" in decision.codes


def test_provenance_pass_is_noted() -> None:
    result = check_image(
        BASES, ImageFacts(), NOW, SignedBases("provenance", "referrer sha256:1", "key k", (ALPINE,))
    )
    assert result.refusals == ()
    assert result.notes == (
        f"base images {ALPINE} are trusted (read from signed SLSA provenance 'provenance'"
        " (referrer sha256:1, signed by key k))",
    )


def test_index_child_inherits_the_base_judgement() -> None:
    """An index admitted on its provenance: the child pulled by digest has no label."""
    gate = policy(rule("app", "team/*", image=BASES, attestations=(REQUIREMENT,)))
    child = request("sha256:" + "c" * 64, inherited_from="sha256:" + "d" * 64)
    decision = decide(gate, child, Evidence(image=ImageFacts()))
    assert decision.outcome is Outcome.ALLOW, decision.reasons
    assert any("trusted base: judged with index" in note for note in decision.reasons)


@pytest.mark.parametrize(("layers", "refused"), [(3, False), (4, True)])
def test_max_layers(layers: int, refused: bool) -> None:
    result = check_image(ImagePolicy(max_layers=3), ImageFacts(layers=layers), NOW)
    if not refused:
        assert result.refusals == ()
        return
    (refusal,) = result.refusals
    assert refusal.reason == "image has 4 layers, more than image.max_layers 3"
    assert refusal.code == "image-layers"
