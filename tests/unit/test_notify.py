"""The unclaimed-P1 ladder, handovers and the signed-webhook scheme: plain functions over
the real aggregate and config, no broker (docs/notifications.md, docs/control-room.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from socialdesk.config import (
    ConfigError,
    ControlRoom,
    ForceConfig,
    PlatformConfig,
    load_config,
)
from socialdesk.events import HandoverCallback, HandoverPayload, ItemEvent
from socialdesk.signing import SignatureProblem, signature, verify
from socialdesk.taxonomy import Flag, Priority
from socialdesk_assign.aggregate import ThreadState, apply_command, apply_mention
from socialdesk_notify.channels import email_message, message_id
from socialdesk_notify.ladder import (
    Watch,
    due_notifications,
    handover_payload,
    next_due,
    on_item_event,
)
from tests.unit.conftest import (
    ALICE,
    CONFIG_DIR,
    FORCE,
    T0,
    make_command,
    make_mention,
    make_triage,
    make_triaged,
)

CONSOLE = "http://console.example"
CALLBACK = CONSOLE + "/control-room/callback"
SYSTEM = make_command("claim", "x").actor.model_copy(update={"kind": "system", "id": "cr"})


def p1(config: PlatformConfig, flags: tuple[Flag, ...] = ()) -> tuple[ThreadState, ItemEvent]:
    tm = make_triaged(make_mention("he has a knife"), make_triage(Priority.P1, flags=flags))
    out = apply_mention(None, tm, config, T0)
    return out.state, out.events[-1]


def follow(
    config: PlatformConfig, st: Watch | None, events: list[ItemEvent]
) -> tuple[Watch | None, list, list]:
    notes, cmds = [], []
    for ev in events:
        st, n, c = on_item_event(config, st, ev, CONSOLE, CALLBACK)
        notes += n
        cmds += c
    return st, notes, cmds


def test_unclaimed_p1_tells_supervisors_then_the_duty_inspector(
    platform_config: PlatformConfig,
) -> None:
    _, created = p1(platform_config)
    st, notes, _ = follow(platform_config, None, [created])
    assert st is not None and notes == []
    start = created.at.timestamp()
    assert next_due(platform_config, st) == start + 120  # merseyside: 2 minutes
    assert due_notifications(platform_config, st, start + 119.9, CONSOLE) == []  # never early
    first = due_notifications(platform_config, st, start + 120, CONSOLE)
    assert {n.target.channel for n in first} == {"supervisors-email", "pager"}
    assert all(n.step == 1 and n.notify == [f"supervisors:{FORCE}"] for n in first)
    assert next_due(platform_config, st) == start + 120 + 300
    second = due_notifications(platform_config, st, start + 420, CONSOLE)
    assert {n.target.channel for n in second} == {"inspector-email", "pager"}
    assert all(n.step == 2 and n.notify == [f"duty_inspector:{FORCE}"] for n in second)
    assert next_due(platform_config, st) is None
    assert due_notifications(platform_config, st, start + 9999, CONSOLE) == []
    ids = [n.notification_id for n in first + second]
    assert len(set(ids)) == 4 and all(i.startswith(created.item_id + ":unclaimed:1:") for i in ids)
    email = next(n for n in first if n.target.type == "email")
    assert f"{CONSOLE}/items/{created.item_id}" in email.text
    assert "knife" not in email.text  # the public's words stay in the console


def test_a_claim_stops_the_ladder_and_a_release_starts_a_new_episode(
    platform_config: PlatformConfig,
) -> None:
    state, created = p1(platform_config)
    claimed = apply_command(
        state, make_command("claim", created.item_id, ALICE, at=T0), platform_config, T0
    )
    st, _, _ = follow(platform_config, None, [created, *claimed.events])
    assert st is not None and next_due(platform_config, st) is None
    assert due_notifications(platform_config, st, T0.timestamp() + 3600, CONSOLE) == []
    later = T0 + timedelta(minutes=10)
    released = apply_command(
        claimed.state,
        make_command("release", created.item_id, ALICE, at=later),
        platform_config,
        later,
    )
    st, _, _ = follow(platform_config, st, released.events)
    assert st is not None and next_due(platform_config, st) == later.timestamp() + 120
    notes = due_notifications(platform_config, st, later.timestamp() + 120, CONSOLE)
    assert notes and all(":unclaimed:2:1:" in n.notification_id for n in notes)


def test_an_operators_handover_stops_the_ladder_a_rules_does_not(
    platform_config: PlatformConfig,
) -> None:
    state, created = p1(platform_config)
    by_hand = apply_command(state, make_command("hand_over", created.item_id), platform_config, T0)
    st, _, _ = follow(platform_config, None, [created, *by_hand.events])
    assert st is not None and next_due(platform_config, st) is None
    rule = make_command("hand_over", created.item_id, payload={"rule": ["weapon"]})
    rule = rule.model_copy(update={"actor": rule.actor.model_copy(update={"kind": "system"})})
    by_rule = apply_command(state, rule, platform_config, T0)
    assert by_rule.events[0].item is not None
    assert by_rule.events[0].item.control_room is not None
    assert by_rule.events[0].item.control_room.requested_by == "rule:weapon"
    st, _, _ = follow(platform_config, None, [created, *by_rule.events])
    assert st is not None and next_due(platform_config, st) == created.at.timestamp() + 120


def test_replayed_events_plan_nothing_twice(platform_config: PlatformConfig) -> None:
    _, created = p1(platform_config)
    st, _, _ = follow(platform_config, None, [created])
    assert st is not None
    first = due_notifications(platform_config, st, T0.timestamp() + 130, CONSOLE)
    again, notes, _ = follow(platform_config, st, [created])  # redelivered
    assert again is st and notes == []
    assert due_notifications(platform_config, st, T0.timestamp() + 130, CONSOLE) == []
    assert first


def test_only_p1_is_watched(platform_config: PlatformConfig) -> None:
    tm = make_triaged(make_mention("bike stolen"), make_triage(Priority.P2))
    out = apply_mention(None, tm, platform_config, T0)
    st, _, _ = follow(platform_config, None, out.events)
    assert st is not None and next_due(platform_config, st) is None


def test_the_force_sets_the_unclaimed_time(platform_config: PlatformConfig) -> None:
    fc = platform_config.forces[FORCE]
    quick = fc.model_copy(
        update={"unclaimed": fc.unclaimed.model_copy(update={"after_minutes": 0.5})}
    )
    cfg = PlatformConfig(platform_config.national, {**platform_config.forces, FORCE: quick})
    assert cfg.unclaimed(FORCE).after_minutes == 0.5
    assert cfg.unclaimed("kent").after_minutes == 2  # the national default
    assert cfg.unclaimed(None).inspector_after_minutes == 5


def with_control_room(config: PlatformConfig, flags: list[Flag]) -> PlatformConfig:
    fc = config.forces[FORCE]
    room = ControlRoom(
        url="http://cr.example/handover",
        secret_env="SOCIALDESK_CONTROL_ROOM_SECRET_MERSEYSIDE",
        auto_handover_flags=flags,
    )
    forces: dict[str, ForceConfig] = {
        **config.forces,
        FORCE: fc.model_copy(update={"control_room": room}),
    }
    return PlatformConfig(config.national, forces, config.holidays)


def test_handover_then_callbacks_on_the_item(platform_config: PlatformConfig) -> None:
    state, created = p1(platform_config)
    out = apply_command(
        state,
        make_command("hand_over", created.item_id, ALICE, payload={"reason": "knife, in progress"}),
        platform_config,
        T0,
    )
    [ev] = out.events
    assert ev.type == "handed_over" and ev.item is not None and ev.item.control_room is not None
    link = ev.item.control_room
    assert link.status == "requested" and link.requested_by == ALICE.id
    _, notes, _ = follow(platform_config, None, [created, ev])
    [n] = notes
    assert n.kind == "handover" and n.target.type == "control_room"
    assert n.notification_id == f"{created.item_id}:handover:{link.handover_id}"
    payload = HandoverPayload.model_validate(n.payload)
    assert payload.callback_url == CALLBACK and payload.item.priority == Priority.P1
    assert payload.reason == "knife, in progress"
    # a second handover of the same item is refused while the first stands
    again = apply_command(
        out.state, make_command("hand_over", created.item_id), platform_config, T0
    )
    assert (
        again.events[0].type == "rejected"
        and "already handed over" in again.events[0].data["reason"]
    )

    def callback(cb_id: str, status: str, secs: int, **extra: object) -> dict:
        return {
            "callback_id": cb_id,
            "handover_id": link.handover_id,
            "status": status,
            "incident_number": "INC-1",
            "sent_at": (T0 + timedelta(seconds=secs)).isoformat(),
            **extra,
        }

    st = out.state
    cmd = make_command(
        "control_room_update", created.item_id, SYSTEM, payload=callback("c1", "received", 5)
    )
    got = apply_command(st, cmd, platform_config, T0)
    assert got.events[0].type == "control_room_updated"
    item = got.events[0].item
    assert item is not None and item.control_room is not None
    assert item.control_room.incident_number == "INC-1" and item.control_room.status == "received"
    for payload_, why in [
        (callback("c1", "received", 5), "replayed callback"),
        (callback("c0", "received", 4), "stale callback"),
        ({**callback("c2", "x", 9), "handover_id": "ho_other"}, "unknown handover"),
    ]:
        bad = apply_command(
            got.state,
            make_command("control_room_update", created.item_id, SYSTEM, payload=payload_),
            platform_config,
            T0,
        )
        assert bad.events[0].type == "rejected" and why in bad.events[0].data["reason"], why
        assert bad.state.items == got.state.items  # changes nothing
    by_operator = apply_command(
        got.state,
        make_command(
            "control_room_update", created.item_id, ALICE, payload=callback("c9", "closed", 99)
        ),
        platform_config,
        T0,
    )
    assert by_operator.events[0].type == "rejected"


def test_the_national_queue_cannot_hand_over(platform_config: PlatformConfig) -> None:
    tm = make_triaged(make_mention("help"), make_triage(Priority.P1), force=None)
    out = apply_mention(None, tm, platform_config, T0)
    item_id = out.events[0].item_id
    duty = ALICE.model_copy(update={"force": None})
    got = apply_command(out.state, make_command("hand_over", item_id, duty), platform_config, T0)
    assert got.events[0].type == "rejected" and "no control room" in got.events[0].data["reason"]


def test_a_force_rule_hands_flagged_p1s_over_once(platform_config: PlatformConfig) -> None:
    cfg = with_control_room(platform_config, [Flag.weapon])
    _, created = p1(cfg, flags=(Flag.weapon,))
    st, _, cmds = follow(cfg, None, [created])
    [cmd] = cmds
    assert (
        cmd.type == "hand_over" and cmd.actor.id == "notify" and "weapon" in cmd.payload["reason"]
    )
    _, _, more = follow(cfg, st, [created.model_copy(update={"seq": created.seq + 1})])
    assert more == []  # once per item
    _, plain = p1(cfg)
    assert follow(cfg, None, [plain])[2] == []


def test_handover_payload_example_matches_the_model() -> None:
    import json

    import jsonschema

    from socialdesk.topics import schemas_dir

    root = schemas_dir() / "control-room"
    for name, model in (("handover", HandoverPayload), ("handover-callback", HandoverCallback)):
        schema = json.loads((root / f"{name}.v1.schema.json").read_text())
        for path in sorted((root / "examples" / name).glob("*.json")):
            data = json.loads(path.read_text())
            jsonschema.Draft202012Validator(schema).validate(data)
            model.model_validate(data)


def test_signature_refuses_unsigned_bad_and_stale() -> None:
    body = b'{"a":1}'
    header = signature("k", body, 1_800_000_000)
    assert verify("k", body, header, 1_800_000_010) == 1_800_000_000
    for hdr, now, why in [
        (None, 1_800_000_000, "unsigned"),
        ("sha256=abc", 1_800_000_000, "malformed"),
        (signature("other", body, 1_800_000_000), 1_800_000_000, "bad signature"),
        (header, 1_800_000_301, "stale"),
    ]:
        with pytest.raises(SignatureProblem, match=why):
            verify("k", body, hdr, now)
    with pytest.raises(SignatureProblem, match="bad signature"):
        verify("k", body + b" ", header, 1_800_000_000)


def test_email_carries_a_stable_message_id(platform_config: PlatformConfig) -> None:
    _, created = p1(platform_config)
    st, _, _ = follow(platform_config, None, [created])
    assert st is not None
    n = next(
        n
        for n in due_notifications(platform_config, st, T0.timestamp() + 999, CONSOLE)
        if n.target.type == "email"
    )
    msg = email_message(n, "sd@example")
    assert msg["Message-ID"] == message_id(n.notification_id)
    assert msg["X-Socialdesk-Idempotency-Key"] == n.notification_id
    assert msg["To"] == "desk-supervisors@merseyside.police.example"


def test_config_names_file_and_field_for_a_bad_channel(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    shutil.copytree(CONFIG_DIR, tmp_path / "config")
    path = tmp_path / "config" / "forces" / "merseyside.yaml"
    text = path.read_text().replace("http://127.0.0.1:8096/notify", "ftp://nowhere")
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "config")
    assert "merseyside.yaml" in str(exc.value) and "notifications.2" in str(exc.value)
    assert "url" in str(exc.value)


def test_handover_payload_needs_a_force_with_a_control_room(
    platform_config: PlatformConfig,
) -> None:
    state, created = p1(platform_config)
    out = apply_command(state, make_command("hand_over", created.item_id), platform_config, T0)
    payload = handover_payload(platform_config, out.events[0], CONSOLE, CALLBACK)
    assert (
        payload is not None and payload.force == FORCE and payload.force_name == "Merseyside Police"
    )
    assert [m.direction for m in payload.item.messages] == ["inbound"]


def _examples(topic: str) -> list:  # type: ignore[type-arg]
    from socialdesk.topics import schemas_dir

    return sorted((schemas_dir() / "examples" / topic / "1").glob("*.json"))


def test_notify_takes_every_item_event_example(platform_config: PlatformConfig) -> None:
    for path in _examples("items.events"):
        ev = ItemEvent.model_validate_json(path.read_bytes())
        st, notes, _ = on_item_event(platform_config, None, ev, CONSOLE, CALLBACK)
        if ev.type == "rejected":
            assert st is None and notes == []
        else:
            assert st is not None and st.item_id == ev.item_id, path.name
        if ev.type == "handed_over":
            assert [n.kind for n in notes] == ["handover"]


def test_the_dispatcher_can_send_every_notification_example() -> None:
    from socialdesk.events import Notification

    paths = _examples("notifications")
    assert {p.stem for p in paths} >= {"handover", "unclaimed-p1-step1-email"}
    for path in paths:
        n = Notification.model_validate_json(path.read_bytes())
        if n.target.type == "email":
            assert email_message(n, "sd@example")["To"]
        else:
            assert n.target.url and n.payload
        if n.kind == "handover":
            HandoverPayload.model_validate(n.payload)


class _Sender:
    """Answers each send with the next scripted outcome (an exception or a receipt)."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[str] = []

    async def send(self, n: object) -> str:
        self.sent.append(getattr(n, "notification_id", ""))
        out = self.outcomes.pop(0)
        if isinstance(out, Exception):
            raise out
        return str(out)


