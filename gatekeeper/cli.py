"""Command line: ``gatekeeper serve | evaluate | lint | verdicts show | policy check``.

Every error ends as one ``gatekeeper: …`` line on stderr and exit code 2 (usage mistakes,
settings, files and sockets the system refuses, an upstream down): a crash never reads as a
decision (1) in a CI pipeline. A bug says only its type (details with ``--log-level debug``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from gatekeeper import __version__, healthcheck, logging_setup
from gatekeeper.config import (
    Limits,
    Settings,
    parse_listen,
    parse_public_url,
    parse_trusted_proxies,
    parse_upstreams,
)
from gatekeeper.errors import ConfigError, GatekeeperError
from gatekeeper.logging_setup import FORMATS, LEVELS

log = logging.getLogger("gatekeeper")

DESCRIPTION = """\
gatekeeper: a policy gate in front of an OCI registry. It admits or refuses every pull and
push by policy (signatures, vulnerability verdicts, image rules, tags)."""
EPILOG = """\
commands:
  serve            run the gate in front of a registry
  evaluate REF     the decision for one image, without a client
  lint REF         every image check at its default, without a policy (before a push)
  verdicts show    the vulnerability verdict gatekeeper would use, and why
  policy check     validate policy files (file:line: problem)

exit codes:
  0  served, allowed, valid, clean  1  denied, refused, invalid, findings (evaluate, lint,
                                       verdicts, policy)
  2  error: bad usage or settings, a port in use, an unreadable file, an upstream down

