"""One regression test per finding of the hostile review (issue 9), against real processes.

Each test reproduces the finding as the review describes it and asserts the behaviour the
rebuilt admission core must have. Content that must be refused is pushed straight to the
registry (behind the gate's back); everything else goes through gatekeeper.

1. Artifact exemption: a ``subject`` or an artifact tag made any manifest exempt.
2. Cross-repository mount out of a denied repository.
3. Non-200 upstream answers skipped admission (304, 206, 203, redirects).
4. Denied repositories leaked what exists (404 vs 403, messages, catalog).
5. Immutable tags moved via DELETE then re-PUT.
6. Children of an admitted index inherited everything, their own scan verdicts included.
7. Mirror mode: ``ghcr.io/...`` names without ``?ns=`` were read from the Docker Hub route.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import hostile, images, signing
from tests.helpers.fault_upstream import EVIL, FaultyUpstream
from tests.helpers.hostile import ACCEPT_ALL, Direct, Gate, Reply, artifact_tag, send
from tests.helpers.images import OCI_MANIFEST, Image
from tests.helpers.processes import Process, start_gatekeeper, start_registry
from tests.helpers.trivy_reports import ALPINE, DEBIAN, publish

KEY = ec.generate_private_key(ec.SECP256R1())
ACCEPT = (("Accept", ACCEPT_ALL),)


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Gate]:
    running = hostile.start_gate(tmp_path_factory.mktemp("findings"), registry.url, KEY)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def direct(registry: Process) -> Direct:
    return Direct(registry.url)


def _n() -> str:
    return uuid.uuid4().hex[:10]


def get(gate: Gate, path: str, *headers: tuple[str, str], method: str = "GET") -> Reply:
    return send(gate.url, method, path, headers or ACCEPT)


def refused(reply: Reply, method: str = "GET") -> bool:
    """403, and (with a body) an OCI DENIED error."""
    return reply.status == 403 and (method == "HEAD" or reply.error_code == "DENIED")


def leaks(reply: Reply, *secrets: bytes) -> bool:
    return any(
        reply.body == secret or (len(secret) >= 64 and secret in reply.body) for secret in secrets
    )


def denied_logged(gate: Gate, mark: int, repository: str) -> bool:
    line = gate.decisions.wait_for(
        mark, lambda d: d.get("repository") == repository and d.get("outcome") == "deny", 1.0
    )
    return line is not None


def signed_and_unsigned(direct: Direct, registry: Process) -> tuple[str, Image, Image]:
    """team/<n>: unsigned U at 1.0.0, signed S at 2.0.0."""
    repo = f"team/{_n()}"
    u = direct.image(repo, images.image(f"U {repo}"), "1.0.0")
    s = direct.image(repo, images.image(f"S {repo}"), "2.0.0")
    signing.sign_and_push(registry.url, registry.host, repo, s.digest, KEY)
    return repo, u, s


def test_finding_1_artifact_exemption_serves_nothing_runnable(
    gate: Gate, direct: Direct, registry: Process
) -> None:
    repo, u, s = signed_and_unsigned(direct, registry)
    problems: list[str] = []
    secrets = (u.manifest.data, u.config.data, u.layers[0].data)

    # a) an unsigned runnable image with a subject, under a version tag
    with_subject = hostile.manifest(u.config, u.layers, subject=s.manifest)
    direct.put(repo, "4.0.0", with_subject)
    reply = get(gate, f"/v2/{repo}/manifests/4.0.0")
    if not refused(reply) or leaks(reply, with_subject.data):
        problems.append(f"image with a subject under 4.0.0 answered {reply}")
    # b) the same unsigned image under cosign's signature tag and the referrers fallback tag
    for tag in (artifact_tag(hostile.random_digest(), ".sig"), artifact_tag(s.digest)):
        direct.put(repo, tag, u.manifest)
        reply = get(gate, f"/v2/{repo}/manifests/{tag}")
        if not refused(reply) or leaks(reply, *secrets):
            problems.append(f"runnable image under artifact tag {tag} answered {reply}")
    # c) an artifact listing U's layer and config as image layers opens none of them
    as_layers = [u.layers[0], hostile.retype(u.config, images.OCI_LAYER)]
    config = hostile.sig_config(as_layers)
    direct.blobs(repo, config)
    smuggler = hostile.manifest(config, as_layers, subject=u.manifest)
    tag = artifact_tag(u.digest, ".sig")
    direct.put(repo, tag, smuggler)
    get(gate, f"/v2/{repo}/manifests/{tag}")
    for blob in (u.layers[0], u.config):
        reply = get(gate, f"/v2/{repo}/blobs/{blob.digest}", ("Accept", "*/*"))
        if reply.status == 200 or leaks(reply, blob.data):
            problems.append(f"blob {blob.digest} of the refused image served after the artifact")
    # d) an index with a subject listing the refused image admits no child
    idx = hostile.index([u.manifest], subject=s.manifest)
    direct.put(repo, "7.0.0", idx)
    get(gate, f"/v2/{repo}/manifests/7.0.0")
    reply = get(gate, f"/v2/{repo}/manifests/{u.digest}")
    if not refused(reply) or leaks(reply, u.manifest.data):
        problems.append(f"refused image as a child of an index with a subject answered {reply}")
    # e) a push by tag obeys tag rules whatever the subject says
    fresh = images.image(f"U3 {repo}")
    direct.blobs(repo, *fresh.blobs)
    body = hostile.manifest(fresh.config, fresh.layers, subject=s.manifest)
    reply = send(
        gate.url, "PUT", f"/v2/{repo}/manifests/latest", [("Content-Type", OCI_MANIFEST)], body.data
    )
    if not refused(reply) or direct.current(repo, "latest") is not None:
        problems.append(f"PUT latest of an image with a subject answered {reply}")
    assert not problems, "\n".join(problems)


def test_finding_1_skopeo_copy_of_latest_with_subject_fails(
    tmp_path: Path, gate: Gate, direct: Direct, registry: Process
) -> None:
    """The review's reproduction: an unsigned image with a subject at team/app:latest."""
    repo, u, s = signed_and_unsigned(direct, registry)
    direct.put(repo, "latest", hostile.manifest(u.config, u.layers, subject=s.manifest))
    result = images.skopeo(
        "copy",
        "--src-tls-verify=false",
        f"docker://{gate.host}/{repo}:latest",
        f"oci:{tmp_path / 'out'}:x",
        check=False,
    )
    assert result.returncode != 0, "skopeo copied an unsigned image tagged latest"
    assert "denied" in result.stderr.lower()