def _dispatcher(sender: _Sender, **settings: object):  # type: ignore[no-untyped-def]
    from socialdesk.settings import NotifySettings
    from socialdesk_notify.flows import DispatchProcessor

    d = DispatchProcessor(
        NotifySettings(notify_retry_max_delay_s=0.01, **settings),  # type: ignore[arg-type]
        sender,  # type: ignore[arg-type]
    )
    d.store.restored = {0}  # no broker: partition 0 counts as read back (empty)
    written: list[tuple[str, str]] = []

    async def persist(partition: int, key: str, rec: object) -> None:
        d.store.put(partition, key, rec)  # type: ignore[arg-type]
        written.append((key, rec.status))  # type: ignore[attr-defined]

    d._persist = persist  # type: ignore[method-assign]
    return d, written


def _handover_note(platform_config: PlatformConfig):  # type: ignore[no-untyped-def]
    state, created = p1(platform_config)
    out = apply_command(state, make_command("hand_over", created.item_id), platform_config, T0)
    _, notes, _ = follow(platform_config, None, [created, *out.events])
    return notes[0]


async def test_dispatcher_sends_once_retries_and_records_the_outcome(
    platform_config: PlatformConfig,
) -> None:
    from socialdesk.kafka import Meta
    from socialdesk_notify.channels import Permanent, Temporary

    note = _handover_note(platform_config)
    meta = Meta("notifications", 0, 1, note.item_id, 0)
    sender = _Sender(Temporary("503"), "http:202")
    d, written = _dispatcher(sender)
    result = await d.handle([(note, meta), (note, meta)])  # a duplicate in the same batch
    assert sender.sent == [note.notification_id] * 2  # one failed attempt, one delivery
    assert written == [(note.notification_id, "delivered")]
    audit = [o.value for o in result.outputs if o.topic == "audit.events"]
    assert [a.action for a in audit] == ["notification.delivered"]  # type: ignore[union-attr]
    assert audit[0].details["failed_attempts"] == ["503"]  # type: ignore[union-attr]
    [cmd] = [o.value for o in result.outputs if o.topic == "items.commands"]
    assert cmd.type == "control_room_update" and cmd.payload["status"] == "delivered"  # type: ignore[union-attr]
    again = await d.handle([(note, meta)])  # replayed after a restart: the record says sent
    assert again.outputs == [] and len(sender.sent) == 2
    record = d.store.get(0, note.notification_id)
    assert record is not None and record.notification == {}  # final: small, body on the topic

    refused, written = _dispatcher(_Sender(Permanent("404")))
    result = await refused.handle([(note, meta)])
    assert written == [(note.notification_id, "undeliverable")]
    [cmd] = [o.value for o in result.outputs if o.topic == "items.commands"]
    assert cmd.payload["status"] == "undeliverable"  # type: ignore[union-attr]


