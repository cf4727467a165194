"""SLSA provenance v1 statements as GitHub's and cosign's attesters write them (for tests)."""

from __future__ import annotations

from tests.helpers.cosign_sign import go_json

SLSA_V1 = "https://slsa.dev/provenance/v1"
GITHUB_BUILD_TYPE = "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"
HOSTED_RUNNER = "https://github.com/actions/runner/github-hosted"


def slsa_statement(
    image_digest: str,
    name: str,
    *,
    repository: str = "https://github.com/acme/app",
    ref: str = "refs/heads/main",
    builder_id: str = HOSTED_RUNNER,
    predicate_type: str = SLSA_V1,
    images: tuple[str, ...] = (),
) -> bytes:
    """A Statement v1 with a GitHub Actions workflow provenance predicate about ``image_digest``.

    Shaped like the real one in tests/assets/provenance (actions/attest-build-provenance);
    ``images`` adds resolved dependencies as BuildKit names base images
    (``pkg:docker/alpine@3.20?platform=linux%2Famd64``), each with a sha256 digest.
    """
    algorithm, _, hex_digest = image_digest.partition(":")
    return go_json(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": name, "digest": {algorithm: hex_digest}}],
            "predicateType": predicate_type,
            "predicate": {
                "buildDefinition": {
                    "buildType": GITHUB_BUILD_TYPE,
                    "externalParameters": {
                        "workflow": {
                            "ref": ref,
                            "repository": repository,
                            "path": ".github/workflows/release.yml",
                        }
                    },
                    "internalParameters": {"github": {"event_name": "push"}},
                    "resolvedDependencies": [
                        {"uri": f"git+{repository}@{ref}", "digest": {"gitCommit": "0" * 40}},
                        *({"uri": uri, "digest": {"sha256": "b" * 64}} for uri in images),
                    ],
                },
                "runDetails": {
                    "builder": {"id": builder_id},
                    "metadata": {"invocationId": f"{repository}/actions/runs/1/attempts/1"},
                },
            },
        }
    )
