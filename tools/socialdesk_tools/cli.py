"""The one `socialdesk` command: a subcommand per service and per tool."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEMO_KEY = "demo:dev-only-change-me"


def _run_service(name: str) -> None:
    from socialdesk.metrics import watch_gc

    watch_gc()
    if name == "triage":
        from socialdesk_triage.flows import main as triage_main

        triage_main()
    elif name == "assign":
        from socialdesk_assign.flows import main as assign_main

        assign_main()
    elif name == "sla":
        from socialdesk_sla.flows import main as sla_main

        sla_main()
    elif name == "indexer":
        from socialdesk_indexer.flows import main as indexer_main

        indexer_main()
    elif name == "metrics":
        from socialdesk_metrics.flows import main as metrics_main

        metrics_main()
    elif name == "ingest":
        from socialdesk_ingest.views import main as ingest_main

        ingest_main()
    elif name == "console":
        from socialdesk_console.app import main as console_main

        console_main()
    elif name == "notify":
        from socialdesk_notify.flows import main as notify_main

        notify_main()
    elif name == "outbound":
        from socialdesk_outbound.flows import main as outbound_main

        outbound_main()
    elif name == "media":
        from socialdesk_media.flows import main as media_main

        media_main()


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """Create topics and index templates/indices (idempotent)."""
    from socialdesk.es import ensure_indices, make_es
    from socialdesk.kafka import ensure_topics
    from socialdesk.settings import BaseServiceSettings
    from socialdesk.topics import load_topic_specs
    from socialdesk_tools.clierrors import require_reachable

    settings = BaseServiceSettings()
    require_reachable(settings)
    created = ensure_topics(settings, load_topic_specs().values())
    print(f"topics created: {', '.join(created) or 'none (all exist)'}")

    async def indices() -> list[str]:
        es = make_es(settings)
        try:
            return await ensure_indices(es, settings)
        finally:
            await es.close()

    made = asyncio.run(indices())
    print(f"indices created: {', '.join(made) or 'none (all exist)'}")
    return 0


def cmd_triage(args: argparse.Namespace) -> int:
    if args.action == "run":
        _run_service("triage")
        return 0
    from socialdesk_triage.commands import run

    return run(args)


def cmd_config_check(args: argparse.Namespace) -> int:
    from socialdesk_tools.clierrors import EXIT_USAGE
    from socialdesk_tools.configcheck import run_checks

    problems = run_checks(Path(args.config_dir), print)
    for line in problems:
        print(f"configuration error: {line}", file=sys.stderr)
    return EXIT_USAGE if problems else 0


def _fresh(line: dict[str, Any], run: str) -> dict[str, Any]:
    """Give a replayed demo line a new identity and the current time."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    line = dict(line)
    line["native_id"] = f"{line['native_id']}-{run}"
    line["id"] = f"{line['platform']}:{line['native_id']}"
    for k in ("conversation_id", "in_reply_to_id"):
        if line.get(k):
            line[k] = f"{line[k]}-{run}"
    line["posted_at"] = now
    line["received_at"] = now
    return line


