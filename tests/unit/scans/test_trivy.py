"""Trivy JSON report parsing: the real reports, then malformed and hostile inputs as tables."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from gatekeeper.errors import GatekeeperError
from gatekeeper.policy.evidence import Finding
from gatekeeper.scans.errors import TrivyReportError
from gatekeeper.scans.trivy import TrivyLimits, digest_from_file_name, parse_trivy_report
from tests.unit.scans.conftest import ALPINE, ALPINE_DIGEST, DEBIAN, MANY, digest_for, retarget

MTIME = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HEX = "ab" * 32


def test_alpine_report_belongs_to_its_repo_digest_and_keeps_every_finding() -> None:
    report = parse_trivy_report(ALPINE.read_bytes(), mtime=MTIME)
    assert report.digests == (ALPINE_DIGEST,)
    assert report.created == datetime(2021, 8, 25, 12, 20, 30, tzinfo=UTC)  # ns truncated
    assert report.findings == (
        Finding("CVE-2019-1549", "libcrypto1.1", "1.1.1c-r0", "1.1.1d-r0", "MEDIUM"),
        Finding("CVE-2019-1551", "libcrypto1.1", "1.1.1c-r0", "1.1.1d-r2", "MEDIUM"),
        Finding("CVE-2019-1549", "libssl1.1", "1.1.1c-r0", "1.1.1d-r0", "MEDIUM"),
        Finding("CVE-2019-1551", "libssl1.1", "1.1.1c-r0", "1.1.1d-r2", "MEDIUM"),
    )
    (verdict,) = report.verdicts("trivy report a.json")
    assert (verdict.digest, verdict.source, verdict.findings) == (
        ALPINE_DIGEST,
        "trivy report a.json",
        report.findings,
    )


def test_debian_report_without_repo_digests_is_named_by_its_file_name() -> None:
    with pytest.raises(TrivyReportError, match="names no manifest digest"):
        parse_trivy_report(DEBIAN.read_bytes())
    report = parse_trivy_report(DEBIAN.read_bytes(), file_name=f"sha256-{HEX}.json")
    assert report.digests == (f"sha256:{HEX}",)
    assert report.findings == (
        Finding("CVE-2019-18276", "bash", "5.0-4", None, "LOW"),  # no FixedVersion → None
        Finding("CVE-2019-18224", "libidn2-0", "2.0.5-1", "2.0.5-1+deb10u1", "CRITICAL"),
    )


def test_report_without_created_at_takes_the_file_mtime() -> None:
    data = retarget(MANY, digest_for("many"))
    report = parse_trivy_report(data, mtime=MTIME)
    assert report.created == MTIME
    assert parse_trivy_report(data).created is None
    assert [f.id for f in report.findings] == [
        "CVE-2020-15999",
        "CVE-2020-28196",
        "CVE-2019-12900",
        "CVE-2018-11771",
        "CVE-2018-1324",
    ]
    assert [f.severity for f in report.findings].count("CRITICAL") == 1


def test_repository_part_is_ignored_and_digests_are_merged_with_the_file_name() -> None:
    one, two = digest_for("one"), digest_for("two")
    doc = json.loads(retarget(ALPINE, one))
    doc["Metadata"]["RepoDigests"] = [f"a/b@{one}", f"registry:5000/c/d@{one}", f"e@{two}"]
    report = parse_trivy_report(json.dumps(doc).encode(), file_name=f"sha256-{HEX}.json")
    assert report.digests == tuple(sorted({one, two, f"sha256:{HEX}"}))
    assert len(report.verdicts("x")) == 3


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (f"sha256-{HEX}.json", f"sha256:{HEX}"),
        (f"sha512-{'cd' * 64}.json", f"sha512:{'cd' * 64}"),
        ("app.json", None),
        (f"sha256-{HEX}.json.tmp", None),
        (f"x-sha256-{HEX}.json", None),
    ],
)
def test_digest_from_file_name(name: str, expected: str | None) -> None:
    assert digest_from_file_name(name) == expected


def test_a_file_name_shaped_like_a_digest_but_malformed_is_refused() -> None:
    with pytest.raises(TrivyReportError, match="file name"):
        digest_from_file_name("sha256-abc.json")


def _mutate(**changes: Any) -> bytes:
    doc = json.loads(ALPINE.read_bytes())
    for path, value in changes.items():
        target = doc
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[last if not last.isdigit() else int(last)]
        else:
            target[int(last) if last.isdigit() else last] = value
    return json.dumps(doc).encode()


_DELETE = object()
VULN = "Results__0__Vulnerabilities__0__"

MALFORMED = [
    ("not json", b"{", "not valid JSON"),
    ("invalid utf-8", b'{"SchemaVersion": 2, "x": "\xff"}', "not valid JSON"),
    ("array", b"[]", "not a JSON object"),
    ("duplicate keys", b'{"SchemaVersion": 2, "SchemaVersion": 2}', "duplicate key"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ("schema 1", _mutate(SchemaVersion=1), "SchemaVersion is 1"),
    ("schema missing", _mutate(SchemaVersion=_DELETE), "SchemaVersion is None"),
    ("schema string", _mutate(SchemaVersion="2"), "SchemaVersion is '2'"),
    ("schema true", _mutate(SchemaVersion=True), "SchemaVersion is True"),
    ("metadata list", _mutate(Metadata=[]), "Metadata is a list"),
    ("repo digests string", _mutate(Metadata__RepoDigests="a@b"), "not an array"),
    (
        "repo digest int",
        _mutate(Metadata__RepoDigests=[1]),
        r"RepoDigests\[0\] is a int, not a string",
    ),
    ("repo digest without @", _mutate(Metadata__RepoDigests=["alpine"]), "not repository@digest"),
    ("repo digest bad hex", _mutate(Metadata__RepoDigests=["a@sha256:xyz"]), "invalid sha256"),
    ("repo digest md5", _mutate(Metadata__RepoDigests=["a@md5:abc"]), "unsupported digest"),
    ("no digests", _mutate(Metadata__RepoDigests=[]), "names no manifest digest"),
    ("created int", _mutate(CreatedAt=5), "CreatedAt is a int"),
    ("created garbage", _mutate(CreatedAt="yesterday"), "not an RFC 3339 timestamp"),
    ("results object", _mutate(Results={}), "Results is a dict"),
    ("result string", _mutate(Results=["x"]), r"Results\[0\] is a str"),
    ("vulns object", _mutate(Results__0__Vulnerabilities={}), "Vulnerabilities is a dict"),
    ("vuln null", _mutate(Results__0__Vulnerabilities=[None]), "is a NoneType"),
    ("id missing", _mutate(**{VULN + "VulnerabilityID": _DELETE}), "VulnerabilityID is missing"),
    ("id int", _mutate(**{VULN + "VulnerabilityID": 7}), "VulnerabilityID is a int"),
    ("id blank", _mutate(**{VULN + "VulnerabilityID": " "}), "VulnerabilityID is empty"),
    ("pkg missing", _mutate(**{VULN + "PkgName": _DELETE}), "PkgName is missing"),
    ("installed list", _mutate(**{VULN + "InstalledVersion": []}), "InstalledVersion is a list"),
    ("fixed int", _mutate(**{VULN + "FixedVersion": 1}), "FixedVersion is a int"),
    ("severity missing", _mutate(**{VULN + "Severity": _DELETE}), "Severity is missing"),
    ("severity unknown", _mutate(**{VULN + "Severity": "SEVERE"}), "'SEVERE' is not one of"),
    ("id too long", _mutate(**{VULN + "VulnerabilityID": "C" * 5000}), "longer than 4096"),
]


@pytest.mark.parametrize(
    ("data", "message"), [(d, m) for _, d, m in MALFORMED], ids=[name for name, _, _ in MALFORMED]
)
def test_malformed_reports_raise_trivy_report_error_naming_the_problem(
    data: bytes, message: str
) -> None:
    with pytest.raises(TrivyReportError, match=message) as caught:
        parse_trivy_report(data)
    assert isinstance(caught.value, GatekeeperError)


def test_optional_fields_may_be_absent_or_null() -> None:
    data = _mutate(
        **{VULN + "FixedVersion": None, VULN + "InstalledVersion": _DELETE, "CreatedAt": _DELETE}
    )
    report = parse_trivy_report(data)
    assert report.findings[0] == Finding("CVE-2019-1549", "libcrypto1.1", "", None, "MEDIUM")
    assert report.created is None
    assert parse_trivy_report(_mutate(Results=None)).findings == ()
    assert parse_trivy_report(_mutate(Results__0__Vulnerabilities=None)).findings == ()


def test_severity_is_case_insensitive_and_normalised() -> None:
    report = parse_trivy_report(_mutate(**{VULN + "Severity": "critical"}))
    assert report.findings[0].severity == "CRITICAL"


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (TrivyLimits(max_bytes=1000), "more than the limit of 1000"),
        (TrivyLimits(max_findings=3), "more than 3 findings"),
        (TrivyLimits(max_digests=0), "RepoDigests has more than 0 entries"),
        (TrivyLimits(max_results=0), "Results has more than 0 entries"),
        (TrivyLimits(max_chars=5), "longer than 5 characters"),
    ],
)
def test_limits_refuse_the_whole_report(limits: TrivyLimits, message: str) -> None:
    with pytest.raises(TrivyReportError, match=message):
        parse_trivy_report(ALPINE.read_bytes(), limits=limits)
    parse_trivy_report(ALPINE.read_bytes())  # the same report within the default limits


def test_findings_are_counted_across_results() -> None:
    doc = json.loads(ALPINE.read_bytes())
    doc["Results"] = doc["Results"] * 2  # 2 results of 4 findings
    with pytest.raises(TrivyReportError, match="more than 7 findings"):
        parse_trivy_report(json.dumps(doc).encode(), limits=TrivyLimits(max_findings=7))
    assert len(parse_trivy_report(json.dumps(doc).encode()).findings) == 8


_REPLACEMENTS: list[Any] = [None, 0, -1, 1.5, True, "", "x", [], {}, [None], {"a": 1}, "a@b"]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:2]):
            out += _paths(value, (*prefix, index))
    return out


def test_random_type_confusion_never_raises_anything_but_trivy_report_error() -> None:
    original = json.loads(ALPINE.read_bytes())
    paths = _paths(original)
    rng = random.Random(5)  # fixed seed: the same cases on every run
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(600):
        doc = json.loads(ALPINE.read_bytes())
        for path in rng.sample(paths, 2):
            target = doc
            try:
                for part in path[:-1]:
                    target = target[part]
                target[path[-1]] = copy.deepcopy(rng.choice(_REPLACEMENTS))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier replacement removed the parent
        try:
            parse_trivy_report(json.dumps(doc).encode())
            outcomes["ok"] += 1
        except TrivyReportError:
            outcomes["refused"] += 1
    assert outcomes["ok"] > 0 and outcomes["refused"] > 0
