"""Assign forgets a thread once every item in it is closed and past the items retention
period (socialdesk_assign.expiry): the clock moves, a force's shorter period counts, an
open item keeps its thread whatever its age."""

from __future__ import annotations

import copy
import shutil
from datetime import timedelta
from pathlib import Path

from socialdesk.config import PlatformConfig, load_config
from socialdesk.events import ItemCommand
from socialdesk.taxonomy import ItemStatus
from socialdesk_assign.aggregate import ThreadState, apply_command, apply_mention
from socialdesk_assign.expiry import thread_expired
from tests.unit.conftest import ALICE, CONFIG_DIR, FORCE, T0, make_mention, make_triaged
from tests.unit.test_retention import edit

ITEMS_DAYS = 2190  # config/national/retention.yaml classes.items.days


def resolved_thread(config: PlatformConfig) -> ThreadState:
    created = apply_mention(None, make_triaged(make_mention()), config, T0)
    item_id = created.events[0].item_id
    command = ItemCommand(
        command_id="r1",
        item_id=item_id,
        type="resolve",
        actor=ALICE,
        issued_at=T0,
        payload={"outcome": "signposted"},
    )
    done = apply_command(created.state, command, config, T0 + timedelta(hours=1))
    assert done.state.items[item_id].status == ItemStatus.resolved
    return done.state


def test_a_closed_thread_is_forgotten_only_once_past_the_items_period(
    platform_config: PlatformConfig,
) -> None:
    state = resolved_thread(platform_config)
    closed_at = T0 + timedelta(hours=1)
    assert not thread_expired(state, platform_config, closed_at + timedelta(days=30))
    assert not thread_expired(state, platform_config, closed_at + timedelta(days=ITEMS_DAYS))
    assert thread_expired(state, platform_config, closed_at + timedelta(days=ITEMS_DAYS + 1))


def test_a_thread_with_an_open_item_stays_whatever_its_age(
    platform_config: PlatformConfig,
) -> None:
    state = apply_mention(None, make_triaged(make_mention()), platform_config, T0).state
    assert not thread_expired(state, platform_config, T0 + timedelta(days=10 * ITEMS_DAYS))


def test_a_forces_shorter_period_forgets_its_threads_sooner(tmp_path: Path) -> None:
    root = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, root)
    shorter = {"items": {"days": 365, "reason": "the force's DPO keeps a year"}}
    edit(root / "forces" / f"{FORCE}.yaml", lambda d: d.update(retention=shorter))
    config = load_config(root)
    state = resolved_thread(config)
    assert next(iter(state.items.values())).force == FORCE
    assert not thread_expired(state, config, T0 + timedelta(days=365))
    assert thread_expired(state, config, T0 + timedelta(days=366, hours=2))


def test_no_retention_policy_forgets_nothing(platform_config: PlatformConfig) -> None:
    state = resolved_thread(platform_config)
    bare = copy.copy(platform_config)  # the fixture is the session's: not changed
    bare.retention = None
    assert not thread_expired(state, bare, T0 + timedelta(days=10 * ITEMS_DAYS))