def test_finding_2_mount_out_of_a_denied_repository(gate: Gate, direct: Direct) -> None:
    n = _n()
    secret = f"secret/{n}"
    x = direct.image(secret, images.image(f"X {secret}"), "1.0.0")
    layer = x.layers[0]
    attempts = [  # (how, target repository, query, headers, body); one target each
        ("query", f"open/{n}-q", f"?mount={layer.digest}&from={secret}", [], None),
        (
            "form body",
            f"open/{n}-f",
            "",
            [("Content-Type", "application/x-www-form-urlencoded")],
            f"mount={layer.digest}&from={secret}".encode(),
        ),
    ]
    problems = []
    for how, target, query, headers, body in attempts:
        path = f"/v2/{target}/blobs/uploads/{query}"
        mark = gate.decisions.mark()
        answer = send(gate.url, "POST", path, headers, body)
        if answer.status == 201:
            problems.append(f"mount ({how}) answered 201 Created")
        elif (
            answer.status == 403
            and not denied_logged(gate, mark, secret)
            and not denied_logged(gate, mark, target)
        ):
            problems.append(f"mount ({how}) refused without a decision-log line")
        read = send(gate.url, "GET", f"/v2/{target}/blobs/{layer.digest}")
        if read.status == 200 or leaks(read, layer.data):
            problems.append(f"after the mount ({how}) {target} serves the secret blob")
    # plain uploads to open/** keep working
    started = send(gate.url, "POST", f"/v2/open/{n}-plain/blobs/uploads/")
    if started.status != 202:
        problems.append(f"plain upload to open/** answered {started}")
    assert not problems, "\n".join(problems)


def test_finding_3_if_none_match_on_a_refused_tag_is_403_not_304(
    gate: Gate, direct: Direct, registry: Process
) -> None:
    repo, u, _ = signed_and_unsigned(direct, registry)
    direct.put(repo, "latest", u.manifest)
    for method in ("GET", "HEAD"):
        for extra in (("If-None-Match", f'"{u.digest}"'), ("Range", "bytes=0-9")):
            reply = send(gate.url, method, f"/v2/{repo}/manifests/latest", [*ACCEPT, extra])
            assert refused(reply, method), f"{method} with {extra[0]} answered {reply}"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FaultyUpstream, Process]]:
    img = images.image("faulty")
    work = tmp_path_factory.mktemp("faulty")
    policy = work / "policy.yaml"
    policy.write_text(
        'mode: enforce\nrules: [{name: apps, repositories: ["**"], tags: {deny: [latest]}}]\n'
    )
    with FaultyUpstream(img.manifest.data, OCI_MANIFEST) as upstream:
        process = start_gatekeeper(work, upstream.url, policy)
        try:
            yield upstream, process
        finally:
            process.stop()


