"""The `livepolls loadtest URL` command line: its options, their bounds, and the run.

Everything is checked before the first connection: the URL, every count and time, the
credentials, the open-file limit and the client libraries. A refusal is exit status 2 with
a message, as argparse gives for a bad option; a run that completed cleanly is 0, one with
errors, refusals or a count that did not match is 1, Ctrl-C is 130 (after cleaning up).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import math
import os
import resource
import sys
from typing import Any

from webapp.loadtest.target import (
    MAX_CONNECT_BATCH,
    MAX_DURATION_S,
    MAX_PROCESSES,
    MAX_RATE,
    MAX_VIEWERS,
    MAX_VOTERS,
    TargetError,
    bounded,
    parse_target,
)

TOKEN_ENV = "LIVEPOLLS_LOADTEST_TOKEN"
PASSWORD_ENV = "LIVEPOLLS_LOADTEST_PASSWORD"
FILES_SPARE = 64  # open files a viewer process needs besides its sockets


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="the deployment's root, e.g. https://polls.example.org")
    who = parser.add_argument_group("account (the poll is created, and deleted, under it)")
    who.add_argument("--token", help=f"a bearer token (or set {TOKEN_ENV})")
    who.add_argument("--email", help=f"sign in with this email; password from {PASSWORD_ENV}")
    load = parser.add_argument_group("load")
    load.add_argument("--viewers", type=int, default=100, help=f"0 to {MAX_VIEWERS:,}")
    load.add_argument("--rate", type=float, default=10.0, help=f"votes a second, to {MAX_RATE:g}")
    load.add_argument(
        "--duration", type=float, default=10.0, help=f"seconds of voting, to {MAX_DURATION_S:g}"
    )
    load.add_argument(
        "--voters",
        type=int,
        help="invite-code voters (default: rate / voter-rate; at most 5,000)",
    )
    load.add_argument(
        "--voter-rate",
        type=float,
        default=0.9,
        help="votes a second each voter sends (default 0.9, within the default 60/minute)",
    )
    load.add_argument("--processes", type=int, help="viewer processes (default: 1 per 2,500)")
    load.add_argument("--batch", type=int, default=200, help="viewers connecting at once")
    load.add_argument(
        "--no-deflate",
        dest="deflate",
        action="store_false",
        help="viewers do not offer permessage-deflate (every browser does)",
    )
    load.add_argument(
        "--drain", type=float, default=10.0, help="seconds to wait for viewers after voting"
    )
    load.add_argument("--timeout", type=float, default=10.0, help="HTTP request timeout, s")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    out.add_argument("--quiet", action="store_true", help="no progress on stderr")
    out.add_argument("--keep", action="store_true", help="keep the poll (default: delete it)")


def options_of(args: argparse.Namespace, env: dict[str, str]) -> Any:
    """The run's Options from the command line, or TargetError saying what is refused."""
    target = parse_target(args.url)
    bounded("--viewers", args.viewers, 0, MAX_VIEWERS)
    bounded("--rate", args.rate, 0.1, MAX_RATE)
    bounded("--duration", args.duration, 1, MAX_DURATION_S)
    bounded("--voter-rate", args.voter_rate, 0.01, 100)
    bounded("--batch", args.batch, 1, MAX_CONNECT_BATCH)
    bounded("--drain", args.drain, 0, 120)
    bounded("--timeout", args.timeout, 0.1, 120)
    for name, value in [("--rate", args.rate), ("--duration", args.duration)]:
        if not math.isfinite(value):
            raise TargetError(f"{name} must be a number")
    voters = args.voters or max(1, math.ceil(args.rate / args.voter_rate))
    if args.voters is not None:
        bounded("--voters", args.voters, 1, MAX_VOTERS)
    elif voters > MAX_VOTERS:
        raise TargetError(
            f"--rate {args.rate:g} at --voter-rate {args.voter_rate:g} needs {voters} voters,"
            f" more than a poll's {MAX_VOTERS} invite codes: raise --voter-rate (and"
            " LIVEPOLLS_LIMIT_VOTES_PER_ACCOUNT on the deployment)"
        )
    if args.processes is not None:
        bounded("--processes", args.processes, 1, MAX_PROCESSES)
    token = args.token or env.get(TOKEN_ENV)
    password = None
    if token and args.email:
        raise TargetError("give --token or --email, not both")
    if not token:
        if not args.email:
            raise TargetError(f"give an account: --token (or {TOKEN_ENV}), or --email")
        password = env.get(PASSWORD_ENV)
        if password is None:
            if not sys.stdin.isatty():
                raise TargetError(f"--email needs the password in {PASSWORD_ENV}")
            password = getpass.getpass(f"password for {args.email}: ")
    from webapp.loadtest.run import Options

    opts = Options(
        target=target,
        token=token,
        email=args.email,
        password=password,
        viewers=args.viewers,
        rate=args.rate,
        duration=args.duration,
        voters=args.voters,
        voter_rate=args.voter_rate,
        processes=args.processes,
        batch=args.batch,
        deflate=args.deflate,
        keep=args.keep,
        drain_s=args.drain,
        timeout_s=args.timeout,
    )
    per_process = math.ceil(opts.viewers / opts.process_count) if opts.viewers else 0
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and per_process + FILES_SPARE > hard:
        raise TargetError(
            f"{per_process} viewers per process need {per_process + FILES_SPARE} open files,"
            f" the hard limit is {hard}: use more --processes or raise it (ulimit -Hn)"
        )
    return opts


def missing_libraries() -> list[str]:
    missing = []
    for name in ("httpx", "websockets"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    return missing


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    missing = missing_libraries()
    if missing:
        parser.error(
            f"the load test needs {' and '.join(missing)}: pip install 'livepolls[loadtest]'"
        )
    try:
        opts = options_of(args, dict(os.environ))
    except TargetError as exc:
        parser.error(str(exc))
    import httpx

    from webapp.loadtest.deployment import SetupError
    from webapp.loadtest.report import render
    from webapp.loadtest.run import Phase, Run

    tty = sys.stderr.isatty()
    phase = Phase(None if args.quiet else sys.stderr.write, tty)
    job = Run(opts, phase)
    status = 0
    report: dict[str, Any] | None = None
    try:
        report = asyncio.run(job.execute())
    except KeyboardInterrupt:
        status = 130
    except SetupError as exc:
        phase.say(f"livepolls loadtest: {exc}")
        status = 1
    except (OSError, httpx.HTTPError) as exc:
        phase.say(f"livepolls loadtest: cannot reach {opts.target.origin}: {exc}")
        status = 1
    with contextlib.suppress(Exception):
        phase.end()
    fate = (
        f"poll {job.poll.id} deleted"
        if job.poll is not None and job.deleted
        else f"poll {job.poll.id} kept"
        if job.poll is not None
        else "no poll created"
    )
    for note in job.notes:
        print(f"livepolls loadtest: {note}", file=sys.stderr)
    if report is None:
        print(f"livepolls loadtest: stopped ({fate})", file=sys.stderr)
        return status or 1
    report["poll"] |= {"deleted": job.deleted, "kept": opts.keep}
    report["notes"] = job.notes
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if report["ok"] else 1