async def test_dispatcher_schedules_a_retry_then_gives_up(platform_config: PlatformConfig) -> None:
    import asyncio

    from socialdesk.kafka import Meta
    from socialdesk_notify.channels import Temporary

    note = _handover_note(platform_config)
    meta = Meta("notifications", 0, 1, note.item_id, 0)
    sender = _Sender(*[Temporary("down")] * 5)
    d, written = _dispatcher(sender, notify_quick_attempts=2, notify_give_up_after_s=0.5)
    result = await d.handle([(note, meta)])
    assert written == [(note.notification_id, "pending")] and len(d.retries) == 1
    assert [o.value.action for o in result.outputs] == ["notification.retrying"]  # type: ignore[union-attr]
    assert not [o for o in result.outputs if o.topic == "items.commands"]  # not final yet
    await asyncio.sleep(0.6)
    result = await d.tick()
    assert written[-1] == (note.notification_id, "undeliverable") and d.retries == []
    assert len(sender.sent) == 3
    [cmd] = [o.value for o in result.outputs if o.topic == "items.commands"]
    assert cmd.payload["status"] == "undeliverable"  # type: ignore[union-attr]


async def test_a_retry_queued_twice_is_attempted_once(platform_config: PlatformConfig) -> None:
    from socialdesk.kafka import Meta
    from socialdesk_notify.channels import Temporary

    note = _handover_note(platform_config)
    meta = Meta("notifications", 0, 1, note.item_id, 0)
    sender = _Sender(Temporary("down"), "http:200", "http:200")
    d, _ = _dispatcher(sender, notify_quick_attempts=1)
    await d.handle([(note, meta)])
    d._schedule_pending({0})  # e.g. a restore queued it again
    assert len(d.retries) == 2
    import asyncio

    await asyncio.sleep(0.05)
    await d.tick()
    assert len(sender.sent) == 2  # the failed attempt and one retry, not two at once


def test_finished_items_are_forgotten_after_the_reopen_window(
    platform_config: PlatformConfig,
) -> None:
    from socialdesk_notify.ladder import FORGET_AFTER_S, forgettable

    state, created = p1(platform_config)
    resolved = apply_command(
        state,
        make_command("resolve", created.item_id, payload={"outcome": "advised_999"}),
        platform_config,
        T0,
    )
    st, _, _ = follow(platform_config, None, [created, *resolved.events])
    assert st is not None and st.status == "resolved"
    assert not forgettable(st, T0.timestamp() + FORGET_AFTER_S - 1)
    assert forgettable(st, T0.timestamp() + FORGET_AFTER_S + 1)
    open_st, _, _ = follow(platform_config, None, [created])
    assert open_st is not None and not forgettable(open_st, T0.timestamp() + 10 * FORGET_AFTER_S)
