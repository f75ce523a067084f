"""The `socialdesk` command as an operator meets it: a refusal is one line on stderr that
names the file, variable or address and what to do, exit code 2, no traceback (unless
--debug); every argument has help; the internal command is not listed."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from socialdesk_tools import cli
from socialdesk_tools.cli import build_parser, main
from socialdesk_tools.clierrors import CliError, settings_error
from tests.unit.conftest import CONFIG_DIR, ROOT


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command in a child process: what a shell user sees."""
    return subprocess.run(
        [sys.executable, "-m", "socialdesk_tools.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "SOCIALDESK_CONFIG_DIR": str(CONFIG_DIR), **env},
    )


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    return lines[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- errors --------------------------------------------------------------------------------
def test_replay_of_a_missing_file() -> None:
    r = run("replay", "/nonexistent/archive.jsonl")
    assert r.returncode == 2
    line = one_line(r.stderr)
    assert "/nonexistent/archive.jsonl" in line and "no such file" in line


def test_replay_of_a_directory_and_config_check_of_no_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(tmp_path)]) == 2
    assert f"{tmp_path}: not a file" in one_line(capsys.readouterr().err)
    assert main(["config-check", "--config-dir", str(tmp_path / "nope")]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"{tmp_path / 'nope'}: no such directory" in line and "--config-dir" in line


def test_debug_shows_the_traceback() -> None:
    r = run("replay", "/nonexistent/archive.jsonl", "--debug")
    assert r.returncode != 0 and "Traceback" in r.stderr and "CliError" in r.stderr
    with pytest.raises(CliError):
        main(["--debug", "replay", "/nonexistent/archive.jsonl"])


def test_a_bad_setting_names_the_variable_and_the_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOCIALDESK_KAFKA_LINGER_MS", "soon")
    assert main(["bootstrap"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "SOCIALDESK_KAFKA_LINGER_MS" in line and "'soon'" in line


def test_production_refuses_a_development_secret() -> None:
    r = run("ingest", SOCIALDESK_ENVIRONMENT="production")
    assert r.returncode == 2
    line = one_line(r.stderr)
    assert "SOCIALDESK_INGEST_API_KEYS" in line and "development default" in line


def test_production_refuses_a_control_room_without_its_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOCIALDESK_ENVIRONMENT", "production")
    monkeypatch.delenv("SOCIALDESK_CONTROL_ROOM_SECRET_TEST", raising=False)
    assert main(["control-room", "--secret-env", "SOCIALDESK_CONTROL_ROOM_SECRET_TEST"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "SOCIALDESK_CONTROL_ROOM_SECRET_TEST is not set" in line and "set it" in line


def test_bootstrap_without_kafka_names_the_address(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    address = f"127.0.0.1:{closed_port()}"
    monkeypatch.setenv("SOCIALDESK_KAFKA_BOOTSTRAP", address)
    monkeypatch.setattr("socialdesk_tools.clierrors.time.monotonic", _clock(step=10))
    assert main(["bootstrap"]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"cannot reach Kafka at {address}" in line and "SOCIALDESK_KAFKA_BOOTSTRAP" in line


def test_bootstrap_without_elasticsearch_names_the_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as kafka:
        kafka.bind(("127.0.0.1", 0))
        kafka.listen()
        monkeypatch.setenv("SOCIALDESK_KAFKA_BOOTSTRAP", f"127.0.0.1:{kafka.getsockname()[1]}")
        url = f"http://127.0.0.1:{closed_port()}"
        monkeypatch.setenv("SOCIALDESK_ELASTICSEARCH_URL", url)
        monkeypatch.setattr("socialdesk_tools.clierrors.time.monotonic", _clock(step=10))
        assert main(["bootstrap"]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"cannot reach Elasticsearch at {url}" in line


def _clock(step: float) -> Callable[[], float]:
    """A clock that runs `step` seconds a reading: the reachability wait ends at once."""
    now = [0.0]

    def tick() -> float:
        now[0] += step
        return now[0]

    return tick


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--duration", "a day"], "--duration 'a day': not a duration"),
        (["--incident-at", "6pm"], "--incident-at '6pm': not a duration"),
        (["--start", "tomorrow"], "--start 'tomorrow': not a time"),
    ],
)
def test_simulate_with_a_bad_time(
    args: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--target", "stdout", *args]) == 2
    assert words in one_line(capsys.readouterr().err)


def test_a_validation_error_of_no_settings_class_is_not_called_a_variable() -> None:
    from pydantic import BaseModel, ValidationError

    class Thing(BaseModel):
        size: int

    with pytest.raises(ValidationError) as exc:
        Thing.model_validate({"size": "big"})
    assert settings_error(exc.value).startswith("size: ")


# ---- up: progress, and a failed bootstrap stops it --------------------------------------------
class FakeStack:
    def __init__(self, root: Path) -> None:
        self.root = self.repo = root
        self.logs = root / "logs"
        self.ports = argparse.Namespace(control_room=8096)
        self.waited: list[str] = []

    def read_state(self) -> None:
        return None

    def start_noida(self) -> None:
        pass

    def start_objectstore(self) -> None:
        pass

    objectstore_url = "http://127.0.0.1:9000"

    def env(self) -> dict[str, str]:
        return {}

    def write_state(self, pid: int) -> None:
        pass

    def wait_ready(self, svc: str, timeout: float) -> None:
        self.waited.append(svc)

    def console_url(self) -> str:
        return "http://127.0.0.1:8080"

    def ingest_url(self) -> str:
        return "http://127.0.0.1:8081"


def test_up_prints_each_service_as_it_becomes_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks: list[FakeStack] = []
    monkeypatch.setattr(
        "socialdesk_tools.stack.Stack", lambda root: stacks.append(FakeStack(root)) or stacks[-1]
    )
    monkeypatch.setattr(cli.subprocess, "run", lambda *a, **k: argparse.Namespace(returncode=0))
    monkeypatch.setattr(cli.subprocess, "Popen", lambda *a, **k: argparse.Namespace(pid=1))
    assert main(["up", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert len(stacks[0].waited) >= 8 and "media" in stacks[0].waited
    for svc in stacks[0].waited:
        assert any(x.split()[:2] == [svc, "ready"] and x.endswith("s)") for x in out.splitlines())


def test_up_stops_when_bootstrap_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socialdesk_tools.stack.Stack", FakeStack)
    monkeypatch.setattr(cli.subprocess, "run", lambda *a, **k: argparse.Namespace(returncode=2))
    assert main(["up", "--data-dir", str(tmp_path)]) == 2


# ---- help, version, the hidden command ----------------------------------------------------
def _parsers(p: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    out = [(p.prog, p)]
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out.extend(_parsers(sub))
    return out


def test_every_argument_has_help() -> None:
    missing = [
        f"{prog} {a.dest}"
        for prog, p in _parsers(build_parser())
        for a in p._actions
        if not isinstance(a, argparse._SubParsersAction) and not a.help
    ]
    assert not missing


def test_supervise_is_hidden_from_help_but_still_runs() -> None:
    parser = build_parser()
    assert "supervise" not in parser.format_help()
    assert "SUPPRESS" not in parser.format_help()
    assert parser.parse_args(["supervise"]).func is cli.cmd_supervise


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"socialdesk {version('socialdesk')}"


# ---- config-check -------------------------------------------------------------------------
@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, root)
    return root


def check(cfg: Path, capsys: pytest.CaptureFixture[str], rc: int = 2) -> tuple[str, str]:
    assert main(["config-check", "--config-dir", str(cfg)]) == rc
    out, err = capsys.readouterr()
    return out, (one_line(err) if rc else err)


def edit(path: Path, change: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def test_config_check_reports_each_part_and_the_next_bank_holidays(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = check(cfg, capsys, rc=0)
    assert "oidc mapping" in out and "reply templates" in out and "demo users" in out
    holidays = [x for x in out.splitlines() if "bank holidays" in x]
    assert [x.split(",")[1].split(":")[0].strip() for x in holidays] == [
        "england-and-wales",
        "northern-ireland",
        "scotland",
    ]
    assert all(len(x.split("next ")[1].split(", ")) == 3 for x in holidays)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            lambda d: d["roles"].update({"socialdesk-operator": "admin"}),
            "roles.socialdesk-operator",
            "unknown role",
        ),
        (
            lambda d: d["force_values"].update({"Kent Police": "kentt"}),
            "force_values.Kent Police",
            "kentt",
        ),
        (lambda d: d.update(fixed_force="nowhere"), "fixed_force", "nowhere"),
        (lambda d: d.update(team_claim="teams"), "team_claim", "extra"),
    ],
)
def test_config_check_oidc(
    cfg: Path,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[Any], None],
    field: str,
    words: str,
) -> None:
    edit(cfg / "oidc.yaml", change)
    _, line = check(cfg, capsys)
    assert str(cfg / "oidc.yaml") in line and field in line and words in line.lower()


def test_config_check_template_syntax(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = cfg / "templates" / "replies" / "thanks.cy.j2"
    path.write_text("Diolch {{ author }\n", encoding="utf-8")
    _, line = check(cfg, capsys)
    assert str(path) in line and "line 1" in line and "template syntax" in line


def test_config_check_template_with_an_unknown_variable(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = cfg / "templates" / "replies" / "north-wales" / "passed-to-team.cy.j2"
    path.write_text("Helo {{ autor }}", encoding="utf-8")
    _, line = check(cfg, capsys)
    assert str(path) in line and "'autor' is undefined" in line and "north-wales" in line


def test_config_check_template_index(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = cfg / "templates" / "replies" / "index.yaml"
    edit(index, lambda d: d["templates"][2].update(file="nowhere.en.j2"))
    _, line = check(cfg, capsys)
    assert str(index) in line and "templates.2.file" in line and "nowhere.en.j2" in line
    edit(index, lambda d: d["templates"][0].update(language="fr"))
    _, line = check(cfg, capsys)
    assert str(index) in line and "templates.0.language" in line


def test_config_check_template_folder_of_no_force(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = cfg / "templates" / "replies" / "mersyside"
    shutil.copytree(cfg / "templates" / "replies" / "merseyside", folder)
    _, line = check(cfg, capsys)
    assert str(folder) in line and "no force 'mersyside'" in line


def test_config_check_bank_holiday_typo(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = cfg / "calendars" / "bank-holidays.yaml"
    edit(path, lambda d: d["scotland"].update(extra=["2027-02-30"]))
    _, line = check(cfg, capsys)
    assert str(path) in line and "scotland.extra.0" in line and "2027-02-30" in line


def test_config_check_demo_users_not_a_mapping(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = cfg / "demo" / "users.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    _, line = check(cfg, capsys)
    assert str(path) in line and "users" in line


def test_template_check_gives_every_variable_the_console_gives() -> None:
    """A template that passes config-check must not fail in the console for a variable
    the check did not supply."""
    from socialdesk_console import replies
    from socialdesk_tools import configcheck

    given = replies.template_variables(
        {}, None, {}, "op", {k: "x" for k in ("crime_reference", "team_name", "signature")}
    )
    assert set(given) == set(configcheck.SAMPLE_VARIABLES) | {"force", "links"}


def test_triage_train_prints_its_stages_as_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from socialdesk_triage import commands, model, realtext

    def fit(examples: list[Any], progress: Callable[[str], None]) -> Any:
        for stage in ("features", "grade head"):
            progress(stage)
        return argparse.Namespace()

    monkeypatch.setattr(model, "train", fit)
    monkeypatch.setattr(model, "save", lambda m, path: None)
    monkeypatch.setattr(commands, "_report", lambda m, held_out: {})
    monkeypatch.setattr(realtext, "graded_path", lambda d: tmp_path / "none")
    args = ["triage", "train", "--json", "--model", str(tmp_path / "m.joblib")]
    assert main(args) == 0
    stages = [x.split("] ", 1)[1] for x in capsys.readouterr().err.splitlines() if "] " in x]
    assert stages[0].startswith("reading labelled data")
    assert stages[-4:] == [
        "fitting: features",
        "fitting: grade head",
        "evaluating the new model on the held-out split",
        "done",
    ]


def test_config_check_account_credentials(
    cfg: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset token variable is a warning outside production and a refusal in it; a
    token expiring within 14 days is a warning; the token itself is never printed."""
    soon = (date.today() + timedelta(days=3)).isoformat()

    def creds(d: Any) -> None:
        d["credentials"] = {
            "x": {
                "NWPolice": {"env": "SOCIALDESK_T_NWP", "expires": soon},
                "HeddluGogCymru": {"env": "SOCIALDESK_T_HGC"},
            }
        }

    edit(cfg / "forces" / "north-wales.yaml", creds)
    monkeypatch.setenv("SOCIALDESK_T_NWP", "secret-token-value")
    monkeypatch.delenv("SOCIALDESK_T_HGC", raising=False)
    out, _ = check(cfg, capsys, rc=0)
    path = cfg / "forces" / "north-wales.yaml"
    assert f"warning: {path}: credentials.x.HeddluGogCymru.env: SOCIALDESK_T_HGC is not set" in out
    assert f"warning: {path}: credentials.x.NWPolice.expires: expires in 3 days" in out
    assert "secret-token-value" not in out
    assert "no token of their own" not in out  # outside production: development's way
    monkeypatch.setenv("SOCIALDESK_ENVIRONMENT", "production")
    _, line = check(cfg, capsys)
    assert "credentials.x.HeddluGogCymru.env: SOCIALDESK_T_HGC is not set" in line
    # In production, for several forces: an account without its own token is named (it
    # would speak as whichever account the deployment-wide token belongs to).
    monkeypatch.setenv("SOCIALDESK_T_HGC", "another-token")
    out, _ = check(cfg, capsys, rc=0)
    (named,) = [x for x in out.splitlines() if str(path) in x and "no token of their own" in x]
    assert named.startswith(f"warning: {path}: credentials: no token of their own for ")
    assert "facebook:" in named and "x:NWPolice" not in named and "x:HeddluGogCymru" not in named


def test_one_forces_token_variable_cannot_be_named_by_another_force(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Force isolation: Merseyside naming North Wales's variable would reply from North
    Wales's account; refused at start-up with the file and field. Within one force a
    variable may serve two accounts (a Facebook Page's token also posts to Instagram)."""
    nw = {"x": {"NWPolice": {"env": "SOCIALDESK_TOKEN_NW"}}}
    edit(cfg / "forces" / "north-wales.yaml", lambda d: d.update(credentials=nw))
    shared = {
        "facebook": {"MerseysidePolice": {"env": "SOCIALDESK_TOKEN_MP"}},
        "instagram": {"merseypolice": {"env": "SOCIALDESK_TOKEN_MP"}},
    }
    edit(cfg / "forces" / "merseyside.yaml", lambda d: d.update(credentials=shared))
    check(cfg, capsys, rc=0)
    borrowed = {"x": {"MerseyPolice": {"env": "SOCIALDESK_TOKEN_NW"}}}
    edit(cfg / "forces" / "merseyside.yaml", lambda d: d.update(credentials=borrowed))
    _, line = check(cfg, capsys)
    assert str(cfg / "forces" / "north-wales.yaml") in line
    assert "credentials.x.NWPolice.env: SOCIALDESK_TOKEN_NW is already named by" in line


@pytest.mark.parametrize(
    ("credentials", "field", "words"),
    [
        (
            {"x": {"NoSuchAccount": {"env": "SOCIALDESK_T"}}},
            "credentials.x.NoSuchAccount",
            "not one",
        ),
        ({"x": {"NWPolice": {"env": "x_token"}}}, "credentials.x.NWPolice.env", "pattern"),
        ({"x": {"NWPolice": {"token": "abc"}}}, "credentials.x.NWPolice", "never goes in config"),
    ],
)
def test_config_refuses_bad_credentials(
    cfg: Path, capsys: pytest.CaptureFixture[str], credentials: Any, field: str, words: str
) -> None:
    """A reference names one of the force's accounts and a variable, never a token."""
    edit(cfg / "forces" / "north-wales.yaml", lambda d: d.update(credentials=credentials))
    _, line = check(cfg, capsys)
    assert str(cfg / "forces" / "north-wales.yaml") in line and field in line
    assert words in line.lower()
