"""`make run`: embedded services if needed, migrations, the demo tenant, then the ASGI
server, a Celery worker and Celery beat together until Ctrl-C stops them all."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from maibot import embedded

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_SECONDS = 10


def ws_max_size(env: dict[str, str]) -> int:
    """uvicorn's own frame limit, well above the gateway's, so an oversize frame gets the
    gateway's clear error instead of uvicorn closing the socket (1009)."""
    gateway_limit = int(env.get("CHAT_WS_MAX_FRAME_BYTES", 4 * 1024 * 1024))
    return max(4 * gateway_limit, 16 * 1024 * 1024)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    var_dir = Path(os.environ.get("MAIBOT_VAR_DIR", ROOT / "var"))
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    env, started = embedded.environment(var_dir)
    python = sys.executable
    children: list[subprocess.Popen] = []

    def stop_everything(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if started:
            embedded.stop(var_dir)

    # Set both explicitly: a shell that starts us in the background ignores SIGINT.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        manage = [python, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate_schemas", "--verbosity", "0"], env=env, check=True)
        subprocess.run([*manage, "bootstrap_demo", "--port", port], env=env, check=True)
        commands = [
            [python, "-m", "uvicorn", "maibot.asgi:application", "--host", host, "--port", port,
             "--no-access-log", "--ws-max-size", str(ws_max_size(env))],
            [python, "-m", "celery", "-A", "maibot", "worker", "--loglevel", "INFO",
             "--concurrency", env.get("CELERY_CONCURRENCY", "2")],
            [python, "-m", "celery", "-A", "maibot", "beat", "--loglevel", "INFO",
             "--schedule", str(var_dir / "celerybeat-schedule")],
        ]
        for command in commands:
            children.append(subprocess.Popen(command, env=env, cwd=ROOT))
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        failed = [child.args[2:4] for child in children if child.poll() not in (None, 0)]
        print(f"A process exited ({failed}); stopping the others.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping…", file=sys.stderr)
        return 0
    finally:
        stop_everything()


if __name__ == "__main__":
    sys.exit(main())
