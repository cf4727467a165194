"""Command line: ``gatekeeper serve | evaluate | policy check``.

Only GatekeeperError is caught here: it carries a message meant for people. Anything else
is a bug and is allowed to surface.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from gatekeeper import __version__
from gatekeeper.config import Settings, check_upstream, parse_listen
from gatekeeper.errors import ConfigError, GatekeeperError

log = logging.getLogger("gatekeeper")


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"GATEKEEPER_{name}", default)


def _env_flag(name: str) -> bool:
    return (_env(name) or "").strip().lower() in ("1", "true", "yes", "on")


def _env_paths(name: str) -> list[Path]:
    value = _env(name)
    return [Path(p) for p in value.split(os.pathsep) if p] if value else []


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatekeeper", description=__doc__)
    parser.add_argument("--version", action="version", version=f"gatekeeper {__version__}")
    parser.add_argument("--log-level", default=_env("LOG_LEVEL", "INFO"))
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gate in front of a registry")
    serve.add_argument("--upstream", default=_env("UPSTREAM"),
                       help="upstream registry base URL (GATEKEEPER_UPSTREAM)")
    serve.add_argument("--listen", default=_env("LISTEN", "127.0.0.1:5000"),
                       help="HOST:PORT to listen on (GATEKEEPER_LISTEN)")
    serve.add_argument("--policy", action="append", type=Path, default=None,
                       help="policy file or directory, repeatable (GATEKEEPER_POLICY, "
                       "os.pathsep-separated)")
    serve.add_argument("--dry-run", action="store_true", default=_env_flag("DRY_RUN"),
                       help="warn and log what would be refused, refuse nothing "
                       "(GATEKEEPER_DRY_RUN)")
    serve.add_argument("--decision-log", type=Path, default=_env("DECISION_LOG"),
                       help="append decision JSON lines here instead of stdout "
                       "(GATEKEEPER_DECISION_LOG)")
    serve.add_argument("--access-log", action="store_true", default=_env_flag("ACCESS_LOG"),
                       help="log every request to stderr (GATEKEEPER_ACCESS_LOG)")

    evaluate = commands.add_parser(
        "evaluate", help="print the decision for an image without a client (exit 0 allow, "
        "1 deny, 2 error)")
    evaluate.add_argument("ref", help="repo:tag or repo@sha256:…")
    evaluate.add_argument("--upstream", default=_env("UPSTREAM"))
    evaluate.add_argument("--policy", action="append", type=Path, default=None)
    evaluate.add_argument("--json", action="store_true", help="print the decision as JSON")

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
        if args.command == "policy":
            return _policy_check(args.paths)
    except GatekeeperError as exc:
        print(f"gatekeeper: {exc.message}", file=sys.stderr)
        for problem in getattr(exc, "problems", ()):
            print(f"  {problem}", file=sys.stderr)
        return 2
    return 2


def _required(args: argparse.Namespace) -> tuple[str, tuple[Path, ...]]:
    if not args.upstream:
        raise ConfigError("--upstream (or GATEKEEPER_UPSTREAM) is required")
    policies = args.policy or _env_paths("POLICY")
    if not policies:
        raise ConfigError("--policy (or GATEKEEPER_POLICY) is required")
    return check_upstream(args.upstream), tuple(policies)


def _serve(args: argparse.Namespace) -> int:
    from gatekeeper.server.run import run  # imports aiohttp: only when serving

    upstream, policies = _required(args)
    host, port = parse_listen(args.listen)
    settings = Settings(
        upstream=upstream,
        policy_paths=policies,
        listen_host=host,
        listen_port=port,
        dry_run=args.dry_run,
        decision_log=Path(args.decision_log) if args.decision_log else None,
    )
    run(settings, access_log=args.access_log)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import asyncio

    from gatekeeper import evaluate

    upstream, policies = _required(args)
    ref = evaluate.parse_reference(args.ref)
    admission = asyncio.run(evaluate.evaluate(Settings(upstream, policies), ref))
    print(evaluate.render(admission, args.json))
    return evaluate.exit_code(admission)


def _policy_check(paths: list[Path]) -> int:
    from gatekeeper.policy.loader import check_paths

    problems = check_paths(paths)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"ok: {', '.join(str(p) for p in paths)}")
    return 1 if problems else 0