environment:
  every flag has a GATEKEEPER_* variable (named in each command's --help), e.g.
  GATEKEEPER_UPSTREAM, GATEKEEPER_POLICY, GATEKEEPER_LOG_LEVEL, GATEKEEPER_LOG_FORMAT.
  Flags win over variables.

examples:
  gatekeeper serve --upstream http://registry:5000 --policy policy/ --listen 0.0.0.0:5000
  gatekeeper policy check policy/
  gatekeeper evaluate team/app:1.2.3 --upstream http://registry:5000 --policy policy/ -o json
  gatekeeper lint staging/app:1.2.3 --upstream http://registry:5000
  gatekeeper serve --help     flags, defaults and variables of one command

docs: README.md, docs/operations.md (limits, metrics, logs)"""
SERVE_EPILOG = """\
examples:
  # a front door for a private registry, with TLS and metrics on a separate port
  gatekeeper serve --upstream http://registry.internal:5000 --policy /etc/gatekeeper/ \\
      --listen 0.0.0.0:5000 --tls-cert cert.pem --tls-key key.pem --metrics-listen 0.0.0.0:9100
  # four processes sharing state in Redis; JSON logs for a collector
  gatekeeper serve --upstream http://registry:5000 --policy policy/ --workers 4 \\
      --redis redis://redis:6379/0 --log-format json
  # see what would be refused, refuse nothing
  gatekeeper serve --upstream http://registry:5000 --policy policy/ --dry-run

endpoints: /v2/… (the registry API, decided), /healthz, /readyz, /metrics (Prometheus).
upstream connections honour HTTPS_PROXY, HTTP_PROXY and NO_PROXY (docs/operations.md).
signals: SIGHUP reloads the policy; SIGTERM/SIGINT stop after requests in flight finish.
exit codes: 0 stopped cleanly; 2 bad settings, a port in use or an address the host lacks,
an unreadable file; 1 a worker died on its own."""


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one ``gatekeeper: …`` line and exit 2, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"gatekeeper: {message} (see: {self.prog} --help)\n")


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


def _add_upstream_flags(parser: argparse.ArgumentParser, *, with_policy: bool = True) -> None:
    parser.add_argument(
        "--upstream",
        action="append",
        default=None,
        metavar="[NAME=]URL",
        help="upstream registry base URL; NAME=URL routes a mirrored registry namespace "
        "(repeatable; GATEKEEPER_UPSTREAM, comma-separated)",
    )
    if with_policy:
        parser.add_argument(
            "--policy",
            action="append",
            type=Path,
            default=None,
            help=f"policy file or directory, repeatable (GATEKEEPER_POLICY,"
            f" '{os.pathsep}'-separated)",
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
        help="CA bundle for upstreams with a private CA, added to the system CAs "
        "(GATEKEEPER_UPSTREAM_CA)",
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


def _add_limit_flags(parser: argparse.ArgumentParser) -> None:
    """One flag and one variable per field of :class:`Limits` (docs/operations.md)."""
    group = parser.add_argument_group("limits (docs/operations.md)")
    for field in dataclasses.fields(Limits):
        default = field.default
        kind = int if isinstance(default, int) else float
        env = field.name.upper()
        group.add_argument(
            f"--{field.name.replace('_', '-')}",
            dest=f"limit_{field.name}",
            type=kind,
            default=_env(env),  # argparse converts (and checks) string defaults with ``type``
            metavar=kind.__name__.upper(),
            help=f"default {default} (GATEKEEPER_{env})",
        )


def _limits(args: argparse.Namespace) -> Limits:
    given = {
        field.name: value
        for field in dataclasses.fields(Limits)
        if (value := getattr(args, f"limit_{field.name}", None)) is not None
    }
    return Limits(**given)


def _add_log_flags(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``--log-level``/``--log-format``, before or after the subcommand (the later wins)."""
    group = parser.add_argument_group("logging")
    group.add_argument(
        "--log-level",
        type=str.lower,
        choices=LEVELS,
        # A subcommand's copy must not reset what was given before the subcommand.
        default=(_env("LOG_LEVEL", "info") or "info").lower() if top else argparse.SUPPRESS,
        help="least severe level logged (default info; GATEKEEPER_LOG_LEVEL)",
    )
    group.add_argument(
        "--log-format",
        choices=FORMATS,
        default=_env("LOG_FORMAT", "text") if top else argparse.SUPPRESS,
        help="stderr log lines as text, or one JSON object per line (default text; "
        "GATEKEEPER_LOG_FORMAT)",
    )


def _add_output_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="text for people, or one JSON document on stdout (errors too) (default text)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gatekeeper",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gatekeeper {__version__}")
    _add_log_flags(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the gate in front of a registry",
        description="Run the gate in front of a registry: every request is decided by policy.",
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_log_flags(serve, top=False)
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
        "--metrics-listen",
        default=_env("METRICS_LISTEN"),
        metavar="HOST:PORT",
        help="serve /metrics (Prometheus) on this address only, instead of on --listen "
        "(GATEKEEPER_METRICS_LISTEN)",
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
    _add_limit_flags(serve)

    evaluate = commands.add_parser(
        "evaluate",
        help="print the decision for an image without a client (exit 0 allow, 1 deny, 2 error)",
    )
    evaluate.add_argument("ref", help="repo:tag or repo@sha256:…")
    _add_log_flags(evaluate, top=False)
    _add_upstream_flags(evaluate)
    _add_output_flag(evaluate)
    evaluate.add_argument(
        "--json", dest="output", action="store_const", const="json", help="the same as -o json"
    )
    _add_limit_flags(evaluate)
    evaluate.add_argument(
        "--explain",
        action="store_true",
        help="also show, per requirement, each candidate found, what verified and why the"
        " others did not count",
    )

    lint = commands.add_parser(
        "lint",
        help="every image check at its default, without a policy (exit 0 clean, 1 findings,"
        " 2 error)",
        description="Read an image's config from the registry and run every image check at"
        " its default: non-root user, no secrets in ENV or labels (by name or value), a"
        " HEALTHCHECK, no ADD from a URL, at most 125 layers. For pipelines before a push"
        " or a promotion.",
    )
    lint.add_argument("ref", help="repo:tag or repo@sha256:…")
    _add_log_flags(lint, top=False)
    _add_upstream_flags(lint, with_policy=False)
    _add_output_flag(lint)

    verdicts = commands.add_parser("verdicts", help="vulnerability verdict tools")
    verdict_commands = verdicts.add_subparsers(dest="verdicts_command", required=True)
    show = verdict_commands.add_parser(
        "show",
        help="the verdict gatekeeper would use and why it passes or fails "
        "(exit 0 passes, 1 refused, 2 error)",
    )
    show.add_argument("target", help="repo:tag, repo@sha256:… or sha256:…")
    _add_log_flags(show, top=False)
    _add_output_flag(show)
    _add_upstream_flags(show)

    policy = commands.add_parser("policy", help="policy tools")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser("check", help="validate policy files")
    check.add_argument("paths", nargs="+", type=Path)
    _add_log_flags(check, top=False)
    _add_output_flag(check)

    healthcheck.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging_setup.configure(args.log_level, args.log_format)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "lint":
            return _lint(args)
        if args.command == "verdicts":
            return _verdicts_show(args)
        if args.command == "policy":
            return _policy_check(args.paths, args.output)
        if args.command == "healthcheck":
            return healthcheck.run(args)
    except GatekeeperError as exc:
        return _fail(args, exc.code, exc.message)
    except OSError as exc:  # a file or socket the system refused (not a bug)
        where = f": {exc.filename}" if exc.filename else ""
        return _fail(args, "OS_ERROR", f"{exc.strerror or exc}{where}")
    except Exception as exc:
        # For CI pipelines 1 means "refused": a crash must never look like a decision. The
        # type only on the line (a message may hold request data); details at debug level.
        log.debug("internal error", exc_info=True)
        return _fail(args, "INTERNAL", f"internal error ({type(exc).__name__})")
    return 2


def _fail(args: argparse.Namespace, code: str, message: str) -> int:
    """One ``gatekeeper: …`` line on stderr (and a JSON error on stdout with ``-o json``)."""
    message = message.removeprefix("gatekeeper: ")
    if getattr(args, "output", "text") == "json":
        print(json.dumps({"error": {"code": code, "message": message}}, indent=2))
    print(f"gatekeeper: {message}", file=sys.stderr)
    return 2


def _settings(args: argparse.Namespace, *, policy_required: bool = True) -> Settings:
    upstreams = args.upstream or _env_list("UPSTREAM", ",")
    default, namespaces = parse_upstreams(upstreams, args.mirror)
    policies: list[Path] = []
    if policy_required:
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
        limits=_limits(args),
    )


def _serve(args: argparse.Namespace) -> int:
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
        metrics_listen=parse_listen(args.metrics_listen, "--metrics-listen")
        if args.metrics_listen
        else None,
    )
    if settings.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if settings.workers == 1:
        from gatekeeper.server.run import run  # imports aiohttp: only when serving

        return run(settings, access_log=args.access_log)
    from gatekeeper.metrics_dir import multiprocess_metrics

    with multiprocess_metrics():  # before prometheus_client is imported (by run)
        from gatekeeper.server.run import run

        return run(settings, access_log=args.access_log)


