"""Hostile corpus (issue 9): every row tries to get refused content through the gate.

One gatekeeper (enforce, the review's policy in tests/helpers/hostile.py) in front of the
session registry. Each row sets up its own repositories by pushing STRAIGHT to the registry
(refused content gets there by other paths in real life), then sends requests through the
gate and checks each answer:

* DENY: 403 with an OCI ``DENIED`` body and a decision-log line with outcome ``deny`` for
  the repository (and the reference, when the request names one);
* REJECT: any 4xx; UNKNOWN: 404 ``MANIFEST_UNKNOWN`` (bad reference grammar on a pull);
* SERVED: 200 with exactly the expected bytes (artifacts cosign and friends must read).

And for every answer of every row: the body is never one of the refused bytes (refused
manifests, blobs of refused images, blobs of denied repositories).

What a row asserts is behaviour at the HTTP boundary, not how the gate is built; many rows
fail against the gate as it was when the review was written (see the report in the branch's
commit message).

Rows for bypasses the review did not list:

* ``mount_in_form_body``, ``mount_from_in_form_body_overrides_query``,
  ``mount_in_multipart_body``: distribution reads ``mount``/``from`` with Go's
  ``FormValue``, which also parses a form-encoded or multipart POST body (and prefers it to
  the query), so a gate that inspects only the query string is bypassed;
* ``artifact_layer_is_refused_manifest``, ``artifact_config_is_refused_manifest``: an
  artifact "opens its own blobs", but a blob digest can be a manifest digest: admitting it as
  a blob must not admit a manifest pull by that digest;
* ``sbom_listing_refused_blobs_as_documents``: a non-runnable artifact whose documents are a
  refused image's layer and config (typed as SPDX) opens those BLOBS (a blob digest carries no
  type; docs/threat-model.md, "Readable artifact blobs") but never the refused image: its
  manifest stays refused, so no engine can assemble it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import attest, cosign_sign, hostile, images, signing
from tests.helpers.hostile import (
    ACCEPT_ALL,
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    DOCKER_SCHEMA1,
    DSSE,
    EMPTY_CONFIG,
    HELM_CONFIG,
    OCI_LAYER_NONDIST,
    OCI_LAYER_TAR,
    OCI_LAYER_ZSTD,
    OCTET,
    SPDX,
    Direct,
    Gate,
    Reply,
    artifact_tag,
    retype,
)
from tests.helpers.images import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, Blob, Image
from tests.helpers.processes import Process
from tests.helpers.trivy_reports import ALPINE, DEBIAN, publish

KEY = ec.generate_private_key(ec.SECP256R1())
STRANGER = ec.generate_private_key(ec.SECP256R1())
ACCEPT = (("Accept", ACCEPT_ALL),)
OCI_PUT = (("Content-Type", OCI_MANIFEST),)


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, registry: Process) -> Iterator[Gate]:
    running = hostile.start_gate(tmp_path_factory.mktemp("corpus"), registry.url, KEY)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def direct(registry: Process) -> Direct:
    return Direct(registry.url)


# --------------------------------------------------------------------------- the runner


@dataclass
class Case:
    """One row's world: its variables (for templates), objects and forbidden bytes."""

    gate: Gate
    direct: Direct
    registry: Process
    vars: dict[str, Any] = field(default_factory=dict)
    forbidden: list[bytes] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    # refusals still waiting for their decision-log line: (log mark, matcher, description)
    pending: list[tuple[int, Callable[[dict[str, Any]], bool], str]] = field(default_factory=list)

    def unlogged(self, timeout: float = 0.5) -> list[str]:
        """Refusals with no decision-log line (outcome deny), after waiting ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            missing = [
                text
                for mark, wanted, text in self.pending
                if not any(wanted(line) for line in self.gate.decisions.since(mark))
            ]
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.05)

    def forbid(self, *things: Blob | Image | bytes) -> None:
        for thing in things:
            if isinstance(thing, Image):
                self.forbidden += [thing.manifest.data, *(b.data for b in thing.blobs)]
            elif isinstance(thing, Blob):
                self.forbidden.append(thing.data)
            else:
                self.forbidden.append(thing)


Check = Callable[[Case, "Step", Reply], None]
Setup = Callable[[Case], None]


@dataclass(frozen=True)
class Step:
    method: str
    path: str  # a template over Case.vars, sent verbatim after formatting
    check: Check
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None  # name of a bytes variable
    to: str = "gate"  # or "registry" (to look behind the gate's back)
    retry: float = 0.0  # resend until 200 for up to this many seconds (verdicts load)
    admitted_here: bool = False  # a repository whose rule admits the row's refused bytes


@dataclass(frozen=True)
class Row:
    name: str
    setup: Setup
    steps: tuple[Step, ...]


def _fmt(text: str, values: dict[str, Any]) -> str:
    return text.format(**values) if "{" in text else text


def _send(case: Case, step: Step) -> Reply:
    base = case.gate.url if step.to == "gate" else case.registry.url
    body: bytes | None = case.vars[step.body] if step.body else None
    if step.method == "PIPELINE":  # body: raw requests; the last reply is the one checked
        raw = (body or b"").replace(b"HOST", case.gate.host.encode())
        count = raw.count(b" HTTP/1.1\r\n")
        return hostile.exchange(base, raw, ["GET"] * count)[-1]
    deadline = time.monotonic() + step.retry
    while True:
        reply = hostile.send(base, step.method, step.path, step.headers, body)
        if reply.status == 200 or time.monotonic() > deadline:
            return reply
        time.sleep(0.25)


def run(case: Case, row: Row) -> None:
    row.setup(case)
    for number, template in enumerate(row.steps, 1):
        step = replace(
            template,
            path=_fmt(template.path, case.vars),
            headers=tuple((k, _fmt(v, case.vars)) for k, v in template.headers),
        )
        mark = case.gate.decisions.mark()
        case.vars["_mark"] = mark
        reply = _send(case, step)
        case.replies.append(reply)
        where = f"step {number}: {step.method} {step.path[:160]} → {reply}"
        for refused in [] if step.admitted_here else case.forbidden:
            assert reply.body != refused, f"{where}: served refused bytes"
            if len(refused) >= 64:
                assert refused not in reply.body, f"{where}: refused bytes inside the answer"
        try:
            step.check(case, step, reply)
        except AssertionError as exc:
            raise AssertionError(f"{where}: {exc}") from None
    unlogged = case.unlogged()
    assert not unlogged, "refused without a decision-log line (outcome deny): " + "; ".join(
        unlogged
    )


# --------------------------------------------------------------------------- checks


def _route(path: str) -> tuple[set[str], str | None]:
    """Repositories a request concerns (its name, a mount's ``from``) and its reference."""
    parts = urlsplit(path)
    rest = parts.path.removeprefix("/v2/")
    repos: set[str] = set()
    reference = None
    for marker in ("/manifests/", "/blobs/uploads", "/blobs/", "/tags/list", "/referrers/"):
        if marker in rest:
            name, _, tail = rest.partition(marker)
            repos.add(name)
            if marker in ("/manifests/", "/blobs/", "/referrers/"):
                reference = unquote(tail.strip("/"))
            break
    repos |= {unquote(v) for k, v in parse_qsl(parts.query) if k == "from"}
    return repos, reference


def DENY(case: Case, step: Step, reply: Reply, *, also: tuple[str, ...] = ()) -> None:
    """403 DENIED; its decision-log line may name the request's repository or ``also``."""
    assert reply.status == 403, f"expected 403 DENIED, got {reply.status}"
    if step.method != "HEAD":
        assert reply.error_code == "DENIED", f"expected an OCI DENIED body, got {reply.body!r}"
    repos, reference = _route(step.path)
    repos |= set(also)

    def matches(line: dict[str, Any]) -> bool:
        if line.get("outcome") != "deny" or line.get("repository") not in repos:
            return False
        return reference is None or reference in (line.get("reference"), line.get("digest"))

    # Checked after the row's last step, so a row that also leaks reports the leak.
    described = f"{step.method} {step.path[:160]} ({sorted(repos)} {reference})"
    case.pending.append((case.vars["_mark"], matches, described))


def REJECT(case: Case, step: Step, reply: Reply) -> None:
    assert 400 <= reply.status < 500, f"expected a 4xx refusal, got {reply.status}"


def UNKNOWN(case: Case, step: Step, reply: Reply) -> None:
    assert reply.status == 404, f"expected 404 MANIFEST_UNKNOWN, got {reply.status}"
    if step.method != "HEAD":
        assert reply.error_code == "MANIFEST_UNKNOWN", reply.body[:200]


def ANY(case: Case, step: Step, reply: Reply) -> None:
    """Whatever the answer (a step that only prepares the next), as long as no bytes leak."""
    assert reply.status < 500, f"server error {reply.status}"


def NOT_SERVED(case: Case, step: Step, reply: Reply) -> None:
    assert not 200 <= reply.status < 300, f"expected no content, got {reply.status}"


def NO_MOUNT(case: Case, step: Step, reply: Reply) -> None:
    assert reply.status != 201, "the cross-repository mount was performed (201 Created)"
    assert reply.status < 500, f"server error {reply.status}"
    if reply.status == 403:  # a refusal may be logged for the source of the mount
        sources = tuple(str(case.vars[k]) for k in ("secret", "repo") if k in case.vars)
        DENY(case, step, reply, also=sources)


def status(expected: int) -> Check:
    def check(case: Case, step: Step, reply: Reply) -> None:
        assert reply.status == expected, f"expected {expected}, got {reply.status}"

    return check


def served(name: str, *, or_304: bool = False) -> Check:
    """200 with exactly the bytes of variable ``name`` (and their digest announced)."""

    def check(case: Case, step: Step, reply: Reply) -> None:
        if or_304 and reply.status == 304:
            return
        assert reply.status == 200, f"expected 200 with {name}, got {reply.status}"
        if step.method == "HEAD":
            return
        assert reply.body == case.vars[name], f"served bytes are not {name}"
        assert reply.header("Docker-Content-Digest") == images.sha256(reply.body)

    return check


def points_to(name: str) -> Check:
    """(Registry HEAD) the reference still resolves to variable ``name``'s digest."""

    def check(case: Case, step: Step, reply: Reply) -> None:
        assert reply.status == 200, f"reference gone from the registry ({reply.status})"
        assert reply.header("Docker-Content-Digest") == case.vars[name], "reference moved"

    return check


def absent(case: Case, step: Step, reply: Reply) -> None:
    """(Registry HEAD) nothing was stored under the reference."""
    assert reply.status == 404, f"the registry now holds it ({reply.status})"


def save_upload(case: Case, step: Step, reply: Reply) -> None:
    """A plain upload started (202); keep its Location for the PUT that completes it."""
    assert reply.status == 202, f"plain upload refused: {reply.status}"
    location = urlsplit(reply.header("Location") or "")
    sep = "&" if location.query else "?"
    query = f"?{location.query}" if location.query else ""
    case.vars["upload"] = f"{location.path}{query}{sep}digest={case.vars['up_digest']}"


def same_as_before(case: Case, step: Step, reply: Reply) -> None:
    """No existence oracle: the same status and error code as the previous answer."""
    DENY(case, step, reply)
    before = case.replies[-2]
    assert (reply.status, reply.error_code) == (before.status, before.error_code), (
        f"answers differ: existing {before}, missing {reply}"
    )


def catalog_clean(case: Case, step: Step, reply: Reply) -> None:
    """Every page of the catalog (Link rel=next followed through the gate) lists only
    repositories some allow rule covers; refusing the catalog (403) is fine too."""
    for _ in range(50):
        if reply.status == 403:
            return
        assert reply.status == 200, f"catalog answered {reply}"
        listed = json.loads(reply.body).get("repositories") or []
        leaked = [r for r in listed if not r.startswith(hostile.ALLOWED_PREFIXES)]
        assert not leaked, f"catalog lists denied repositories: {leaked[:10]}"
        link = reply.header("Link")
        if not link:
            return
        target = urlsplit(link.split(";")[0].strip("<> "))
        reply = hostile.send(case.gate.url, "GET", f"{target.path}?{target.query}")
    raise AssertionError("catalog pagination did not end within 50 pages")


# --------------------------------------------------------------------------- setups


def _suffix() -> str:
    return uuid.uuid4().hex[:10]


def team(case: Case, *, signed: bool = True, latest: bool = True) -> None:
    """team/<n>: unsigned U at 1.0.0 and latest (refused); signed S at 2.0.0 (allowed)."""
    direct, v = case.direct, case.vars
    n = _suffix()
    repo = v["repo"] = f"team/{n}"
    u = direct.image(repo, images.image(f"U {repo}"), "1.0.0", *(["latest"] if latest else []))
    case.forbid(u)
    v.update(
        n=n,
        U=u,
        u=u.digest,
        u_hex=u.digest[7:],
        u_upper="sha256:" + u.digest[7:].upper(),
        u_layer=u.layers[0].digest,
        u_config=u.config.digest,
        u_layer_upper="sha256:" + u.layers[0].digest[7:].upper(),
        r_hex=hostile.random_digest()[7:],
        zero="sha256:" + "0" * 64,
    )
    if signed:
        s = direct.image(repo, images.image(f"S {repo}"), "2.0.0")
        sig = signing.sign_and_push(case.registry.url, case.registry.host, repo, s.digest, KEY)
        v.update(
            S=s,
            s=s.digest,
            s_hex=s.digest[7:],
            s_bytes=s.manifest.data,
            s_layer=s.layers[0].digest,
            s_layer_bytes=s.layers[0].data,
            sig_tag=cosign_sign.signature_tag(s.digest),
            sig_bytes=sig.manifest,
            sig_payload=sig.layers[0].digest,
            sig_payload_bytes=sig.layers[0].payload,
        )


def team_elsewhere(case: Case) -> None:
    """:func:`team`, and U's blobs also linked in team/<n>-b (no manifest there), and U
    pushed whole to imm/<n>, where its rule admits it."""
    team(case, signed=False)
    v = case.vars
    u = _u(case)
    v.update(team_b=f"{v['repo']}-b", imm=f"imm/{v['n']}")
    case.direct.blobs(v["team_b"], *u.blobs)
    case.direct.image(v["imm"], u, "1.0.0")


def pushable(case: Case) -> None:
    """team/<n> as :func:`team`, plus U2 (another unsigned image) whose blobs are in the
    registry but whose manifest is not, with the bodies a PUT of it would send; nothing is
    tagged latest."""
    team(case, latest=False)
    v = case.vars
    u2 = images.image(f"U2 {v['repo']}")
    case.direct.blobs(v["repo"], *u2.blobs)
    case.forbid(u2)
    s: Image = v["S"]
    subject_oci = hostile.manifest(u2.config, u2.layers, subject=s.manifest)
    docker_cfg = retype(u2.config, DOCKER_CONFIG)
    docker_layers = [retype(layer, DOCKER_LAYER) for layer in u2.layers]
    subject_docker = hostile.manifest(
        docker_cfg, docker_layers, media_type=DOCKER_MANIFEST, subject=s.manifest
    )
    disguised = hostile.manifest(u2.config, u2.layers, declare_media_type=False)
    sig_layer = hostile.simple_signing(s.digest, f"x/{v['repo']}")
    case.direct.blobs(v["repo"], sig_layer, hostile.sig_config([sig_layer]))
    artifact = hostile.manifest(hostile.sig_config([sig_layer]), [sig_layer], subject=s.manifest)
    elsewhere = hostile.random_digest()
    fresh_sig = cosign_sign.sign_image(elsewhere, f"x/{v['repo']}", KEY)
    case.direct.blobs(v["repo"], *(Blob(OCTET, data) for data in fresh_sig.blobs.values()))
    v.update(
        fresh_sig_tag=cosign_sign.signature_tag(elsewhere),
        fresh_sig=fresh_sig.manifest,
        u2_bytes=u2.manifest.data,
        u2_chunked=hostile.chunked(u2.manifest.data),
        subject_oci=subject_oci.data,
        subject_oci_chunked=hostile.chunked(subject_oci.data),
        subject_docker=subject_docker.data,
        disguised=disguised.data,
        artifact_bytes=artifact.data,
    )
    case.forbid(subject_oci, subject_docker)


def crafted(build: Callable[[Case], Blob], tag: str, *, runnable: bool = True) -> Setup:
    """:func:`team`, then ``build``'s manifest pushed under ``tag`` (a template)."""

    def setup(case: Case) -> None:
        team(case)
        doc = build(case)
        reference = _fmt(tag, case.vars)
        case.direct.put(case.vars["repo"], reference, doc)
        case.vars.update(x=doc.digest, x_tag=reference, x_bytes=doc.data)
        if runnable:
            case.forbid(doc)

    return setup


def _u(case: Case) -> Image:
    image: Image = case.vars["U"]
    return image


def _s(case: Case) -> Image:
    image: Image = case.vars["S"]
    return image


def _push(case: Case, *blobs: Blob) -> None:
    case.direct.blobs(case.vars["repo"], *blobs)


def image_with_subject(case: Case) -> Blob:
    return hostile.manifest(_u(case).config, _u(case).layers, subject=_s(case).manifest)


def image_with_dangling_subject(case: Case) -> Blob:
    nowhere = Blob(OCI_MANIFEST, uuid.uuid4().bytes)
    return hostile.manifest(_u(case).config, _u(case).layers, subject=nowhere)


def docker_image_with_subject(case: Case) -> Blob:
    d = hostile.docker_image(f"D {case.vars['repo']}")
    _push(case, *d.blobs)
    case.forbid(d)
    case.vars["d_layer"] = d.layers[0].digest
    return hostile.manifest(
        d.config, d.layers, media_type=DOCKER_MANIFEST, subject=_s(case).manifest
    )


def docker_image(case: Case) -> Blob:
    d = hostile.docker_image(f"D {case.vars['repo']}")
    _push(case, *d.blobs)
    case.forbid(d)
    case.vars["d_layer"] = d.layers[0].digest
    return d.manifest


def plain_image(case: Case) -> Blob:
    return _u(case).manifest


def image_with_artifact_type(case: Case) -> Blob:
    u = _u(case)
    return hostile.manifest(u.config, u.layers, artifact_type="application/vnd.example.thing")


def helm_config_with_tar_layers(case: Case) -> Blob:
    u = _u(case)
    return hostile.manifest(retype(u.config, HELM_CONFIG), u.layers, subject=_s(case).manifest)


def empty_config_with_tar_layer(case: Case) -> Blob:
    empty = Blob(EMPTY_CONFIG, b"{}")
    _push(case, empty)
    return hostile.manifest(empty, _u(case).layers, artifact_type="application/vnd.example.thing")


def layers_typed(media_type: str) -> Callable[[Case], Blob]:
    """U's config and layers, the layers described as ``media_type``.

    (Docker foreign layers are left out: distribution 2.8 refuses them without a configured
    URL allow-list.)"""

    def build(case: Case) -> Blob:
        u = _u(case)
        return hostile.manifest(u.config, [retype(layer, media_type) for layer in u.layers])

    return build


def cosign_like_with_tar(layer_type: str) -> Callable[[Case], Blob]:
    """A ``.sig``-shaped manifest: a simple-signing layer, and U's layer beside it."""

    def build(case: Case) -> Blob:
        u = _u(case)
        sig = hostile.simple_signing(u.digest, case.vars["repo"])
        tar = retype(u.layers[0], layer_type)
        config = hostile.sig_config([sig, tar])
        _push(case, sig, config)
        return hostile.manifest(config, [sig, tar], subject=u.manifest)

    return build


def sbom_listing_refused_blobs(case: Case) -> Blob:
    """A non-runnable SBOM artifact whose "documents" are U's layer and config."""
    u = _u(case)
    empty = Blob(EMPTY_CONFIG, b"{}")
    _push(case, empty)
    docs = [retype(u.layers[0], SPDX), retype(u.config, SPDX)]
    return hostile.manifest(empty, docs, artifact_type=SPDX, subject=u.manifest)


def artifact_listing_refused_manifest(case: Case) -> Blob:
    """A signature-shaped artifact whose layer IS U's manifest (uploaded as a blob too)."""
    u = _u(case)
    as_blob = Blob(cosign_sign.SIMPLE_SIGNING, u.manifest.data)
    config = hostile.sig_config([as_blob])
    _push(case, as_blob, config)
    return hostile.manifest(config, [as_blob], subject=u.manifest)


def artifact_config_is_refused_manifest(case: Case) -> Blob:
    u = _u(case)
    config = Blob("application/vnd.example.config.v1+json", u.manifest.data)
    sig = hostile.simple_signing(u.digest, case.vars["repo"])
    _push(case, config, sig)
    return hostile.manifest(config, [sig], subject=u.manifest)


def index_of_refused(**options: Any) -> Callable[[Case], Blob]:
    def build(case: Case) -> Blob:
        kwargs = dict(options)
        if kwargs.pop("subject_s", False):
            kwargs["subject"] = _s(case).manifest
        return hostile.index([_u(case).manifest], **kwargs)

    return build


def nested_index(*, subject: bool) -> Callable[[Case], Blob]:
    """top → mid (plain index, pushed by digest) → U."""

    def build(case: Case) -> Blob:
        mid = hostile.index([_u(case).manifest])
        case.direct.put(case.vars["repo"], mid.digest, mid)
        case.vars["mid"] = mid.digest
        return hostile.index([mid], subject=_s(case).manifest if subject else None)

    return build


def signature_of_signed(case: Case) -> Blob:
    return Blob(OCI_MANIFEST, case.vars["sig_bytes"])


def stranger_signature_of_u(case: Case) -> Blob:
    sig = cosign_sign.sign_image(_u(case).digest, case.vars["repo"], STRANGER)
    for data in sig.blobs.values():
        _push(case, Blob(OCTET, data))
    case.vars["stranger_payload"] = sig.layers[0].digest
    case.vars["stranger_payload_bytes"] = sig.layers[0].payload
    return Blob(OCI_MANIFEST, sig.manifest)


def attestation_of_signed(case: Case) -> Blob:
    statement = cosign_sign.sign_statement(_s(case).digest)
    envelope, _ = attest.envelope(statement, KEY)
    layer = Blob(DSSE, envelope)
    config = hostile.sig_config([layer])
    _push(case, layer, config)
    case.vars.update(dsse=layer.digest, dsse_bytes=envelope)
    return hostile.manifest(config, [layer])


def sbom_of_signed(case: Case) -> Blob:
    layer = Blob(SPDX, json.dumps({"spdxVersion": "SPDX-2.3", "name": case.vars["n"]}).encode())
    config = hostile.sig_config([layer])
    _push(case, layer, config)
    case.vars.update(spdx=layer.digest, spdx_bytes=layer.data)
    return hostile.manifest(config, [layer])


def signature_artifact_with_subject(case: Case) -> Blob:
    sig = hostile.simple_signing(_s(case).digest, case.vars["repo"])
    config = hostile.sig_config([sig])
    _push(case, sig, config)
    return hostile.manifest(config, [sig], subject=_s(case).manifest)


def bundle_referrers(case: Case) -> None:
    """:func:`team` plus a cosign v3 bundle referrer of S and its fallback index."""
    team(case)
    s = _s(case)
    bundle = cosign_sign.dsse_bundle(KEY, cosign_sign.sign_statement(s.digest))
    repo = case.vars["repo"]
    digest = signing.push_bundle_referrer(
        case.registry.url, repo, s.digest, len(s.manifest.data), OCI_MANIFEST, bundle
    )
    fallback = artifact_tag(s.digest)
    case.vars.update(
        bundle_manifest=digest,
        bundle_manifest_bytes=_raw_manifest(case, digest),
        fallback=fallback,
        fallback_bytes=_raw_manifest(case, fallback),
        bundle_blob=images.sha256(bundle),
        bundle_blob_bytes=bundle,
    )


def _raw_manifest(case: Case, reference: str) -> bytes:
    url = f"/v2/{case.vars['repo']}/manifests/{reference}"
    reply = hostile.send(case.registry.url, "GET", url, ACCEPT)
    assert reply.status == 200, reply
    return reply.body


def mount(case: Case) -> None:
    """secret/<n> holds X; team/<n> holds unsigned U; open/<n> is where mounts go."""
    team(case, signed=False)
    v = case.vars
    secret = f"secret/{v['n']}"
    x = case.direct.image(secret, images.image(f"X {secret}"), "1.0.0")
    case.forbid(x)
    v.update(
        secret=secret,
        secret_enc=secret.replace("/", "%2F"),
        team_enc=v["repo"].replace("/", "%2F"),
        x_layer=x.layers[0].digest,
        dst=f"open/{v['n']}",
        form=f"mount={x.layers[0].digest}&from={secret}".encode(),
        form_from=f"from={secret}".encode(),
    )
    v["multipart_type"], v["multipart"] = hostile.multipart(
        {"mount": x.layers[0].digest, "from": secret}
    )
    up = Blob(OCTET, uuid.uuid4().bytes * 4)
    v.update(up_digest=up.digest, up_bytes=up.data)
    v["pipeline"] = (
        f"POST /v2/{v['dst']}/blobs/uploads/ HTTP/1.1\r\nHost: HOST\r\nContent-Length: 0\r\n\r\n"
        f"GET /v2/{secret}/blobs/{v['x_layer']} HTTP/1.1\r\nHost: HOST\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


def denied(case: Case) -> None:
    """secret/<n> (deny rule) and other/<n> (no allow rule) each hold an image at 1.0.0."""
    n = _suffix()
    v = case.vars
    secret, other = f"secret/{n}", f"other/{n}"
    x = case.direct.image(secret, images.image(f"X {secret}"), "1.0.0")
    o = case.direct.image(other, images.image(f"O {other}"), "1.0.0")
    case.forbid(x, o)
    v.update(
        secret=secret,
        other=other,
        nowhere=f"secret/{n}-none",
        x=x.digest,
        x_bytes=x.manifest.data,
        x_layer=x.layers[0].digest,
        o_layer=o.layers[0].digest,
        missing=hostile.random_digest(),
    )


def immutable(case: Case) -> None:
    """imm/<n>: I1 at 1.0.0; I2's blobs are in the registry, its manifest is not."""
    n = _suffix()
    imm = f"imm/{n}"
    i1 = case.direct.image(imm, images.image(f"I1 {imm}"), "1.0.0")
    i2 = images.image(f"I2 {imm}")
    case.direct.blobs(imm, *i2.blobs)
    case.vars.update(
        imm=imm, i1=i1.digest, i1_bytes=i1.manifest.data, i2=i2.digest, i2_bytes=i2.manifest.data
    )


def scanned(case: Case) -> None:
    """scanned/<n>:1.0.0 = signed index of A (clean report) and B (CRITICAL report)."""
    n = _suffix()
    repo = f"scanned/{n}"
    a, b = images.image(f"A {repo}"), images.image(f"B {repo}", arch="arm64")
    idx = images.index([a, b])
    for child in (a, b):
        case.direct.image(repo, child)
    case.direct.put(repo, "1.0.0", idx)
    signing.sign_and_push(case.registry.url, case.registry.host, repo, idx.digest, KEY)
    publish(case.gate.verdicts, ALPINE, idx.digest)
    publish(case.gate.verdicts, ALPINE, a.digest)
    publish(case.gate.verdicts, DEBIAN, b.digest)
    case.forbid(b)
    case.vars.update(
        scan=repo,
        idx_bytes=idx.data,
        a=a.digest,
        a_bytes=a.manifest.data,
        b=b.digest,
        b_layer=b.layers[0].digest,
    )


# --------------------------------------------------------------------------- the table

M = "/v2/{repo}/manifests"
B = "/v2/{repo}/blobs"
U_BY_DIGEST = Step("GET", M + "/{u}", DENY, ACCEPT)
U_LAYER = Step("GET", B + "/{u_layer}", DENY)
U_CONFIG = Step("GET", B + "/{u_config}", DENY)
X_PULL = Step("GET", M + "/{x_tag}", ANY, ACCEPT)  # prepare: whatever the gate answers
X_REFUSED = Step("GET", M + "/{x_tag}", DENY, ACCEPT)
X_HEAD_REFUSED = Step("HEAD", M + "/{x_tag}", DENY, ACCEPT)
X_BY_DIGEST_REFUSED = Step("GET", M + "/{x}", DENY, ACCEPT)
LATEST_ABSENT = Step("HEAD", M + "/latest", absent, ACCEPT, to="registry")
SIG_TAG = "sha256-{r_hex}.sig"


def refused_artifact(name: str, build: Callable[[Case], Blob], tag: str, *more: Step) -> Row:
    """A runnable manifest under ``tag``: refused by tag, by digest, and opens nothing."""
    steps = (X_REFUSED, X_HEAD_REFUSED, X_BY_DIGEST_REFUSED, U_LAYER, *more)
    return Row(name, crafted(build, tag), steps)


def opens_nothing(name: str, build: Callable[[Case], Blob], tag: str, *probes: Step) -> Row:
    """Whatever the gate does with the artifact, pulling it opens nothing runnable."""
    return Row(name, crafted(build, tag, runnable=False), (X_PULL, *probes))


def put(path: str, body: str, check: Check, *headers: tuple[str, str]) -> Step:
    return Step("PUT", path, check, headers or OCI_PUT, body=body)


def mount_row(name: str, query: str, *extra: Step, target: str = "{dst}") -> Row:
    post = Step("POST", f"/v2/{target}/blobs/uploads/?{query}", NO_MOUNT)
    read = Step("GET", f"/v2/{target}/blobs/{{x_layer}}", NOT_SERVED)
    return Row(name, mount, (post, read, *extra))


ROWS: tuple[Row, ...] = (
    # ---- plain refusals, HEAD vs GET, conditional and range requests (finding 3)
    Row("unsigned_semver_tag", team, (Step("GET", M + "/1.0.0", DENY, ACCEPT),)),
    Row("latest_tag", team, (Step("GET", M + "/latest", DENY, ACCEPT),)),
    Row("head_latest", team, (Step("HEAD", M + "/latest", DENY, ACCEPT),)),
    Row("head_unsigned_by_digest", team, (Step("HEAD", M + "/{u}", DENY, ACCEPT),)),
    Row("get_unsigned_by_digest", team, (U_BY_DIGEST,)),
    Row(
        "if_none_match_digest_on_latest",
        team,
        (Step("GET", M + "/latest", DENY, (*ACCEPT, ("If-None-Match", '"{u}"'))),),
    ),
    Row(
        "if_none_match_star_on_refused",
        team,
        (Step("GET", M + "/1.0.0", DENY, (*ACCEPT, ("If-None-Match", "*"))),),
    ),
    Row(
        "if_none_match_on_refused_digest",
        team,
        (Step("GET", M + "/{u}", DENY, (*ACCEPT, ("If-None-Match", '"{u}"'))),),
    ),
    Row(
        "head_if_none_match_on_latest",
        team,
        (Step("HEAD", M + "/latest", DENY, (*ACCEPT, ("If-None-Match", '"{u}"'))),),
    ),
    Row(
        "range_on_refused_tag",
        team,
        (Step("GET", M + "/1.0.0", DENY, (*ACCEPT, ("Range", "bytes=0-99"))),),
    ),
    Row(
        "if_modified_since_on_refused_tag",
        team,
        (
            Step(
                "GET",
                M + "/latest",
                DENY,
                (*ACCEPT, ("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")),
            ),
        ),
    ),
    Row(
        "duplicate_accept_lines",
        team,
        (
            Step(
                "GET",
                M + "/latest",
                DENY,
                (("Accept", OCI_INDEX), ("Accept", OCI_MANIFEST), ("Accept", DOCKER_MANIFEST)),
            ),
        ),
    ),
    Row("no_accept_on_refused", team, (Step("GET", M + "/latest", REJECT),)),
    Row(
        "wildcard_accept_on_refused",
        team,
        (Step("GET", M + "/latest", REJECT, (("Accept", "*/*"),)),),
    ),
    Row(
        "index_only_accept_on_refused",
        team,
        (Step("GET", M + "/1.0.0", REJECT, (("Accept", OCI_INDEX),)),),
    ),
    Row(
        "docker_only_accept_on_refused",
        team,
        (Step("GET", M + "/1.0.0", REJECT, (("Accept", DOCKER_MANIFEST),)),),
    ),
    Row(
        "schema1_accept_on_refused_docker_image",
        crafted(docker_image, "3.0.0"),
        (Step("GET", M + "/3.0.0", REJECT, (("Accept", DOCKER_SCHEMA1),)),),
    ),
    Row(
        "allowed_pull_with_range_gets_full_body",
        team,
        (
            Step("GET", M + "/2.0.0", served("s_bytes"), (*ACCEPT, ("Range", "bytes=0-9"))),
            U_BY_DIGEST,
        ),
    ),
    Row(
        "allowed_pull_with_if_none_match",
        team,
        (
            Step(
                "GET",
                M + "/2.0.0",
                served("s_bytes", or_304=True),
                (*ACCEPT, ("If-None-Match", '"{s}"')),
            ),
        ),
    ),
    # ---- blobs of a refused image, in its repository and across repositories
    Row("blob_config_of_refused", team, (U_CONFIG,)),
    Row("blob_layer_of_refused", team, (U_LAYER,)),
    Row(
        "blob_after_refused_manifest_pull",
        team,
        (
            Step("GET", M + "/latest", ANY, ACCEPT),
            Step("HEAD", M + "/latest", ANY, ACCEPT),
            U_LAYER,
        ),
    ),
    Row(
        "blob_range_of_refused",
        team,
        (Step("GET", B + "/{u_layer}", DENY, (("Range", "bytes=0-9"),)),),
    ),
    Row(
        "blob_of_refused_after_signed_pull_same_repo",
        team,
        (Step("GET", M + "/2.0.0", served("s_bytes"), ACCEPT), U_LAYER, U_CONFIG),
    ),
    Row(
        "blob_of_refused_in_other_team_repository",
        team_elsewhere,
        (Step("GET", "/v2/{team_b}/blobs/{u_layer}", DENY),),
    ),
    Row(
        "blob_of_refused_after_it_was_admitted_in_another_repository",
        team_elsewhere,
        (
            Step("GET", "/v2/{imm}/manifests/1.0.0", ANY, ACCEPT, admitted_here=True),
            Step("GET", "/v2/{imm}/blobs/{u_layer}", ANY, admitted_here=True),
            U_LAYER,
            Step("GET", "/v2/{team_b}/blobs/{u_config}", DENY),
        ),
    ),
    # ---- subject on image manifests (finding 1)
    refused_artifact("subject_on_oci_image_semver_tag", image_with_subject, "4.0.0", U_CONFIG),
    refused_artifact("subject_on_oci_image_latest", image_with_subject, "latest"),
    refused_artifact("dangling_subject_on_image", image_with_dangling_subject, "4.0.2"),
    refused_artifact(
        "subject_on_docker_v2_image",
        docker_image_with_subject,
        "4.0.1",
        Step("GET", B + "/{d_layer}", DENY),
    ),
    # ---- artifact tags holding runnable images
    refused_artifact("sig_tag_holds_image", plain_image, SIG_TAG),
    refused_artifact("sig_tag_of_signed_image_holds_image", plain_image, "{sig_tag}"),
    refused_artifact("att_tag_holds_image", plain_image, "sha256-{r_hex}.att"),
    refused_artifact("sbom_tag_holds_image", plain_image, "sha256-{r_hex}.sbom"),
    refused_artifact("referrers_fallback_tag_holds_image", plain_image, "sha256-{u_hex}"),
    refused_artifact(
        "fallback_tag_holds_docker_image",
        docker_image,
        "sha256-{r_hex}",
        Step("GET", B + "/{d_layer}", DENY),
    ),
    refused_artifact("artifact_type_without_subject", image_with_artifact_type, "5.0.0"),
    refused_artifact("artifact_type_under_sig_tag", image_with_artifact_type, SIG_TAG),
    refused_artifact("helm_config_with_tar_layers", helm_config_with_tar_layers, "5.0.1"),
    refused_artifact(
        "helm_config_tar_layers_att_tag", helm_config_with_tar_layers, "sha256-{s_hex}.att"
    ),
    refused_artifact("empty_config_with_tar_layer", empty_config_with_tar_layer, SIG_TAG),
    refused_artifact("image_config_octet_stream_layers", layers_typed(OCTET), SIG_TAG),
    refused_artifact(
        "image_config_unknown_layer_type",
        layers_typed("application/vnd.example.blob.v1"),
        "sha256-{r_hex}.att",
    ),
    refused_artifact("uncompressed_tar_layer_sig_tag", layers_typed(OCI_LAYER_TAR), SIG_TAG),
    refused_artifact("zstd_layer_sig_tag", layers_typed(OCI_LAYER_ZSTD), SIG_TAG),
    refused_artifact("nondistributable_layer_sig_tag", layers_typed(OCI_LAYER_NONDIST), SIG_TAG),
    refused_artifact(
        "docker_layer_type_in_oci_manifest_sbom_tag",
        layers_typed(DOCKER_LAYER),
        "sha256-{r_hex}.sbom",
    ),
    refused_artifact(
        "cosign_like_sig_with_tar_layer",
        cosign_like_with_tar(images.OCI_LAYER),
        "sha256-{u_hex}.sig",
    ),
    refused_artifact(
        "cosign_like_sig_with_docker_layer",
        cosign_like_with_tar(DOCKER_LAYER),
        "sha256-{u_hex}.sig",
    ),
    # ---- non-runnable artifacts that reference refused content: they open nothing
    # The artifact's own blobs become readable (the documented gap: push access to a
    # repository is read access to its blobs); the refused image itself stays refused.
    opens_nothing(
        "sbom_listing_refused_blobs_as_documents",
        sbom_listing_refused_blobs,
        "sha256-{u_hex}.sbom",
        U_BY_DIGEST,
        Step("HEAD", M + "/{u}", DENY, ACCEPT),
    ),
    opens_nothing(
        "artifact_layer_is_refused_manifest",
        artifact_listing_refused_manifest,
        "sha256-{u_hex}.sig",
        U_BY_DIGEST,
        U_LAYER,
    ),
    opens_nothing(
        "artifact_config_is_refused_manifest",
        artifact_config_is_refused_manifest,
        "sha256-{u_hex}.att",
        U_BY_DIGEST,
        U_CONFIG,
    ),
    opens_nothing(
        "index_with_subject_lists_refused",
        index_of_refused(subject_s=True),
        "7.0.0",
        U_BY_DIGEST,
        U_LAYER,
    ),
    opens_nothing(
        "index_with_artifact_type_lists_refused",
        index_of_refused(artifact_type="application/vnd.example.bundle"),
        "7.0.1",
        U_BY_DIGEST,
        U_LAYER,
    ),
    opens_nothing(
        "fallback_index_lists_refused", index_of_refused(), "sha256-{s_hex}", U_BY_DIGEST, U_LAYER
    ),
    opens_nothing("sig_tag_index_lists_refused", index_of_refused(), SIG_TAG, U_BY_DIGEST, U_LAYER),
    opens_nothing(
        "docker_list_with_subject_lists_refused",
        index_of_refused(subject_s=True, media_type=DOCKER_LIST),
        "7.0.2",
        U_BY_DIGEST,
    ),
    opens_nothing(
        "nested_index_with_subject",
        nested_index(subject=True),
        "7.1.0",
        Step("GET", M + "/{mid}", ANY, ACCEPT),
        U_BY_DIGEST,
        U_LAYER,
    ),
    opens_nothing(
        "nested_index_under_fallback_tag",
        nested_index(subject=False),
        "sha256-{u_hex}",
        Step("GET", M + "/{mid}", ANY, ACCEPT),
        U_BY_DIGEST,
        U_LAYER,
    ),
    # ---- artifacts that must stay readable (cosign, policy-controller, Ratify)
    Row(
        "signature_artifact_readable",
        team,
        (
            Step("GET", M + "/{sig_tag}", served("sig_bytes"), ACCEPT),
            Step("HEAD", M + "/{sig_tag}", served("sig_bytes"), ACCEPT),
            Step("GET", B + "/{sig_payload}", served("sig_payload_bytes")),
            U_BY_DIGEST,
            U_LAYER,
        ),
    ),
    Row(
        "stranger_signature_of_refused_image_readable",
        crafted(stranger_signature_of_u, "sha256-{u_hex}.sig", runnable=False),
        (
            Step("GET", M + "/{x_tag}", served("x_bytes"), ACCEPT),
            Step("GET", B + "/{stranger_payload}", served("stranger_payload_bytes")),
            Step("GET", M + "/1.0.0", DENY, ACCEPT),
            U_LAYER,
        ),
    ),
    Row(
        "attestation_artifact_readable",
        crafted(attestation_of_signed, "sha256-{s_hex}.att", runnable=False),
        (
            Step("GET", M + "/{x_tag}", served("x_bytes"), ACCEPT),
            Step("GET", B + "/{dsse}", served("dsse_bytes")),
            U_LAYER,
        ),
    ),
    Row(
        "sbom_artifact_readable",
        crafted(sbom_of_signed, "sha256-{s_hex}.sbom", runnable=False),
        (
            Step("GET", M + "/{x_tag}", served("x_bytes"), ACCEPT),
            Step("GET", B + "/{spdx}", served("spdx_bytes")),
            U_BY_DIGEST,
        ),
    ),
    Row(
        "bundle_referrer_and_fallback_index_readable",
        bundle_referrers,
        (
            Step("GET", M + "/{fallback}", served("fallback_bytes"), ACCEPT),
            Step("GET", M + "/{bundle_manifest}", served("bundle_manifest_bytes"), ACCEPT),
            Step("GET", B + "/{bundle_blob}", served("bundle_blob_bytes")),
            U_BY_DIGEST,
            U_LAYER,
        ),
    ),
    Row(
        "artifact_with_subject_under_latest_obeys_tag_rules",
        crafted(signature_artifact_with_subject, "latest", runnable=False),
        (Step("GET", M + "/latest", DENY, ACCEPT),),
    ),
    # ---- referrers API
    Row(
        "referrers_of_refused_image",
        team,
        (Step("GET", "/v2/{repo}/referrers/{u}", ANY, ACCEPT), U_BY_DIGEST, U_LAYER),
    ),
    Row(
        "referrers_with_artifact_type_filter",
        team,
        (Step("GET", "/v2/{repo}/referrers/{u}?artifactType=" + OCI_CONFIG, ANY), U_BY_DIGEST),
    ),
    # ---- digest spellings and path games
    Row("uppercase_hex_manifest", team, (Step("GET", M + "/{u_upper}", UNKNOWN, ACCEPT),)),
    Row("uppercase_hex_manifest_head", team, (Step("HEAD", M + "/{u_upper}", UNKNOWN, ACCEPT),)),
    Row("uppercase_hex_blob", team, (Step("GET", B + "/{u_layer_upper}", REJECT),)),
    Row(
        "sha512_label_on_sha256_manifest",
        team,
        (Step("GET", M + "/sha512:{u_hex}", UNKNOWN, ACCEPT),),
    ),
    Row(
        "sha512_label_on_sha256_blob",
        team,
        (Step("GET", B + "/sha512:{u_hex}{u_hex}", REJECT),),
    ),
    Row("short_hex_manifest", team, (Step("GET", M + "/sha256:{n}", UNKNOWN, ACCEPT),)),
    Row("short_hex_blob", team, (Step("GET", B + "/sha256:{n}", REJECT),)),
    Row("trailing_slash_manifest", team, (Step("GET", M + "/latest/", REJECT, ACCEPT),)),
    Row("trailing_slash_blob", team, (Step("GET", B + "/{u_layer}/", REJECT),)),
    Row(
        "double_slash_in_name",
        team,
        (Step("GET", "/v2/team//{n}/manifests/latest", REJECT, ACCEPT),),
    ),
    Row(
        "encoded_slash_in_name",
        team,
        (Step("GET", "/v2/team%2F{n}/manifests/latest", REJECT, ACCEPT),),
    ),
    Row(
        "dot_dot_from_open_into_team",
        team,
        (Step("GET", "/v2/open/x/../../team/{n}/manifests/latest", REJECT, ACCEPT),),
    ),
    Row(
        "dot_dot_blob_from_open_into_team",
        team,
        (Step("GET", "/v2/open/{n}/../../{repo}/blobs/{u_layer}", REJECT),),
    ),
    Row("percent_encoded_tag", team, (Step("GET", M + "/%6Catest", UNKNOWN, ACCEPT),)),
    Row("bad_tag_grammar_get", team, (Step("GET", M + "/-latest", UNKNOWN, ACCEPT),)),
    Row("bad_tag_grammar_head", team, (Step("HEAD", M + "/.latest", UNKNOWN, ACCEPT),)),
    Row("overlong_tag_get", team, (Step("GET", M + "/" + "v" * 129, UNKNOWN, ACCEPT),)),
    Row("bad_tag_grammar_put", pushable, (put(M + "/-latest", "u2_bytes", status(400)),)),
    # ---- pushes: tag rules whatever the manifest says (findings 1 and 3)
    Row("put_latest_plain", pushable, (put(M + "/latest", "u2_bytes", DENY), LATEST_ABSENT)),
    Row(
        "put_latest_with_subject_oci",
        pushable,
        (put(M + "/latest", "subject_oci", DENY), LATEST_ABSENT),
    ),
    Row(
        "put_latest_with_subject_docker",
        pushable,
        (
            put(M + "/latest", "subject_docker", DENY, ("Content-Type", DOCKER_MANIFEST)),
            LATEST_ABSENT,
        ),
    ),
    Row(
        "put_latest_method_override_get",
        pushable,
        (
            put(M + "/latest", "subject_oci", DENY, *OCI_PUT, ("X-HTTP-Method-Override", "GET")),
            LATEST_ABSENT,
        ),
    ),
    Row(
        "put_latest_chunked_with_subject",
        pushable,
        (
            put(
                M + "/latest",
                "subject_oci_chunked",
                DENY,
                *OCI_PUT,
                ("Transfer-Encoding", "chunked"),
            ),
            LATEST_ABSENT,
        ),
    ),
    Row(
        "put_latest_content_length_and_chunked",
        pushable,
        (
            put(
                M + "/latest",
                "u2_chunked",
                REJECT,
                *OCI_PUT,
                ("Content-Length", "5"),
                ("Transfer-Encoding", "chunked"),
            ),
            LATEST_ABSENT,
        ),
    ),
    Row(
        "put_runnable_under_sig_tag",
        pushable,
        (
            put(M + "/" + SIG_TAG, "u2_bytes", DENY),
            Step("HEAD", M + "/" + SIG_TAG, absent, ACCEPT, to="registry"),
        ),
    ),
    Row(
        "put_runnable_with_subject_under_att_tag",
        pushable,
        (put(M + "/sha256-{s_hex}.att", "subject_oci", DENY),),
    ),
    Row(
        "put_runnable_under_fallback_tag",
        pushable,
        (
            put(M + "/sha256-{s_hex}", "u2_bytes", DENY),
            Step("HEAD", M + "/sha256-{s_hex}", absent, ACCEPT, to="registry"),
        ),
    ),
    Row(
        "put_docker_runnable_under_sbom_tag",
        pushable,
        (
            put(
                M + "/sha256-{r_hex}.sbom",
                "subject_docker",
                DENY,
                ("Content-Type", DOCKER_MANIFEST),
            ),
        ),
    ),
    Row(
        "put_runnable_disguised_as_index_under_sig_tag",
        pushable,
        (
            put(M + "/" + SIG_TAG, "disguised", REJECT, ("Content-Type", OCI_INDEX)),
            Step("HEAD", M + "/" + SIG_TAG, absent, ACCEPT, to="registry"),
        ),
    ),
    Row(
        "put_signature_artifact_allowed",
        pushable,
        (
            put(M + "/{fresh_sig_tag}", "fresh_sig", status(201)),
            Step("GET", M + "/{fresh_sig_tag}", served("fresh_sig"), ACCEPT),
        ),
    ),
    Row(
        "put_latest_transfer_encoding_gzip_chunked",
        pushable,
        (
            put(
                M + "/latest",
                "subject_oci_chunked",
                REJECT,
                *OCI_PUT,
                ("Transfer-Encoding", "gzip, chunked"),
            ),
            LATEST_ABSENT,
        ),
    ),
    Row(
        "put_artifact_with_subject_under_latest",
        pushable,
        (put(M + "/latest", "artifact_bytes", DENY), LATEST_ABSENT),
    ),
    # ---- cross-repository mounts (finding 2)
    mount_row("mount_from_secret", "mount={x_layer}&from={secret}"),
    mount_row("mount_from_secret_percent_encoded", "mount={x_layer}&from={secret_enc}"),
    mount_row("mount_from_secret_first_of_two_from", "mount={x_layer}&from={secret}&from=open/z"),
    mount_row("mount_from_secret_second_of_two_from", "mount={x_layer}&from=open/z&from={secret}"),
    mount_row("mount_two_mount_params", "mount={x_layer}&mount={zero}&from={secret}"),
    mount_row("mount_second_mount_param", "mount={zero}&mount={x_layer}&from={secret}"),
    mount_row("mount_without_from", "mount={x_layer}"),
    mount_row("mount_into_team_from_secret", "mount={x_layer}&from={secret}", target="{repo}"),
    Row(
        "mount_from_refused_team_image",
        mount,
        (
            Step("POST", "/v2/{dst}/blobs/uploads/?mount={u_layer}&from={repo}", NO_MOUNT),
            Step("GET", "/v2/{dst}/blobs/{u_layer}", NOT_SERVED),
        ),
    ),
    Row(
        "mount_from_refused_team_percent_encoded",
        mount,
        (
            Step("POST", "/v2/{dst}/blobs/uploads/?mount={u_layer}&from={team_enc}", NO_MOUNT),
            Step("GET", "/v2/{dst}/blobs/{u_layer}", NOT_SERVED),
        ),
    ),
    Row(
        "mount_in_form_body",
        mount,
        (
            Step(
                "POST",
                "/v2/{dst}/blobs/uploads/",
                NO_MOUNT,
                (("Content-Type", "application/x-www-form-urlencoded"),),
                body="form",
            ),
            Step("GET", "/v2/{dst}/blobs/{x_layer}", NOT_SERVED),
        ),
    ),
    Row(
        "mount_from_in_form_body_overrides_query",
        mount,
        (
            Step(
                "POST",
                "/v2/{dst}/blobs/uploads/?mount={x_layer}&from=open/z",
                NO_MOUNT,
                (("Content-Type", "application/x-www-form-urlencoded"),),
                body="form_from",
            ),
            Step("GET", "/v2/{dst}/blobs/{x_layer}", NOT_SERVED),
        ),
    ),
    Row(
        "mount_in_multipart_body",
        mount,
        (
            Step(
                "POST",
                "/v2/{dst}/blobs/uploads/",
                NO_MOUNT,
                (("Content-Type", "{multipart_type}"),),
                body="multipart",
            ),
            Step("GET", "/v2/{dst}/blobs/{x_layer}", NOT_SERVED),
        ),
    ),
    Row(
        "plain_upload_to_open_still_works",
        mount,
        (
            Step("POST", "/v2/{dst}/blobs/uploads/", save_upload),
            Step("PUT", "{upload}", status(201), (("Content-Type", OCTET),), body="up_bytes"),
            Step("GET", "/v2/{dst}/blobs/{up_digest}", served("up_bytes")),
        ),
    ),
    Row(
        "pipelined_request_after_upload_is_judged",
        mount,
        (Step("PIPELINE", "/v2/{secret}/blobs/{x_layer}", DENY, body="pipeline"),),
    ),
    # ---- denied repositories: closed, no existence oracle, not in the catalog (finding 4)
    Row(
        "secret_manifest_existing",
        denied,
        (Step("GET", "/v2/{secret}/manifests/1.0.0", DENY, ACCEPT),),
    ),
    Row(
        "secret_manifest_oracle",
        denied,
        (
            Step("GET", "/v2/{secret}/manifests/1.0.0", DENY, ACCEPT),
            Step("GET", "/v2/{secret}/manifests/9.9.9", same_as_before, ACCEPT),
        ),
    ),
    Row(
        "secret_manifest_oracle_without_accept",
        denied,
        (
            Step("GET", "/v2/{secret}/manifests/1.0.0", DENY),
            Step("GET", "/v2/{secret}/manifests/9.9.9", same_as_before),
        ),
    ),
    Row(
        "secret_manifest_head_oracle",
        denied,
        (
            Step("HEAD", "/v2/{secret}/manifests/1.0.0", DENY, ACCEPT),
            Step("HEAD", "/v2/{secret}/manifests/9.9.9", same_as_before, ACCEPT),
        ),
    ),
    Row(
        "secret_manifest_by_digest_oracle",
        denied,
        (
            Step("GET", "/v2/{secret}/manifests/{x}", DENY, ACCEPT),
            Step("GET", "/v2/{secret}/manifests/{missing}", same_as_before, ACCEPT),
        ),
    ),
    Row(
        "secret_tags_list_oracle",
        denied,
        (
            Step("GET", "/v2/{secret}/tags/list", DENY),
            Step("GET", "/v2/{nowhere}/tags/list", same_as_before),
        ),
    ),
    Row(
        "secret_blob_oracle",
        denied,
        (
            Step("GET", "/v2/{secret}/blobs/{x_layer}", DENY),
            Step("GET", "/v2/{secret}/blobs/{missing}", same_as_before),
        ),
    ),
    Row(
        "secret_blob_head_oracle",
        denied,
        (
            Step("HEAD", "/v2/{secret}/blobs/{x_layer}", DENY),
            Step("HEAD", "/v2/{secret}/blobs/{missing}", same_as_before),
        ),
    ),
    Row("secret_upload_start", denied, (Step("POST", "/v2/{secret}/blobs/uploads/", DENY),)),
    Row(
        "secret_referrers_oracle",
        denied,
        (
            Step("GET", "/v2/{secret}/referrers/{x}", DENY),
            Step("GET", "/v2/{secret}/referrers/{missing}", same_as_before),
        ),
    ),
    Row(
        "secret_delete_oracle",
        denied,
        (
            Step("DELETE", "/v2/{secret}/manifests/{x}", DENY),
            Step("DELETE", "/v2/{secret}/manifests/{missing}", same_as_before),
            Step("HEAD", "/v2/{secret}/manifests/1.0.0", points_to("x"), ACCEPT, to="registry"),
        ),
    ),
    Row(
        "secret_put",
        denied,
        (put("/v2/{secret}/manifests/1.0.1", "x_bytes", DENY),),
    ),
    Row(
        "default_deny_manifest_oracle",
        denied,
        (
            Step("GET", "/v2/{other}/manifests/1.0.0", DENY, ACCEPT),
            Step("GET", "/v2/{other}/manifests/9.9.9", same_as_before, ACCEPT),
        ),
    ),
    Row("default_deny_blob", denied, (Step("GET", "/v2/{other}/blobs/{o_layer}", DENY),)),
    Row(
        "catalog_lists_no_denied_repository",
        denied,
        (Step("GET", "/v2/_catalog?n=1000", catalog_clean),),
    ),
    Row(
        "catalog_page_starting_in_secret",
        denied,
        (Step("GET", "/v2/_catalog?n=20&last=secret", catalog_clean),),
    ),
    Row(
        "catalog_page_starting_in_other",
        denied,
        (Step("GET", "/v2/_catalog?n=20&last=other", catalog_clean),),
    ),
    # ---- immutable tags (finding 5)
    Row(
        "immutable_delete_by_digest",
        immutable,
        (
            Step("DELETE", "/v2/{imm}/manifests/{i1}", DENY),
            Step("HEAD", "/v2/{imm}/manifests/1.0.0", points_to("i1"), ACCEPT, to="registry"),
        ),
    ),
    Row(
        "immutable_delete_by_tag",
        immutable,
        (
            Step("DELETE", "/v2/{imm}/manifests/1.0.0", DENY),
            Step("HEAD", "/v2/{imm}/manifests/1.0.0", points_to("i1"), ACCEPT, to="registry"),
        ),
    ),
    Row(
        "immutable_move",
        immutable,
        (
            put("/v2/{imm}/manifests/1.0.0", "i2_bytes", DENY),
            Step("HEAD", "/v2/{imm}/manifests/1.0.0", points_to("i1"), ACCEPT, to="registry"),
        ),
    ),
    Row(
        "immutable_delete_then_move",
        immutable,
        (
            Step("DELETE", "/v2/{imm}/manifests/{i1}", ANY),
            put("/v2/{imm}/manifests/1.0.0", "i2_bytes", DENY),
            Step("HEAD", "/v2/{imm}/manifests/1.0.0", points_to("i1"), ACCEPT, to="registry"),
        ),
    ),
    Row(
        "immutable_same_bytes_again",
        immutable,
        (put("/v2/{imm}/manifests/1.0.0", "i1_bytes", status(201)),),
    ),
    Row(
        "immutable_new_tag", immutable, (put("/v2/{imm}/manifests/1.0.1", "i2_bytes", status(201)),)
    ),
    # ---- children of a signed index keep their own scan verdicts (finding 6)
    Row(
        "critical_child_of_clean_signed_index",
        scanned,
        (
            Step("GET", "/v2/{scan}/manifests/1.0.0", served("idx_bytes"), ACCEPT, retry=6.0),
            Step("GET", "/v2/{scan}/manifests/{a}", served("a_bytes"), ACCEPT),
            Step("GET", "/v2/{scan}/manifests/{b}", DENY, ACCEPT),
            Step("GET", "/v2/{scan}/blobs/{b_layer}", DENY),
        ),
    ),
)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_bypass_attempt(row: Row, gate: Gate, direct: Direct, registry: Process) -> None:
    run(Case(gate, direct, registry), row)


def test_the_corpus_is_large_and_unique() -> None:
    names = [row.name for row in ROWS]
    assert len(names) == len(set(names))
    assert len(ROWS) >= 60
