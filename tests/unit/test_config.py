"""Configuration as a platform engineer meets it: the shipped config loads, and a broken
file stops start-up with an error naming the file and the field to fix."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from socialdesk.config import (
    ConfigError,
    PlatformConfig,
    load_config,
    load_demo_users,
    load_holidays,
)
from socialdesk.taxonomy import Platform, Priority
from tests.unit.conftest import CONFIG_DIR, FORCE


# ---- the shipped config ------------------------------------------------------------------
def test_shipped_config_loads_every_force_file(platform_config: PlatformConfig) -> None:
    files = sorted(p.stem for p in (CONFIG_DIR / "forces").glob("*.yaml"))
    assert files, "no force files"
    assert sorted(platform_config.forces) == files  # each file's id matches its name
    for force in platform_config.forces.values():
        assert "digital-desk" in {t.id for t in force.teams}, force.id


def test_merseyside_is_configured(platform_config: PlatformConfig) -> None:
    fc = platform_config.forces[FORCE]
    assert {"digital-desk", "roads-policing", "safeguarding"} <= {t.id for t in fc.teams}
    for team in fc.teams:
        assert team.calendar == "always" or team.calendar in fc.calendars
    assert platform_config.force_for_account("x", "MerseyPolice") == FORCE
    assert platform_config.force_for_account("x", "@merseypolice") == FORCE  # case, @
    assert platform_config.force_for_account("x", "NotAPoliceAccount") is None


def test_national_sla_matches_the_design_table(platform_config: PlatformConfig) -> None:
    g = platform_config.national.sla.grades
    table = {
        Priority.P1: (15, 15, 240, "24x7"),
        Priority.P2: (60, 60, 1440, "24x7"),
        Priority.P3: (1440, 1440, 4320, "business_hours"),
        Priority.P4: (4320, None, None, "business_hours"),
    }
    for p, row in table.items():
        got = g[p]
        assert (
            got.first_response_minutes,
            got.next_response_minutes,
            got.resolution_minutes,
            got.clock,
        ) == row
    assert platform_config.national.sla.warning_fraction == 0.75


def test_bank_holidays_load_per_region(platform_config: PlatformConfig) -> None:
    h = platform_config.holidays
    assert date(2026, 12, 25) in h["england-and-wales"]
    assert date(2026, 8, 3) in h["scotland"] and date(2026, 8, 3) not in h["england-and-wales"]
    assert date(2026, 3, 17) in h["northern-ireland"]


def test_account_handles_are_unique_across_forces(platform_config: PlatformConfig) -> None:
    seen: dict[tuple[Platform, str], str] = {}
    for force in platform_config.forces.values():
        for platform, handles in force.accounts.items():
            for h in handles:
                key = (platform, h.lower().lstrip("@"))
                assert key not in seen, f"{key} in {force.id} and {seen.get(key)}"
                seen[key] = force.id
                assert platform_config.force_for_account(platform.value, h) == force.id


def test_demo_users_load_for_the_forces_present(
    platform_config: PlatformConfig, tmp_path: Path
) -> None:
    raw = yaml.safe_load((CONFIG_DIR / "demo" / "users.yaml").read_text(encoding="utf-8"))
    present = [
        u for u in raw["users"] if u["force"] is None or u["force"] in platform_config.forces
    ]
    path = tmp_path / "users.yaml"
    path.write_text(yaml.safe_dump({"users": present}), encoding="utf-8")
    users = load_demo_users(path, platform_config)
    assert set(users) == {u["username"] for u in present}
    assert users["op.merseyside"].force == FORCE and users["op.merseyside"].role == "operator"


# ---- broken copies -------------------------------------------------------------------------
@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """A private copy of config/ with only Merseyside, safe to break."""
    root = tmp_path / "config"
    shutil.copytree(CONFIG_DIR / "national", root / "national")
    shutil.copytree(CONFIG_DIR / "calendars", root / "calendars")
    shutil.copytree(CONFIG_DIR / "demo", root / "demo")
    (root / "forces").mkdir()
    shutil.copy(CONFIG_DIR / "forces" / f"{FORCE}.yaml", root / "forces")
    return root


def edit(path: Path, change: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def assert_error(root: Path, file: Path, field: str, words: str = "") -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        load_config(root)
    msg = str(exc.value)
    assert str(file) in msg, msg
    assert field in msg, msg
    assert words.lower() in msg.lower(), msg
    assert exc.value.path == str(file)
    return exc.value


def test_the_private_copy_loads(cfg: Path) -> None:
    config = load_config(cfg)
    assert list(config.forces) == [FORCE]


def test_unknown_time_zone(cfg: Path) -> None:
    f = cfg / "forces" / f"{FORCE}.yaml"
    edit(f, lambda d: d["calendars"]["office"].update(timezone="Europe/Liverpool"))
    err = assert_error(cfg, f, "calendars.office.timezone", "Europe/Liverpool")
    assert err.field == "calendars.office.timezone"


def test_overlapping_periods(cfg: Path) -> None:
    f = cfg / "forces" / f"{FORCE}.yaml"
    edit(
        f,
        lambda d: d["calendars"]["office"]["periods"].update(
            wed=[["08:00", "13:00"], ["12:30", "18:00"]]
        ),
    )
    assert_error(cfg, f, "calendars.office.periods", "wed: periods overlap at 12:30")


def test_period_that_ends_before_it_starts(cfg: Path) -> None:
    f = cfg / "forces" / f"{FORCE}.yaml"
    edit(f, lambda d: d["calendars"]["office"]["periods"].update(fri=[["18:00", "08:00"]]))
    assert_error(cfg, f, "calendars.office.periods", "ends before it starts")


def test_team_naming_an_unknown_calendar(cfg: Path) -> None:
    f = cfg / "forces" / f"{FORCE}.yaml"

    def change(d: dict[str, Any]) -> None:
        d["teams"][1]["calendar"] = "ofice"

    edit(f, change)
    err = assert_error(cfg, f, "teams.1.calendar", "unknown calendar 'ofice'")
    assert err.field == "teams.1.calendar"


def test_force_without_a_digital_desk(cfg: Path) -> None:
    f = cfg / "forces" / f"{FORCE}.yaml"
    edit(f, lambda d: d.update(teams=[t for t in d["teams"] if t["id"] != "digital-desk"]))
    assert_error(cfg, f, "teams", "digital-desk")


def test_duplicate_handle_across_two_force_files(cfg: Path) -> None:
    other = cfg / "forces" / "wirral-copy.yaml"  # sorts after merseyside.yaml
    other.write_text(
        yaml.safe_dump(
            {
                "id": "wirral-copy",
                "name": "Copy",
                "nation": "england",
                "accounts": {"x": ["SomethingElse", "@merseypolice"]},
                "teams": [{"id": "digital-desk", "name": "Desk"}],
            }
        ),
        encoding="utf-8",
    )
    err = assert_error(cfg, other, "accounts.x.1", "already used")
    assert f"{FORCE}.yaml" in err.message


def test_file_name_must_match_force_id(cfg: Path) -> None:
    f = cfg / "forces" / f"{FORCE}.yaml"
    edit(f, lambda d: d.update(id="mersey"))
    assert_error(cfg, f, "id", "does not match")


def test_invalid_yaml(cfg: Path) -> None:
    f = cfg / "forces" / f"{FORCE}.yaml"
    f.write_text("id: merseyside\nteams: [\n  - {id: digital-desk\n", encoding="utf-8")
    err = assert_error(cfg, f, "line ", "not valid YAML")
    assert err.field.startswith("line ")


@pytest.mark.parametrize(
    ("grade", "field", "value"),
    [
        ("P3", "first_response_minutes", -60),
        ("P2", "resolution_minutes", 0),
        ("P1", "next_response_minutes", -15),
    ],
)
def test_non_positive_sla_target(cfg: Path, grade: str, field: str, value: int) -> None:
    f = cfg / "national" / "policy.yaml"
    edit(f, lambda d: d["sla"]["grades"][grade].update({field: value}))
    err = assert_error(cfg, f, f"sla.grades.{grade}.{field}", "greater than 0")
    assert err.field == f"sla.grades.{grade}.{field}"


def test_missing_grade(cfg: Path) -> None:
    f = cfg / "national" / "policy.yaml"
    edit(f, lambda d: d["sla"]["grades"].pop("P4"))
    err = assert_error(cfg, f, "sla", "grades: missing P4")
    assert err.field.startswith("sla")


def test_bad_warning_fraction(cfg: Path) -> None:
    f = cfg / "national" / "policy.yaml"
    edit(f, lambda d: d["sla"].update(warning_fractions={"resolution": 1.5}))
    assert_error(cfg, f, "sla.warning_fractions", "between 0 and 1")


def test_bad_bank_holiday_date(cfg: Path) -> None:
    f = cfg / "calendars" / "bank-holidays.yaml"
    edit(f, lambda d: d["scotland"]["extra"].insert(0, "2026-02-30"))
    assert_error(cfg, f, "scotland.extra.0", "not a date")


def test_unknown_bank_holiday_region(cfg: Path) -> None:
    f = cfg / "calendars" / "bank-holidays.yaml"
    edit(f, lambda d: d.update(wales={"extra": []}))
    assert_error(cfg, f, "wales", "unknown region")


def test_bank_holidays_never_run_out(tmp_path: Path) -> None:
    """After the last year anyone typed in, P3/P4 clocks still skip Christmas."""
    days = load_holidays(tmp_path, today=date(2041, 6, 1))
    assert date(2041, 12, 25) in days["england-and-wales"]
    assert date(2045, 4, 7) in days["england-and-wales"]  # Good Friday 2045
    assert date(2041, 11, 30) not in days["scotland"]  # St Andrew's Day on a Saturday
    assert date(2041, 12, 2) in days["scotland"]  # ... is taken on the Monday


def test_overrides_add_and_remove_days(tmp_path: Path) -> None:
    (tmp_path / "bank-holidays.yaml").write_text(
        "scotland:\n  extra: [2026-07-07]\n  not: [2026-11-30]\n", encoding="utf-8"
    )
    days = load_holidays(tmp_path, today=date(2026, 1, 1))
    assert date(2026, 7, 7) in days["scotland"] and date(2026, 11, 30) not in days["scotland"]
    assert date(2026, 7, 7) not in days["england-and-wales"]


def test_no_force_files(cfg: Path) -> None:
    for f in (cfg / "forces").glob("*.yaml"):
        f.unlink()
    assert_error(cfg, cfg / "forces", "(dir)", "no force files")


# ---- demo users ------------------------------------------------------------------------------
def users_file(cfg: Path, users: list[dict[str, Any]]) -> Path:
    path = cfg / "demo" / "users.yaml"
    path.write_text(yaml.safe_dump({"users": users}), encoding="utf-8")
    return path


def merseyside_user(**changes: Any) -> dict[str, Any]:
    return {
        "username": "op.test",
        "display_name": "Test Operator",
        "force": FORCE,
        "role": "operator",
        "teams": ["digital-desk"],
        "password_hash": "pbkdf2_sha256$1$00$00",
        **changes,
    }


def test_demo_user_with_an_unknown_force(cfg: Path) -> None:
    config = load_config(cfg)
    path = users_file(cfg, [merseyside_user(), merseyside_user(username="x", force="atlantis")])
    with pytest.raises(ConfigError) as exc:
        load_demo_users(path, config)
    assert str(path) in str(exc.value) and "users.1.force" in str(exc.value)


def test_demo_user_with_an_unknown_team(cfg: Path) -> None:
    config = load_config(cfg)
    path = users_file(cfg, [merseyside_user(teams=["digital-desk", "helicopters"])])
    with pytest.raises(ConfigError) as exc:
        load_demo_users(path, config)
    assert "users.0.teams" in str(exc.value) and "helicopters" in str(exc.value)


def test_demo_user_with_a_bad_role(cfg: Path) -> None:
    config = load_config(cfg)
    path = users_file(cfg, [merseyside_user(role="chief_constable")])
    with pytest.raises(ConfigError) as exc:
        load_demo_users(path, config)
    assert str(path) in str(exc.value) and "role" in str(exc.value)


def test_national_viewer_without_force_is_allowed(cfg: Path) -> None:
    config = load_config(cfg)
    path = users_file(cfg, [merseyside_user(force=None, role="national_viewer", teams=[])])
    assert load_demo_users(path, config)["op.test"].force is None


def test_account_id_must_name_one_of_the_forces_accounts(cfg: Path) -> None:
    f = cfg / "forces" / f"{FORCE}.yaml"
    edit(f, lambda d: d.update(account_ids={"facebook": {"104857600000009": "SomeoneElse"}}))
    assert_error(cfg, f, "account_ids.facebook.104857600000009", "not one of the force's")


def test_duplicate_account_id_across_two_force_files(cfg: Path) -> None:
    f = cfg / "forces" / f"{FORCE}.yaml"
    edit(f, lambda d: d.update(account_ids={"x": {"1400000001": "MerseyPolice"}}))
    other = cfg / "forces" / "wirral-copy.yaml"
    other.write_text(
        yaml.safe_dump(
            {
                "id": "wirral-copy",
                "name": "Copy",
                "nation": "england",
                "accounts": {"x": ["WirralCopy"]},
                "account_ids": {"x": {"1400000001": "WirralCopy"}},
                "teams": [{"id": "digital-desk", "name": "Desk"}],
            }
        ),
        encoding="utf-8",
    )
    err = assert_error(cfg, other, "account_ids.x.1400000001", "already used")
    assert f"{FORCE}.yaml" in err.message


def test_a_force_is_found_by_account_id_too(platform_config: PlatformConfig) -> None:
    assert platform_config.force_for_account("facebook", "104857600000001") == "merseyside"
    assert platform_config.force_for_account("instagram", "17841400000000001") == "merseyside"
    assert platform_config.force_for_account("facebook", "104857600000002") == "north-wales"
    assert platform_config.force_for_account("facebook", "999") is None
