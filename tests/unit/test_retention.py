"""Retention by data class (socialdesk.retention, config/national/retention.yaml): the
shipped policy, a force's overrides and the errors a bad one gives, and what is due for
deletion as a clock moves past each period."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from socialdesk.config import ConfigError, PlatformConfig, load_config
from socialdesk.retention import (
    DataClass,
    Enforcer,
    Source,
    is_due,
    kafka_retention_ms,
    last_sweep_counts,
    periods_for,
    sweep_due,
    sweep_targets,
    swept_counts,
)
from socialdesk.topics import (
    AUDIT_EVENTS,
    ITEMS_EVENTS,
    MENTIONS_RAW,
    MENTIONS_TRIAGED,
    NOTIFICATIONS,
    SLA_EVENTS,
    load_topic_specs,
)
from tests.unit.conftest import CONFIG_DIR, FORCE

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


# ---- the shipped policy ------------------------------------------------------------------
def test_every_class_has_a_period_a_reason_and_an_enforcer(
    platform_config: PlatformConfig,
) -> None:
    periods = periods_for(platform_config, FORCE)
    assert set(periods) == set(DataClass)
    for p in periods.values():
        assert p.days > 0 and len(p.reason) > 60, p
        assert p.source == Source.national
    assert max(periods.values(), key=lambda p: p.days).data_class == DataClass.audit
    assert periods[DataClass.raw_mentions].enforced_by == Enforcer.kafka
    assert periods[DataClass.attachments].enforced_by == Enforcer.object_store


def test_kafka_keeps_raw_mentions_exactly_the_policys_period(
    platform_config: PlatformConfig,
) -> None:
    days = periods_for(platform_config, None)[DataClass.raw_mentions].days
    specs = load_topic_specs()
    for topic in (MENTIONS_RAW, MENTIONS_TRIAGED):  # both carry the message's text
        assert specs[topic].config["retention.ms"] == kafka_retention_ms(days), topic


def test_author_history_keeps_at_least_what_triage_reads(
    platform_config: PlatformConfig,
) -> None:
    from socialdesk.settings import TriageSettings

    days = periods_for(platform_config, None)[DataClass.author_history].days
    assert days >= TriageSettings.model_fields["triage_context_days"].default


# ---- overrides and their errors ------------------------------------------------------------
@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    shutil.copytree(CONFIG_DIR / "national", root / "national")
    shutil.copytree(CONFIG_DIR / "calendars", root / "calendars")
    (root / "forces").mkdir()
    shutil.copy(CONFIG_DIR / "forces" / f"{FORCE}.yaml", root / "forces")
    return root


def edit(path: Path, change: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def force_retention(root: Path, retention: dict[str, Any]) -> Path:
    path = root / "forces" / f"{FORCE}.yaml"
    edit(path, lambda d: d.update(retention=retention))
    return path


def one_line_error(root: Path) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(root)
    msg = str(exc.value)
    assert "\n" not in msg, msg
    return msg


def test_a_force_may_shorten_a_period_with_its_reason(cfg: Path) -> None:
    force_retention(
        cfg, {"reports_rollups": {"days": 400, "reason": "the PCC asked for 13 months"}}
    )
    config = load_config(cfg)
    p = periods_for(config, FORCE)[DataClass.reports_rollups]
    assert (p.days, p.source, p.reason) == (400, Source.force, "the PCC asked for 13 months")
    assert periods_for(config, None)[DataClass.reports_rollups].days == 1095  # others: national


def test_a_force_may_not_lengthen_a_period(cfg: Path) -> None:
    path = force_retention(cfg, {"items": {"days": 2200, "reason": "we would like longer"}})
    msg = one_line_error(cfg)
    assert msg.startswith(f"{path}: retention.items.days: "), msg
    assert "not lengthen" in msg


def test_lengthening_when_allowed_stops_at_the_national_maximum(cfg: Path) -> None:
    edit(cfg / "national" / "retention.yaml", lambda d: d.update(force_may_lengthen=True))
    force_retention(cfg, {"audit": {"days": 3000, "reason": "a long-running inquiry"}})
    assert periods_for(load_config(cfg), FORCE)[DataClass.audit].days == 3000
    force_retention(cfg, {"audit": {"days": 4000, "reason": "a long-running inquiry"}})
    assert "longer than the national maximum (3650)" in one_line_error(cfg)


def test_a_class_shared_by_all_forces_is_set_nationally_only(cfg: Path) -> None:
    force_retention(cfg, {"author_history": {"days": 3, "reason": "shorter is better here"}})
    assert "retention.author_history.days: set nationally only" in one_line_error(cfg)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda d: d["classes"].pop("audit"), "classes", "missing audit"),
        (
            lambda d: d["classes"]["items"].update(days=9000, maximum_days=9000),
            "classes.audit.days",
            "kept longest",
        ),
        (
            lambda d: d["classes"]["items"].update(days=3000),
            "classes.items",
            "longer than maximum_days",
        ),
        (lambda d: d["classes"]["items"].pop("reason"), "classes.items.reason", "required"),
        (
            lambda d: d["classes"]["items"].update(enforced_by="magic"),
            "classes.items.enforced_by",
            "",
        ),
    ],
)
def test_a_bad_national_policy_names_file_and_field(
    cfg: Path, change: Callable[[Any], None], field: str, words: str
) -> None:
    path = cfg / "national" / "retention.yaml"
    edit(path, change)
    msg = one_line_error(cfg)
    assert msg.startswith(f"{path}: {field}"), msg
    assert words.lower() in msg.lower(), msg


def test_an_unknown_data_class_in_a_force_file_is_named(cfg: Path) -> None:
    path = force_retention(cfg, {"itemz": {"days": 10, "reason": "a typo in the class"}})
    msg = one_line_error(cfg)
    assert msg.startswith(f"{path}: retention.itemz"), msg


# ---- what is due, as the clock moves -------------------------------------------------------
def test_a_closed_item_falls_due_the_moment_its_period_ends(
    platform_config: PlatformConfig,
) -> None:
    items = periods_for(platform_config, FORCE)[DataClass.items]
    closed = T0
    clock = closed
    while clock < closed + timedelta(days=items.days):
        assert not is_due(items, closed, clock)
        clock += timedelta(days=365)
    assert not is_due(items, closed, closed + timedelta(days=items.days))
    assert is_due(items, closed, closed + timedelta(days=items.days, seconds=1))
    # An open item is never due, however old.
    assert not is_due(items, closed, closed + timedelta(days=10 * items.days), open_item=True)


def test_sweep_targets_follow_each_forces_periods(cfg: Path) -> None:
    force_retention(cfg, {"audit": {"days": 2000, "reason": "the force's DPO chose 2000 days"}})
    config = load_config(cfg)
    now = T0 + timedelta(days=3000)
    targets = {(t.force, t.data_class): t.before for t in sweep_targets(config, now)}
    assert targets[(FORCE, DataClass.audit)] == now - timedelta(days=2000)
    assert targets[(None, DataClass.audit)] == now - timedelta(days=2555)
    assert targets[(FORCE, DataClass.items)] == now - timedelta(days=2190)
    assert targets[(FORCE, DataClass.reports_rollups)] == now - timedelta(days=1095)
    # Kafka and index age enforce these: the sweeper does not query for them.
    assert not {dc for _, dc in targets} & {DataClass.raw_mentions, DataClass.author_history}
    later = {
        (t.force, t.data_class): t.before for t in sweep_targets(config, now + timedelta(days=1))
    }
    assert later[(FORCE, DataClass.audit)] - targets[(FORCE, DataClass.audit)] == timedelta(days=1)


def test_a_sweep_is_due_on_start_then_every_interval() -> None:
    assert sweep_due(None, T0, 60)
    assert not sweep_due(T0, T0 + timedelta(minutes=59), 60)
    assert sweep_due(T0, T0 + timedelta(minutes=60), 60)
    assert sweep_due(T0, T0 - timedelta(minutes=5), 60)  # a clock set back: sweep anyway


def test_the_page_counts_each_sweepers_newest_record() -> None:
    """The indexer's sweep and media's each count their own classes: the newest record
    alone would blank the other's (the Retention page said attachments were deleted "not
    by the sweeper", or items were, whichever swept last)."""
    indexer = {"details": {"deleted": {FORCE: {"items": 3, "audit": 1}}}}
    media = {"details": {"totals": {"attachments": 5}, "deleted": {FORCE: {"attachments": 4}}}}
    both = swept_counts([indexer, media], FORCE)
    assert both == {"items": 3, "audit": 1, "attachments": 4}
    assert swept_counts([media], None) == {}
    assert swept_counts([], FORCE) == {}


