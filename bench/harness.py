"""Run a load command (the team's comparison harness, say) against a prepared database, with or
without a webhook subscription active.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench \\
      .venv/bin/python bench/harness.py --webhook -- .venv/bin/python ../shared/bench/compare.py

On DATABASE_URL it migrates, makes an API key with every scope (LEADSTATUS_BENCH_KEY, which the
harness sends) and lifts the per-key rate limit (a quiet service passes the default 2,000
requests a second, and 429s would count against it). With `--webhook` it also starts the
benchmark receiver (bench/receiver.py) and subscribes it to every event type, so the command's
writes pay for the events log *and* for deliveries taking CPU beside them; at the end it says how
many deliveries arrived while the command ran, and removes the subscription.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys

# The script's own folder is on sys.path when run as `python bench/harness.py`.
from load import LEADSTATUS, say
from receiving import LOOPBACK, lag_line, running_receiver, stats

UNLIMITED = "1000000"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--webhook", action="store_true", help="one subscription, all types")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    args.command = [part for part in args.command if part != "--"] or None
    if args.command is None:
        parser.error("name the command to run after --")
    if not os.environ.get("DATABASE_URL"):
        parser.error("set DATABASE_URL to the PostgreSQL server the command will use")
    return args


def leadstatus(env: dict[str, str], *arguments: str) -> list[str]:
    """Run a `leadstatus` command; the lines it printed (keys and secrets come last)."""
    done = subprocess.run(
        [str(LEADSTATUS), *arguments], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"leadstatus {arguments[0]} failed:\n{done.stderr}{done.stdout}")
    return done.stdout.strip().splitlines()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = dict(os.environ, LEADSTATUS_RATE_LIMIT_PER_S=UNLIMITED, LEADSTATUS_RATE_BURST=UNLIMITED)
    say("Migrating and making a key with every scope ...")
    leadstatus(env, "migrate")
    env["LEADSTATUS_BENCH_KEY"] = leadstatus(
        env,
        "apikey",
        "create",
        "--name",
        "bench",
        "--scopes",
        "leads:read,leads:write,leads:reopen,metrics:read,admin",
    )[-1]
    with contextlib.ExitStack() as stack:
        receiver = stack.enter_context(running_receiver()) if args.webhook else None
        if receiver is not None:
            env["LEADSTATUS_WEBHOOK_ALLOWED_NETWORKS"] = LOOPBACK
            url = f"{receiver}/hooks/bench"
            leadstatus(env, "webhook", "add", url)
            listed = leadstatus(env, "webhook", "list")
            endpoint = next(line.split()[0] for line in listed if line.split()[1:2] == [url])
            stack.callback(leadstatus, env, "webhook", "remove", endpoint)
            say(f"Subscribed {url} to every event type.")
        code = subprocess.run(args.command, env=env, check=False).returncode
        if receiver is not None:
            got = stats(receiver)
            print(
                f"webhook: {got['unique']} deliveries received while the command ran "
                f"({got['received']} with repeats), {lag_line(got)}",
                flush=True,
            )
        return code


if __name__ == "__main__":
    sys.exit(main())