def test_finding_3_upstream_answers_other_than_200_are_not_relayed(
    faulty: tuple[FaultyUpstream, Process],
) -> None:
    upstream, gk = faulty
    problems = []
    for mode in ("partial", "nonauth", "redirect", "notmodified"):
        for method in ("GET", "HEAD"):
            for tag in ("1.0.0", "latest"):
                path = f"/v2/{mode}/app/manifests/{tag}"
                reply = send(gk.url, method, path, ACCEPT)
                location = reply.header("Location") or ""
                if (
                    reply.status not in (403, 502)
                    or leaks(reply, upstream.manifest)
                    or EVIL in location
                ):
                    problems.append(f"{method} {path} → {reply.status} Location={location!r}")
    assert not problems, "gatekeeper relayed unchecked upstream answers:\n" + "\n".join(problems)


def test_finding_3_manifest_reads_upstream_are_plain_full_gets(
    faulty: tuple[FaultyUpstream, Process],
) -> None:
    upstream, gk = faulty
    conditional = [
        ("If-None-Match", f'"{upstream.digest}"'),
        ("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"),
        ("Range", "bytes=0-9"),
    ]
    before = len(upstream.seen)
    refused_tag = send(gk.url, "GET", "/v2/honest/app/manifests/latest", [*ACCEPT, *conditional])
    allowed = send(gk.url, "GET", "/v2/honest/app/manifests/1.0.0", [*ACCEPT, *conditional])
    asked = [seen for seen in upstream.seen[before:] if "/manifests/" in seen.path]
    assert refused(refused_tag), f"refused tag with If-None-Match answered {refused_tag}"
    assert allowed.status in (200, 304), allowed
    if allowed.status == 200:
        assert allowed.body == upstream.manifest
    sent = {name for seen in asked for name in seen.headers}
    assert not sent & {"if-none-match", "if-modified-since", "range", "if-match", "if-range"}, (
        f"gatekeeper forwarded conditional/range headers upstream: {sorted(sent)}"
    )


def test_finding_4_denied_repositories_leak_nothing(gate: Gate, direct: Direct) -> None:
    n = _n()
    secret = f"secret/{n}"
    x = direct.image(secret, images.image(f"X {secret}"), "1.0.0")
    problems = []
    pairs = [
        ("GET with Accept", "GET", "manifests/1.0.0", "manifests/9.9.9", ACCEPT),
        ("GET without Accept", "GET", "manifests/1.0.0", "manifests/9.9.9", ()),
        ("HEAD", "HEAD", "manifests/1.0.0", "manifests/9.9.9", ACCEPT),
        (
            "by digest",
            "GET",
            f"manifests/{x.digest}",
            f"manifests/{hostile.random_digest()}",
            ACCEPT,
        ),
        ("blob", "GET", f"blobs/{x.layers[0].digest}", f"blobs/{hostile.random_digest()}", ()),
    ]
    for what, method, existing, missing, headers in pairs:
        one = send(gate.url, method, f"/v2/{secret}/{existing}", headers)
        other = send(gate.url, method, f"/v2/{secret}/{missing}", headers)
        if not (refused(one, method) and refused(other, method)):
            problems.append(f"{what}: existing → {one}, missing → {other}")
        elif (
            method == "GET"
            and json.loads(one.body)["errors"][0]["code"]
            != json.loads(other.body)["errors"][0]["code"]
        ):
            problems.append(f"{what}: error codes differ")
    mark = gate.decisions.mark()
    send(gate.url, "GET", f"/v2/{secret}/manifests/9.9.9", ACCEPT)
    if not denied_logged(gate, mark, secret):
        problems.append("refusal of a missing tag in a denied repository was not logged")
    catalog = send(gate.url, "GET", "/v2/_catalog?n=20&last=secret")
    if catalog.status == 200:
        listed = json.loads(catalog.body).get("repositories") or []
        if any(not r.startswith(hostile.ALLOWED_PREFIXES) for r in listed):
            problems.append(f"catalog lists denied repositories: {listed[:5]}")
    elif catalog.status != 403:
        problems.append(f"catalog answered {catalog}")
    assert not problems, "\n".join(problems)


