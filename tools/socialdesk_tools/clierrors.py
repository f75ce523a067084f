"""What `socialdesk` says when it cannot do what it was asked: one line that names the
file, variable or address at fault and what to do, exit code 2. `--debug` shows the
traceback instead. Exceptions not listed here are bugs and keep their traceback."""

from __future__ import annotations

import contextlib
import socket
import time
from urllib.parse import urlsplit

from pydantic import ValidationError

from socialdesk.config import ConfigError
from socialdesk.settings import BaseServiceSettings

EXIT_USAGE = 2


class CliError(Exception):
    """A refusal the user can act on; the message is the whole line shown."""


def explain(exc: BaseException) -> str | None:
    """The one line for a known failure, or None for a bug (shown with its traceback)."""
    if isinstance(exc, CliError):
        return str(exc)
    if isinstance(exc, ConfigError):
        return f"configuration error: {exc}"
    if isinstance(exc, ValidationError):
        return f"configuration error: {settings_error(exc)}"
    if isinstance(exc, OSError) and getattr(exc, "filename", None):
        return f"{exc.filename}: {exc.strerror or exc}; check the path and its permissions"
    if isinstance(exc, TimeoutError):
        return _timeout_line(str(exc))
    name = type(exc).__name__
    if name in ("KafkaTimeoutError", "NoBrokersAvailable", "KafkaConnectionError"):
        return (
            f"cannot reach Kafka ({exc}); check SOCIALDESK_KAFKA_BOOTSTRAP and that the "
            "broker is running (socialdesk up starts a local one)"
        )
    return None


def settings_error(exc: ValidationError) -> str:
    """A refused SOCIALDESK_* setting as one line naming the variable and the value."""
    named = exc.title.endswith("Settings")  # a settings class: fields are variables
    parts = []
    for err in exc.errors():
        field = "_".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if field and named:
            value = err.get("input")
            got = f" (got {value!r})" if isinstance(value, str | int | float) else ""
            parts.append(f"SOCIALDESK_{field.upper()}: {msg}{got}")
        else:
            parts.append(f"{field}: {msg}" if field else msg)
    return "; ".join(parts)


def _timeout_line(message: str) -> str:
    """stack.wait_ready's time-out carries the end of the service log: keep its last line."""
    head, _, tail = message.partition("\n")
    last = next((x.strip() for x in reversed(tail.splitlines()) if x.strip()), "")
    return head + (f": {last[:300]}" if last else "")


def addresses(bootstrap: str) -> list[tuple[str, int]]:
    """'host:port,host2:port' as (host, port) pairs; a missing port is Kafka's 9092."""
    out = []
    for part in bootstrap.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host:
            host, port = port, "9092"
        out.append((host.strip("[]"), int(port) if port.isdigit() else 9092))
    return out


def url_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.hostname or "127.0.0.1", parts.port or default


def reachable(targets: list[tuple[str, int]], timeout: float = 5.0) -> bool:
    """Whether any of the addresses accepts a TCP connection within the time-out."""
    deadline = time.monotonic() + timeout
    while True:
        for host, port in targets:
            with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)


def require_reachable(settings: BaseServiceSettings) -> None:
    """Say which address is down in seconds, rather than a client's time-out traceback."""
    if not reachable(addresses(settings.kafka_bootstrap)):
        raise CliError(
            f"cannot reach Kafka at {settings.kafka_bootstrap} (SOCIALDESK_KAFKA_BOOTSTRAP); "
            "start the broker (socialdesk up starts a local one) or point the variable at it"
        )
    if not reachable([url_address(settings.elasticsearch_url)]):
        raise CliError(
            f"cannot reach Elasticsearch at {settings.elasticsearch_url} "
            "(SOCIALDESK_ELASTICSEARCH_URL); start it or point the variable at it"
        )