def cmd_replay(args: argparse.Namespace) -> int:
    """Produce a JSONL archive to mentions.raw: progress bar, rate control, resume."""
    from kafka import KafkaProducer
    from tqdm import tqdm

    from socialdesk.events import DeadLetterOrigin
    from socialdesk.jsonl import parse_line
    from socialdesk.kafka import dead_letter, encode, sync_client_options, topic_name
    from socialdesk.settings import BaseServiceSettings
    from socialdesk.topics import MENTIONS_RAW
    from socialdesk_tools.clierrors import CliError

    path = Path(args.file)
    if not path.is_file():
        what = "not a file" if path.exists() else "no such file"
        raise CliError(f"{path}: {what}; give the path of a JSONL archive of mentions")
    settings = BaseServiceSettings()
    lines = path.read_bytes().splitlines()
    resume_file = Path(args.resume_file or f"{path}.offset")
    start = int(resume_file.read_text()) if args.resume and resume_file.exists() else 0
    opts = sync_client_options(settings)
    producer = KafkaProducer(
        acks="all", enable_idempotence=True, linger_ms=5, client_id="socialdesk-replay", **opts
    )
    good = bad = 0
    interval = 1.0 / args.rate if args.rate else 0.0
    next_at = time.monotonic()
    bar = tqdm(total=len(lines), initial=start, unit="line", disable=args.quiet)
    try:
        for n in range(start, len(lines)):
            raw = lines[n].strip()
            bar.update(1)
            if not raw:
                continue
            parsed = parse_line(n + 1, raw)
            if parsed.mention is None:
                bad += 1
                dl = dead_letter(
                    "replay",
                    "invalid_mention",
                    parsed.error,
                    raw,
                    DeadLetterOrigin(source=f"{path.name}:line {n + 1}"),
                )
                producer.send(topic_name(settings, dl.topic), value=encode(dl.value))
                print(f"line {n + 1}: {parsed.error}", file=sys.stderr)
                continue
            m = parsed.mention
            producer.send(topic_name(settings, MENTIONS_RAW), key=m.id.encode(), value=encode(m))
            good += 1
            if interval:
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    producer.flush()
                    time.sleep(delay)
            if n % 1000 == 0:
                producer.flush()
                resume_file.write_text(str(n + 1))
        producer.flush()
        resume_file.write_text(str(len(lines)))
    finally:
        bar.close()
        producer.close()
    print(f"replayed {good} mentions, {bad} invalid lines sent to deadletter")
    return 0