def test_finding_5_immutable_tags_do_not_move_via_delete(gate: Gate, direct: Direct) -> None:
    imm = f"imm/{_n()}"
    first = direct.image(imm, images.image(f"I1 {imm}"), "1.0.0")
    second = images.image(f"I2 {imm}")
    direct.blobs(imm, *second.blobs)
    by_digest = send(gate.url, "DELETE", f"/v2/{imm}/manifests/{first.digest}")
    by_tag = send(gate.url, "DELETE", f"/v2/{imm}/manifests/1.0.0")
    moved = send(
        gate.url,
        "PUT",
        f"/v2/{imm}/manifests/1.0.0",
        [("Content-Type", OCI_MANIFEST)],
        second.manifest.data,
    )
    again = send(
        gate.url,
        "PUT",
        f"/v2/{imm}/manifests/1.0.0",
        [("Content-Type", OCI_MANIFEST)],
        first.manifest.data,
    )
    assert direct.current(imm, "1.0.0") == first.digest, "the immutable tag moved"
    assert refused(by_digest), f"DELETE by digest answered {by_digest}"
    assert refused(by_tag), f"DELETE by tag answered {by_tag}"
    assert refused(moved), f"re-PUT to another digest answered {moved}"
    assert again.status == 201, f"re-PUT of the same bytes answered {again}"


def test_finding_6_children_keep_their_own_scan_verdicts(
    gate: Gate, direct: Direct, registry: Process
) -> None:
    repo = f"scanned/{_n()}"
    clean, critical = images.image(f"A {repo}"), images.image(f"B {repo}", arch="arm64")
    idx = images.index([clean, critical])
    for member in (clean, critical):
        direct.image(repo, member)
    direct.put(repo, "1.0.0", idx)
    signing.sign_and_push(registry.url, registry.host, repo, idx.digest, KEY)
    publish(gate.verdicts, ALPINE, idx.digest)
    publish(gate.verdicts, ALPINE, clean.digest)
    publish(gate.verdicts, DEBIAN, critical.digest)
    deadline = time.monotonic() + 6  # the verdict directory is rescanned every second
    while (top := get(gate, f"/v2/{repo}/manifests/1.0.0")).status != 200:
        assert time.monotonic() < deadline, f"the clean signed index was not admitted: {top}"
        time.sleep(0.25)
    assert get(gate, f"/v2/{repo}/manifests/{clean.digest}").status == 200
    child = get(gate, f"/v2/{repo}/manifests/{critical.digest}")
    assert refused(child), f"child with a CRITICAL finding answered {child}"
    assert "CVE-2019-18224" in child.body.decode(errors="replace")
    layer = get(gate, f"/v2/{repo}/blobs/{critical.layers[0].digest}", ("Accept", "*/*"))
    assert layer.status != 200 and not leaks(layer, critical.layers[0].data)


MIRROR_POLICY = """
mode: enforce
rules:
  - name: acme
    repositories: ["ghcr.io/acme/**"]
  - name: default-deny
    repositories: ["**"]
    action: deny
"""


def test_finding_7_mirror_names_are_not_confused(
    tmp_path: Path, registry: Process, direct: Direct
) -> None:
    ghcr = start_registry(tmp_path / "ghcr")
    (tmp_path / "policy.yaml").write_text(MIRROR_POLICY)
    mirror = start_gatekeeper(
        tmp_path / "gk",
        f"docker.io={registry.url}",
        tmp_path / "policy.yaml",
        "--mirror",
        "--upstream",
        f"ghcr.io={ghcr.url}",
    )
    try:
        name = f"acme/app{_n()}"
        real = Direct(ghcr.url).image(name, images.image(f"real {name}"), "1.0.0")
        # someone who can push to the Docker Hub route's registry plants ghcr.io/acme/...
        fake = direct.image(f"ghcr.io/{name}", images.image(f"fake {name}"), "1.0.0")
        ok = send(mirror.url, "GET", f"/v2/{name}/manifests/1.0.0?ns=ghcr.io", ACCEPT)
        assert ok.status == 200 and ok.body == real.manifest.data, ok  # the legitimate route
        problems = []
        for path in (
            f"/v2/ghcr.io/{name}/manifests/1.0.0",
            f"/v2/ghcr.io/{name}/manifests/1.0.0?ns=docker.io",
            f"/v2/ghcr.io/{name}/manifests/{fake.digest}",
            f"/v2/ghcr.io/{name}/blobs/{fake.layers[0].digest}",
        ):
            for method in ("GET", "HEAD"):
                reply = send(mirror.url, method, path, ACCEPT)
                if not 400 <= reply.status < 500 or leaks(
                    reply, fake.manifest.data, fake.layers[0].data
                ):
                    problems.append(f"{method} {path} → {reply.status}")
        assert not problems, "planted ghcr.io/... content served:\n" + "\n".join(problems)
    finally:
        mirror.stop()
        ghcr.stop()
