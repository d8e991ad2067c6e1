"""``python -m include.demo_target`` commands: migrate, generate, beta, up, down, status, restart."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

import psycopg

from include.demo_target import supervisor
from include.demo_target.beta import BetaProfile, simulate_beta
from include.demo_target.config import (
    DATABASE_URL_VAR,
    DEFAULTS,
    read_env_file,
    write_env_file,
)
from include.demo_target.generator import generate, parse_defects
from include.demo_target.schema import migrate

DEFAULT_STATE_DIR = supervisor.PROJECT_ROOT / ".run" / "demo_target"


def _default_db() -> str:
    """$DEMO_TARGET_DATABASE_URL, else a ``demo_target`` database on the project's embedded server."""
    url = os.environ.get(DATABASE_URL_VAR)
    if url:
        return url
    from include.devservices.postgres import start_server  # the same server the tests use

    server = start_server()
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'demo_target'").fetchone() is None:
            conn.execute('CREATE DATABASE "demo_target"')
    return server.url_for("demo_target")


def _print(data: object) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_up(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    db_url = args.db or _default_db()
    migrate(db_url)
    with psycopg.connect(db_url) as conn:
        empty = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM tenants)").fetchone()
    generated = None
    if empty and empty[0]:
        generated = generate(db_url, args.tenants, args.seed, parse_defects(args.defects))
    env_file = Path(args.env_file) if args.env_file else state_dir / "service.env"
    if not env_file.exists():
        write_env_file(env_file, dict(DEFAULTS))
    # The URL goes to replicas through the environment unless the env file names one.
    pass_url = None if "DATABASE_URL" in read_env_file(env_file) else db_url
    state = supervisor.start_replicas(state_dir, env_file, args.replicas, args.base_port, pass_url, args.faults)
    _print(
        {
            "replicas": [r.url for r in state.replicas],
            "state_dir": state.state_dir,
            "env_file": str(env_file),
            "admin_token_file": None
            if os.environ.get(supervisor.ADMIN_TOKEN_VAR)
            else str(state_dir.resolve() / supervisor.TOKEN_FILE),
            "generated": None
            if generated is None
            else {"tenants": generated.tenants, "rows": generated.total_rows, "defects": generated.defects},
        }
    )
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    state = supervisor.ClusterState.load(args.state_dir)
    supervisor.stop_all(state)
    _print(state.to_json())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = supervisor.refresh_status(supervisor.ClusterState.load(args.state_dir))
    out = state.to_json()
    for rep in out["replicas"]:
        rep["health"] = supervisor.health(rep["url"]) if rep["status"] == "up" else None
    _print(out)
    return 0 if all(r.status == "up" for r in state.replicas) else 1


def cmd_restart(args: argparse.Namespace) -> int:
    state = supervisor.refresh_status(supervisor.ClusterState.load(args.state_dir))
    if args.rolling:
        _print(supervisor.rolling_restart(state, args.drain_seconds))
    else:
        replica = supervisor.restart_replica(state, args.replica, args.drain_seconds)
        _print({"replica": replica.index, "pid": replica.pid, "url": replica.url})
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    _print({"tables": migrate(args.db)})
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    result = generate(args.db, args.tenants, args.seed, parse_defects(args.defects))
    _print(
        {
            "tenants": result.tenants,
            "seed": result.seed,
            "seconds": round(result.seconds, 3),
            "total_rows": result.total_rows,
            "rows": result.rows,
            "defects": result.defects,
        }
    )
    return 0


def cmd_beta(args: argparse.Namespace) -> int:
    profile = BetaProfile() if args.profile == "pass" else BetaProfile.failing()
    cohort = [int(t) for t in args.cohort.split(",")]
    with psycopg.connect(args.db) as conn:
        summary = simulate_beta(conn, cohort, args.days, date.fromisoformat(args.start), args.seed, profile)
    _print(summary.__dict__)
    return 0


def cmd_chaos_db(args: argparse.Namespace) -> int:
    from include.demo_target import chaos

    if args.action == "block":
        _print({"blocked": args.name, "sessions_ended": chaos.block(args.admin_db, args.name)})
    else:
        chaos.unblock(args.admin_db, args.name)
        _print({"unblocked": args.name})
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m include.demo_target", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("migrate", help="create tables and indexes (idempotent)")
    p.add_argument("--db", required=True)
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("generate", help="replace the data with N generated tenants")
    p.add_argument("--db", required=True)
    p.add_argument("--tenants", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--defects", default="", help="all | none | comma list of defect names")
    p.set_defaults(func=cmd_generate)
    p = sub.add_parser("beta", help="simulate N days of beta activity for a cohort of tenants")
    p.add_argument("--db", required=True)
    p.add_argument("--cohort", required=True, help="comma list of tenant ids")
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--start", default=date.today().isoformat())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", choices=("pass", "fail"), default="pass")
    p.set_defaults(func=cmd_beta)
    p = sub.add_parser("chaos-db", help="make the database refuse connections (block) or accept them (unblock)")
    p.add_argument("action", choices=("block", "unblock"))
    p.add_argument("--admin-db", required=True, help="URL of another database on the server, as a superuser")
    p.add_argument("--name", required=True, help="the target database's name")
    p.set_defaults(func=cmd_chaos_db)
    p = sub.add_parser("up", help="migrate, generate if empty, start replicas")
    p.add_argument("--db", help=f"default ${DATABASE_URL_VAR}, else the project's embedded server")
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--base-port", type=int, default=None, help="default: free ports")
    p.add_argument("--tenants", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--defects", default="")
    p.add_argument("--env-file", default=None, help="default <state-dir>/service.env with Launch A's old pool")
    p.add_argument("--faults", action="store_true", help="enable fault injection")
    p.set_defaults(func=cmd_up)
    for name, func, doc in (
        ("down", cmd_down, "stop all replicas"),
        ("status", cmd_status, "replica health"),
        ("restart", cmd_restart, "rolling or single-replica restart"),
    ):
        p = sub.add_parser(name, help=doc)
        p.set_defaults(func=func)
        if name == "restart":
            group = p.add_mutually_exclusive_group(required=True)
            group.add_argument("--rolling", action="store_true")
            group.add_argument("--replica", type=int)
            p.add_argument("--drain-seconds", type=float, default=1.0)
    for p in sub.choices.values():
        if p.prog.split()[-1] in ("up", "down", "status", "restart"):
            p.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