def _evaluate(args: argparse.Namespace) -> int:
    import asyncio

    from gatekeeper import evaluate

    settings = _settings(args)
    ref = evaluate.parse_reference(args.ref)
    admission = asyncio.run(evaluate.evaluate(settings, ref))
    print(evaluate.render(admission, args.output == "json", args.explain))
    return evaluate.exit_code(admission)


def _lint(args: argparse.Namespace) -> int:
    import asyncio

    from gatekeeper import evaluate, lint

    settings = _settings(args, policy_required=False)
    ref = evaluate.parse_reference(args.ref)
    admission = asyncio.run(lint.lint(settings, ref))
    print(lint.render(admission, args.output == "json"))
    return lint.exit_code(admission)


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
    if args.output == "json":
        print(json.dumps({"target": args.target, "passes": report.passes, "report": report.text}))
    else:
        print(report.text, end="")
    return 0 if report.passes else 1


def _policy_check(paths: list[Path], output: str) -> int:
    from gatekeeper.policy.loader import check_paths

    problems = check_paths(paths)
    if output == "json":
        document = {"valid": not problems, "paths": [str(p) for p in paths], "problems": problems}
        print(json.dumps(document, indent=2))
        return 1 if problems else 0
    for problem in problems:
        print(problem)
    if not problems:
        print(f"ok: {', '.join(str(p) for p in paths)}")
    return 1 if problems else 0
