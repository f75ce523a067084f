"""The alert rules shipped with the chart are valid, behave as their unit tests say,
and only use metrics the services really export."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/helm/socialdesk/files/prometheus-rules.yaml"


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool missing: `make tools` installs Debian's prometheus package"
    return path


def test_rules_are_valid() -> None:
    out = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_rules_unit_tests_pass() -> None:
    out = subprocess.run(
        [promtool(), "test", "rules", "rules_test.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT / "tests/prometheus",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_rules_only_use_exported_metrics() -> None:
    used = set(re.findall(r"\b(socialdesk_[a-z_]+)", RULES.read_text()))
    code = "\n".join(p.read_text() for p in (ROOT / "core").rglob("*.py"))
    code += "\n".join(p.read_text() for p in (ROOT / "services").rglob("*.py"))
    exported = set(re.findall(r'"(socialdesk_[a-z_]+)"', code))
    # prometheus_client adds _total to counters
    exported |= {n + "_total" for n in exported}
    assert used <= exported, f"rules use metrics nobody exports: {used - exported}"
