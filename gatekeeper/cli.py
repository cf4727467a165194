"""Command line: ``gatekeeper serve | evaluate | policy check``.

GatekeeperError carries a message meant for people and becomes exit code 2. Anything else is
a bug: ``serve`` lets it surface; the one-shot commands log it and also exit 2, so a crash
never reads as a decision (1) in a CI pipeline.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from gatekeeper import __version__
from gatekeeper.config import (
    Settings,
    parse_listen,
    parse_public_url,
    parse_trusted_proxies,
    parse_upstreams,
)
from gatekeeper.errors import ConfigError, GatekeeperError

log = logging.getLogger("gatekeeper")


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"GATEKEEPER_{name}", default)


def _env_flag(name: str) -> bool:
    return (_env(name) or "").strip().lower() in ("1", "true", "yes", "on")


def _env_list(name: str, sep: str) -> list[str]:
    value = _env(name)
    return [part for part in value.split(sep) if part] if value else []


def _env_path(name: str) -> Path | None:
    value = _env(name)
    return Path(value) if value else None


def _add_upstream_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--upstream",
        action="append",
        default=None,
        metavar="[NAME=]URL",
        help="upstream registry base URL; NAME=URL routes a mirrored registry namespace "
        "(repeatable; GATEKEEPER_UPSTREAM, comma-separated)",
    )
    parser.add_argument(
        "--policy",
        action="append",
        type=Path,
        default=None,
        help=f"policy file or directory, repeatable (GATEKEEPER_POLICY, '{os.pathsep}'-separated)",
    )
    parser.add_argument(
        "--upstream-credentials",
        type=Path,
        default=_env_path("UPSTREAM_CREDENTIALS"),
        help="gatekeeper's own upstream credentials, Docker config.json format "
        "(GATEKEEPER_UPSTREAM_CREDENTIALS; or GATEKEEPER_UPSTREAM_USERNAME + "
        "GATEKEEPER_UPSTREAM_PASSWORD_FILE)",
    )
    parser.add_argument(
        "--upstream-ca",
        type=Path,
        default=_env_path("UPSTREAM_CA"),
        help="CA bundle for upstreams with a private CA (GATEKEEPER_UPSTREAM_CA)",
    )
    parser.add_argument(
        "--verdicts",
        type=Path,
        default=_env_path("VERDICTS"),
        help="directory of Trivy JSON reports, watched for changes (GATEKEEPER_VERDICTS)",
    )
    parser.add_argument(
        "--redis",
        default=_env("REDIS"),
        help="redis:// URL of a store shared by replicas (GATEKEEPER_REDIS)",
    )
    parser.add_argument(
        "--mirror",
        action="store_true",
        default=_env_flag("MIRROR"),
        help="read-only pull-through mirror for docker/containerd/podman; the "
        "default upstream is Docker Hub (GATEKEEPER_MIRROR)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatekeeper", description=__doc__)
    parser.add_argument("--version", action="version", version=f"gatekeeper {__version__}")
    parser.add_argument("--log-level", default=_env("LOG_LEVEL", "INFO"))
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gate in front of a registry")
    _add_upstream_flags(serve)
    serve.add_argument(
        "--listen",
        default=_env("LISTEN", "127.0.0.1:5000"),
        help="HOST:PORT to listen on (GATEKEEPER_LISTEN)",
    )
    serve.add_argument(
        "--dry-run",
        action="store_true",
        default=_env_flag("DRY_RUN"),
        help="warn and log what would be refused, refuse nothing (GATEKEEPER_DRY_RUN)",
    )
    serve.add_argument(
        "--decision-log",
        type=Path,
        default=_env_path("DECISION_LOG"),
        help="append decision JSON lines here instead of stdout (GATEKEEPER_DECISION_LOG)",
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        default=_env_flag("ACCESS_LOG"),
        help="log every request to stderr (GATEKEEPER_ACCESS_LOG)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=int(_env("WORKERS", "1") or "1"),
        help="worker processes sharing the listen port; > 1 needs --redis (GATEKEEPER_WORKERS)",
    )
    serve.add_argument(
        "--public-url",
        default=_env("PUBLIC_URL"),
        metavar="URL",
        help="the http(s)://HOST[:PORT] clients reach gatekeeper at; Location headers "
        "point there (default: relative Locations) (GATEKEEPER_PUBLIC_URL)",
    )
    serve.add_argument(
        "--trusted-proxies",
        default=_env("TRUSTED_PROXIES", ""),
        metavar="CIDR,…",
        help="peers whose Forwarded/X-Forwarded-*/X-Real-IP headers are passed upstream and "
        "whose X-Forwarded-For names the logged client; from anyone else they are dropped "
        "(GATEKEEPER_TRUSTED_PROXIES)",
    )
    serve.add_argument(
        "--tls-cert",
        type=Path,
        default=_env_path("TLS_CERT"),
        help="serve HTTPS with this certificate chain (GATEKEEPER_TLS_CERT); "
        "reloaded when it changes",
    )
    serve.add_argument(
        "--tls-key",
        type=Path,
        default=_env_path("TLS_KEY"),
        help="private key for --tls-cert (GATEKEEPER_TLS_KEY)",
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="print the decision for an image without a client (exit 0 allow, 1 deny, 2 error)",
    )
    evaluate.add_argument("ref", help="repo:tag or repo@sha256:…")
    _add_upstream_flags(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print the decision as JSON")
    evaluate.add_argument(
        "--explain",
        action="store_true",
        help="also show, per requirement, each candidate found, what verified and why the"
        " others did not count",
    )

    verdicts = commands.add_parser("verdicts", help="vulnerability verdict tools")
    verdict_commands = verdicts.add_subparsers(dest="verdicts_command", required=True)
    show = verdict_commands.add_parser(
        "show",
        help="the verdict gatekeeper would use and why it passes or fails "
        "(exit 0 passes, 1 refused, 2 error)",
    )
    show.add_argument("target", help="repo:tag, repo@sha256:… or sha256:…")
    _add_upstream_flags(show)

    policy = commands.add_parser("policy", help="policy tools")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser("check", help="validate policy files")
    check.add_argument("paths", nargs="+", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=str(args.log_level).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "verdicts":
            return _verdicts_show(args)
        if args.command == "policy":
            return _policy_check(args.paths)
    except GatekeeperError as exc:
        print(f"gatekeeper: {exc.message}", file=sys.stderr)
        return 2
    except Exception:
        if args.command == "serve":
            raise
        # For CI pipelines 1 means "refused": a crash must never look like a decision.
        log.exception("internal error")
        return 2
    return 2


def _settings(args: argparse.Namespace) -> Settings:
    upstreams = args.upstream or _env_list("UPSTREAM", ",")
    default, namespaces = parse_upstreams(upstreams, args.mirror)
    policies = args.policy or [Path(p) for p in _env_list("POLICY", os.pathsep)]
    if not policies:
        raise ConfigError("--policy (or GATEKEEPER_POLICY) is required")
    return Settings(
        upstream=default,
        policy_paths=tuple(policies),
        mirror=args.mirror,
        namespaces=namespaces,
        credentials=args.upstream_credentials,
        upstream_ca=args.upstream_ca,
        verdicts=args.verdicts,
        redis=args.redis,
    )


def _serve(args: argparse.Namespace) -> int:
    from gatekeeper.server.run import run  # imports aiohttp: only when serving

    if bool(args.tls_cert) != bool(args.tls_key):
        raise ConfigError("--tls-cert and --tls-key go together")
    host, port = parse_listen(args.listen)
    settings = dataclasses.replace(
        _settings(args),
        listen_host=host,
        listen_port=port,
        dry_run=args.dry_run,
        decision_log=args.decision_log,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        workers=args.workers,
        public_url=parse_public_url(args.public_url) if args.public_url else None,
        trusted_proxies=parse_trusted_proxies(args.trusted_proxies),
    )
    if settings.workers < 1:
        raise ConfigError("--workers must be at least 1")
    return run(settings, access_log=args.access_log)


def _evaluate(args: argparse.Namespace) -> int:
    import asyncio

    from gatekeeper import evaluate

    settings = _settings(args)
    ref = evaluate.parse_reference(args.ref)
    admission = asyncio.run(evaluate.evaluate(settings, ref))
    print(evaluate.render(admission, args.json, args.explain))
    return evaluate.exit_code(admission)


def _verdicts_show(args: argparse.Namespace) -> int:
    import asyncio

    from gatekeeper.scans.show_command import verdict_report

    upstreams = args.upstream or _env_list("UPSTREAM", ",")
    default, namespaces = parse_upstreams(upstreams, args.mirror) if upstreams else ("", ())
    settings = Settings(
        upstream=default,
        policy_paths=tuple(args.policy or ()),
        namespaces=namespaces,
        credentials=args.upstream_credentials,
        upstream_ca=args.upstream_ca,
        verdicts=args.verdicts,
        redis=args.redis,
    )
    report = asyncio.run(verdict_report(args.target, settings))
    print(report.text, end="")
    return 0 if report.passes else 1


def _policy_check(paths: list[Path]) -> int:
    from gatekeeper.policy.loader import check_paths

    problems = check_paths(paths)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"ok: {', '.join(str(p) for p in paths)}")
    return 1 if problems else 0
