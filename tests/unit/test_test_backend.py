"""SOCIALDESK_TEST_BACKEND=containers never quietly starts noida-db or Tansu: a test that
tries fails, naming what it started, and the local-stack-only tests are reported skipped
with their reason (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
from socialdesk_tools.stack import Stack, StackPorts, tansu

def test_starts_noida(tmp_path):
    Stack(tmp_path, ports=StackPorts.free()).start_noida()

def test_starts_tansu():
    with tansu():
        pass
"""


def run_probe(tmp_path: Path, backend: str) -> subprocess.CompletedProcess[str]:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    env = {**os.environ, "SOCIALDESK_TEST_BACKEND": backend}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--rootdir",
            str(tmp_path),
            str(probe),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_containers_mode_refuses_to_start_the_local_engines(tmp_path: Path) -> None:
    out = run_probe(tmp_path, "containers")
    assert "2 failed" in out.stdout, out.stdout + out.stderr
    assert "this test started noida-db" in out.stdout
    assert "this test started Tansu" in out.stdout


def test_local_stack_only_tests_are_skipped_with_their_reason_in_containers_mode() -> None:
    env = {**os.environ, "SOCIALDESK_TEST_BACKEND": "containers"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            "tests/integration/test_drills.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "1 skipped" in out.stdout, out.stdout + out.stderr
    assert "local stack only: the drills stop, pause and restart the broker" in out.stdout