def cmd_demo_feed(args: argparse.Namespace) -> int:
    """Post new, varied demo conversations to ingest at a steady pace (socialdesk_tools.demofeed),
    with the forces' own posts now and then."""
    from socialdesk_tools.clierrors import CliError
    from socialdesk_tools.demofeed import DemoFeed, load_posts
    from socialdesk_tools.stack import repo_root

    path = Path(args.file or repo_root() / "data" / "demo" / "mentions.jsonl")
    if not path.is_file():
        raise CliError(f"{path}: no such file; --file names a JSONL file of demo mentions")
    feed = DemoFeed(path, seed=args.seed)
    total = sum(1 for x in path.read_text(encoding="utf-8").splitlines() if x.strip())
    # The forces' own posts (for the listening-gap report), one after every few mentions.
    posts = load_posts(path.with_name("posts.jsonl"))
    every = max(1, total // max(1, len(posts)))
    key = os.environ.get("SOCIALDESK_DEMO_API_KEY", DEMO_KEY).split(":", 1)[-1]
    base = args.ingest.rstrip("/")

    def send(route: str, record: dict[str, Any]) -> None:
        req = urllib.request.Request(  # noqa: S310 - local ingest URL
            base + route,
            data=json.dumps(record).encode(),
            headers={"X-Api-Key": key, "Content-Type": "application/json"},
        )
        for _ in range(30):
            try:
                with urllib.request.urlopen(req, timeout=30):  # noqa: S310
                    return
            except Exception:
                time.sleep(2)  # ingest not up yet, or Kafka away: the line waits

    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    n = 0
    while not stop and (args.loop or n < total):
        send("/v1/mentions", feed.next())
        if posts and n % every == every - 1:
            k = n // every
            send("/v1/outbound", _fresh(posts[k % len(posts)], f"p{int(time.time())}-{k}"))
        n += 1
        time.sleep(1.0 / args.rate)
    return 0


def cmd_supervise(args: argparse.Namespace) -> int:
    """Run every service and the demo feed; restart any that dies. Stops on SIGTERM."""
    from socialdesk_tools.stack import DEMO_SERVICES, SERVICES, STORE_SERVICES, Stack, kill_trees

    stack = Stack(Path(args.data_dir).resolve())
    procs: dict[str, subprocess.Popen[bytes]] = {}
    running = True

    def _stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    feed_cmd = [
        sys.executable,
        "-m",
        "socialdesk_tools.cli",
        "demo-feed",
        "--loop",
        "--rate",
        str(args.rate),
        "--ingest",
        stack.ingest_url(),
    ]
    room_cmd = [
        sys.executable,
        "-m",
        "socialdesk_tools.cli",
        "control-room",
        "--port",
        str(stack.ports.control_room),
        "--smtp-port",
        str(stack.ports.smtp),
        "--mail-log",
        str(stack.root / "outbox" / "mail.jsonl"),
    ]
    cmds = {"demo-feed": feed_cmd, "control-room": room_cmd}
    wanted = [*SERVICES, *STORE_SERVICES, *DEMO_SERVICES] + (["demo-feed"] if args.rate > 0 else [])
    while running:
        for name in wanted:
            p = procs.get(name)
            if p is None or p.poll() is not None:
                procs[name] = stack.spawn(name, cmd=cmds.get(name))
        time.sleep(1)
    kill_trees(procs.values())
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from socialdesk_tools.stack import SERVICES, STORE_SERVICES, Stack

    stack = Stack(Path(args.data_dir).resolve())
    started = time.monotonic()
    state = stack.read_state()
    if state and _alive(int(str(state["supervisor"]))):
        print(f"already running: console at {stack.console_url()}")
        return 0
    print("starting noida-db (Kafka and Elasticsearch protocols) ...")
    stack.start_noida()
    stack.start_objectstore()
    env = stack.env()
    boot = subprocess.run(
        [sys.executable, "-m", "socialdesk_tools.cli", "bootstrap"],
        env=env,
        check=False,
        cwd=stack.repo,
    )
    if boot.returncode:
        return boot.returncode  # bootstrap has said why, in one line
    stack.logs.mkdir(parents=True, exist_ok=True)
    sup = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "socialdesk_tools.cli",
            "supervise",
            "--data-dir",
            str(stack.root),
            "--rate",
            str(args.rate),
        ],
        env=env,
        cwd=stack.repo,
        stdout=(stack.logs / "supervisor.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack.write_state(sup.pid)
    services = (*SERVICES, *STORE_SERVICES)
    print(f"starting services: {', '.join(services)}, notify ...")
    for svc in (*services, "notify"):
        stack.wait_ready(svc, 120)
        print(f"  {svc:<8} ready  ({time.monotonic() - started:.0f}s)", flush=True)
    print()
    print(f"  console:  {stack.console_url()}")
    print(f"  ingest:   {stack.ingest_url()}/v1/mentions  (X-Api-Key: {DEMO_KEY.split(':')[1]})")
    print("  sign in:  op.merseyside / demo-password     (Merseyside operator)")
    print("            op.north-wales / demo-password    (North Wales, Welsh speaker)")
    print("            sup.merseyside / demo-password    (supervisor)")
    print("            national.viewer / demo-password   (every force)")
    print("            duty.national / demo-password     (national duty queue: items of no force)")
    room = f"http://127.0.0.1:{stack.ports.control_room}"
    print(f"  control room (reference receiver): {room}/received   mail: {stack.root}/outbox/")
    print(f"  objects:  {stack.objectstore_url}  (moto's S3 server; attachments, docs/media.md)")
    print(f"  logs:     {stack.logs}/   data: {stack.root}/")
    print("  stop:     socialdesk down   (data is kept; socialdesk up resumes)")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def cmd_down(args: argparse.Namespace) -> int:
    from socialdesk_tools.stack import Stack

    stack = Stack(Path(args.data_dir).resolve())
    state = stack.read_state()
    if state:
        pid = int(str(state["supervisor"]))
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            for _ in range(60):
                if not _alive(pid):
                    break
                time.sleep(0.5)
        (stack.run_dir / "stack.json").unlink(missing_ok=True)
    stack.stop_noida()
    stack.stop_objectstore()
    print("stopped (data kept under", stack.root, ")")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    from socialdesk.schemas import export
    from socialdesk.topics import schemas_dir

    for path in export(schemas_dir()):
        print("wrote", path)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Realistic mention traffic (days, night lull, a major-incident burst) to ingest,
    Kafka or stdout."""
    from socialdesk_tools.clierrors import CliError
    from socialdesk_tools.simulate import Profile, Sender, Simulator, run
    from socialdesk_tools.simulate import parse_duration as _duration
    from socialdesk_tools.stack import repo_root

    def parse_duration(value: str, flag: str = "--duration") -> float:
        try:
            return _duration(value)
        except ValueError:
            raise CliError(f"{flag} {value!r}: not a duration; use 90s, 45m, 24h or 2d") from None

    try:
        start = datetime.fromisoformat(args.start) if args.start else datetime.now(UTC)
    except ValueError:
        raise CliError(f"--start {args.start!r}: not a time; use ISO 8601") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    duration = parse_duration(args.duration)
    incident = (
        None if args.no_incident else parse_duration(args.incident_at or "0", "--incident-at")
    )
    if args.incident_at is None and not args.no_incident:
        incident = duration / 2
    profile = Profile(
        rate=args.rate,
        duration_s=duration,
        start=start,
        incident_at_s=incident,
        incident_factor=args.incident_factor,
        incident_s=parse_duration(args.incident_duration, "--incident-duration"),
    )
    sim = Simulator(
        profile,
        seed=args.seed,
        handles=tuple(h.strip() for h in args.handles.split(",") if h.strip()),
        demo_file=repo_root() / "data" / "demo" / "mentions.jsonl",
    )
    key = args.api_key or os.environ.get("SOCIALDESK_DEMO_API_KEY", DEMO_KEY).split(":", 1)[-1]
    sent = run(sim, Sender(args.target, args.ingest, key), args.speed, args.quiet)
    print(f"sent {sent} mentions to {args.target}", file=sys.stderr)
    return 0


def cmd_control_room(args: argparse.Namespace) -> int:
    from socialdesk.settings import secret_from_env
    from socialdesk_notify.receiver import main as receiver_main
    from socialdesk_tools.clierrors import CliError

    env = os.environ.get("SOCIALDESK_ENVIRONMENT", "development")
    try:
        secret = secret_from_env(args.secret_env, env)
    except ValueError as exc:  # production without the key: the line names the variable
        raise CliError(str(exc)) from None
    receiver_main(
        args.port,
        secret,
        args.dispatch_after,
        smtp_port=args.smtp_port,
        mail_log=Path(args.mail_log),
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    p = argparse.ArgumentParser(prog="socialdesk", description=__doc__)
    p.add_argument("--version", action="version", version=f"socialdesk {version('socialdesk')}")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    # metavar: the usage line lists no command, so the hidden `supervise` stays hidden
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_ in [
        ("ingest", "run the ingest HTTP service"),
        ("assign", "run the assign stream service (item owner)"),
        ("sla", "run the SLA clock service"),
        ("indexer", "run the Elasticsearch indexer"),
        ("metrics", "run the report rollups (items, SLA and outbound posts into cells)"),
        ("console", "run the operator console (console-api)"),
        ("notify", "run notifications (unclaimed P1s) and control-room handovers"),
        ("outbound", "run outbound (sends operators' replies to the platforms)"),
        ("media", "run media (keeps the attachments sent with messages as evidence)"),
    ]:
        sub.add_parser(name, help=help_).set_defaults(service=name)
    from socialdesk_triage.commands import add_arguments as triage_arguments

    t = sub.add_parser("triage", help="run the triage service, or score/eval/train the model")
    triage_arguments(t)
    t.set_defaults(func=cmd_triage)
    sub.add_parser("bootstrap", help="create topics and index templates").set_defaults(
        func=cmd_bootstrap
    )
    c = sub.add_parser("config-check", help="validate config/ and exit")
    c.add_argument(
        "--config-dir",
        default=os.environ.get("SOCIALDESK_CONFIG_DIR", "config"),
        help="the config directory (SOCIALDESK_CONFIG_DIR, else ./config)",
    )
    c.set_defaults(func=cmd_config_check)
    r = sub.add_parser("replay", help="produce a JSONL archive of mentions to mentions.raw")
    r.add_argument("file", metavar="FILE", help="JSONL archive, one mention per line")
    r.add_argument(
        "--rate", type=float, default=0, help="mentions per second (0: as fast as possible)"
    )
    r.add_argument("--resume", action="store_true", help="continue after the last line sent")
    r.add_argument("--resume-file", default=None, help="where progress is kept (FILE.offset)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_replay)
    d = sub.add_parser("demo-feed", help="post the demo mentions to ingest at a steady pace")
    d.add_argument("--file", default=None, help="shipped texts (data/demo/mentions.jsonl)")
    d.add_argument("--rate", type=float, default=0.5, help="mentions per second")
    d.add_argument(
        "--loop", action="store_true", help="keep going until stopped (else as many as FILE)"
    )
    d.add_argument("--ingest", default="http://127.0.0.1:8081", help="ingest's base URL")
    d.add_argument("--seed", type=int, default=None, help="repeatable conversations")
    d.set_defaults(func=cmd_demo_feed)
    for name, fn, help_ in [
        ("up", cmd_up, "start the local stack, every service and the demo feed"),
        ("down", cmd_down, "stop the local stack (data is kept)"),
        ("supervise", cmd_supervise, "(internal) run and restart the services"),
    ]:
        # Internal: no help= at all, since 3.11 lists help=SUPPRESS as "==SUPPRESS=="
        s = sub.add_parser(name) if name == "supervise" else sub.add_parser(name, help=help_)
        s.add_argument(
            "--data-dir",
            default=os.environ.get("SOCIALDESK_DATA_DIR", ".data"),
            help="the local stack's data (SOCIALDESK_DATA_DIR, else ./.data)",
        )
        s.add_argument("--rate", type=float, default=0.5, help="demo feed mentions per second")
        s.set_defaults(func=fn)
    sim = sub.add_parser("simulate", help="realistic mention traffic: days, lulls, incidents")
    sim.add_argument("--rate", type=float, default=0.2, help="mentions/s at the daytime base")
    sim.add_argument("--duration", default="24h", help="simulated time: 90m, 24h, 2d")
    sim.add_argument("--speed", type=float, default=1.0, help="time compression; 0 = flat out")
    sim.add_argument("--seed", type=int, default=1, help="same seed, same traffic")
    sim.add_argument(
        "--target",
        choices=["ingest", "kafka", "stdout"],
        default="ingest",
        help="where mentions go",
    )
    sim.add_argument("--ingest", default="http://127.0.0.1:8081", help="ingest's base URL")
    sim.add_argument("--api-key", default=None, help="ingest API key (default: the demo key)")
    sim.add_argument("--start", default=None, help="simulated start time (ISO 8601; now)")
    sim.add_argument("--incident-at", default=None, help="offset of the incident (mid-run)")
    sim.add_argument("--incident-factor", type=float, default=30.0, help="10-100x volume")
    sim.add_argument("--incident-duration", default="1h", help="how long the burst holds")
    sim.add_argument("--no-incident", action="store_true", help="no major incident")
    sim.add_argument("--handles", default="MerseyPolice", help="force accounts to mention")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(func=cmd_simulate)
    cr = sub.add_parser(
        "control-room", help="run the reference control-room receiver (demo and tests)"
    )
    cr.add_argument("--port", type=int, default=8096, help="HTTP port of the receiver")
    cr.add_argument(
        "--secret-env",
        default="SOCIALDESK_CONTROL_ROOM_SECRET_MERSEYSIDE",
        help="the variable holding the shared HMAC key (development default if unset)",
    )
    cr.add_argument("--dispatch-after", type=float, default=20.0, help="seconds to 'dispatched'")
    cr.add_argument("--smtp-port", type=int, default=0, help="also run an SMTP sink on this port")
    cr.add_argument("--mail-log", default=".data/outbox/mail.jsonl", help="where the sink writes")
    cr.set_defaults(func=cmd_control_room)
    sub.add_parser("schemas", help="rewrite schemas/*.schema.json from the models").set_defaults(
        func=cmd_schemas
    )
    from socialdesk_tools import erasure, sar

    erasure.add_arguments(sub)
    sar.add_arguments(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from socialdesk_tools.clierrors import EXIT_USAGE, explain

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # accepted anywhere on the line, not only before the command
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    try:
        if getattr(args, "service", None):
            _run_service(args.service)
            return 0
        return int(args.func(args))
    except KeyboardInterrupt:  # Ctrl-C is an answer, not a crash
        return 130
    except Exception as exc:
        line = None if debug else explain(exc)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