def test_last_sweep_counts_read_one_forces_part_of_the_record() -> None:
    details = {
        "totals": {"items": 5, "author_history": 2},
        "deleted": {FORCE: {"items": 3, "audit": 0}, "national": {"items": 2}},
    }
    assert last_sweep_counts(details, FORCE) == {"items": 3, "audit": 0, "author_history": 2}
    assert last_sweep_counts(details, None) == {"items": 2, "author_history": 2}
    assert last_sweep_counts({}, FORCE) == {}
    assert last_sweep_counts({"deleted": "odd"}, FORCE) == {}


def longest_allowed(config: PlatformConfig, data_class: DataClass) -> int:
    """The longest any force may keep a class: the national period, or its maximum where
    forces may lengthen."""
    assert config.retention is not None
    rule = config.retention.classes[data_class]
    return rule.maximum_days if config.retention.force_may_lengthen else rule.days


def test_the_log_of_record_is_kept_for_the_longest_period_a_force_may_have(
    platform_config: PlatformConfig,
) -> None:
    specs = load_topic_specs()
    want = {
        ITEMS_EVENTS: DataClass.items,
        SLA_EVENTS: DataClass.items,
        NOTIFICATIONS: DataClass.items,  # handovers and the P1 ladder: part of the item's record
        AUDIT_EVENTS: DataClass.audit,
    }
    for topic, data_class in want.items():
        days = longest_allowed(platform_config, data_class)
        assert specs[topic].config["retention.ms"] == kafka_retention_ms(days), topic
