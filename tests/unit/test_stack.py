"""The ports the local stack hands its services: a port another connection takes
between choosing and binding made a service die with "address already in use"."""

from __future__ import annotations

import socket
from pathlib import Path

from socialdesk_tools.stack import Stack, StackPorts, free_port


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(40)] + list(StackPorts.free().__dict__.values())
    assert len(set(ports)) == len(ports)
    for port in ports:
        assert port < low  # an outgoing connection's local port never lands here
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_a_service_that_never_gets_ready_is_reported_with_its_log(tmp_path: Path) -> None:
    stack = Stack(tmp_path, ports=StackPorts.free())
    stack.logs.mkdir(parents=True)
    (stack.logs / "console.log").write_text("starting\nERROR: [Errno 98] address already in use\n")
    try:
        stack.wait_ready("console", timeout=0.5)
    except TimeoutError as exc:
        assert "console not ready" in str(exc)
        assert "address already in use" in str(exc)
    else:
        raise AssertionError("nothing listens there: it cannot be ready")
