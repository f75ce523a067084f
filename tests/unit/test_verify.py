"""The drills' and the soak's checks (socialdesk.verify) over more items than one search
page holds: a loss, a duplicate, a wrong clock and a twice-applied command planted past
the first 10,000 are each found, and a clean run is reported clean."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from socialdesk.verify import check_commands, check_items, check_replies

N = 12_345  # more than the 10,000 hits one search returns
T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def item(n: int, priority: str = "P2", owner: str | None = None) -> dict[str, Any]:
    return {
        "id": f"itm_{n}",
        "owner": owner,
        "priority": priority,
        "mention_ids": [f"x:{n}"],
        "seq": 2,
    }


def clock(
    n: int, priority: str = "P2", minutes: int = 60, state: str = "started"
) -> dict[str, Any]:
    started = T0 + timedelta(seconds=n)
    return {
        "item_id": f"itm_{n}",
        "clock": "first_response",
        "priority": priority,
        "state": state,
        "started_at": started.isoformat(),
        "deadline": (started + timedelta(minutes=minutes)).isoformat(),
    }


def clean_run() -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    accepted = [f"x:{n}" for n in range(N)]
    items = [item(n, "P1" if n % 3 == 0 else "P2") for n in range(N)]
    clocks = [clock(n, "P1", 15) if n % 3 == 0 else clock(n) for n in range(N)]
    clocks += [{**clock(n), "clock": "resolution", "deadline": None} for n in range(0, N, 7)]
    return accepted, items, clocks


def test_a_clean_run_past_one_page_is_clean_and_fully_counted() -> None:
    accepted, items, clocks = clean_run()
    f = check_items(accepted, items, clocks)
    assert f.clean, f.figures()
    assert f.figures()["indexed"] == N
    assert f.items_read == N
    assert f.clocks_checked == N


def test_a_planted_loss_duplicate_and_wrong_clock_past_10000_are_each_found() -> None:
    accepted, items, clocks = clean_run()
    accepted.append("x:lost-1")  # accepted by ingest, never indexed
    items[11_000]["mention_ids"].append("x:11500")  # also in its own item
    clocks[12_001] = clock(12_001, minutes=59)  # due a minute early
    f = check_items(accepted, items, clocks)
    assert f.lost == ["x:lost-1"]
    assert f.duplicated == {"x:11500": 1}
    assert [i for i, _ in f.clocks_wrong] == ["itm_12001"]
    assert f.figures()["lost"] == 1 and f.figures()["duplicated"] == 1
    assert not f.clean


def test_an_item_read_twice_a_missing_clock_and_a_clock_left_at_the_old_grade() -> None:
    accepted, items, clocks = clean_run()
    items.append(dict(items[10_500]))  # a paged read that repeats a hit
    clocks = [c for c in clocks if c["item_id"] != "itm_10700"]
    items[10_801]["priority"] = "P1"  # re-graded; its running clock still at P2
    f = check_items(accepted, items, clocks)
    assert f.items_read_twice == ["itm_10500"]
    assert f.clocks_missing == ["itm_10700"]
    assert f.clocks_wrong == [("itm_10801", "clock still at P2, item at P1")]
    assert f.duplicated == {"x:10500": 1}


def test_a_met_clock_keeps_the_grade_it_ran_at() -> None:
    accepted, items, clocks = clean_run()
    items[10_800]["priority"] = "P2"  # answered at P1, re-graded after: nothing to redo
    clocks[10_800] = clock(10_800, "P1", 15, state="met")
    items[10_802]["priority"] = "P1"
    clocks[10_802] = clock(10_802, "P2", 60, state="met")
    assert check_items(accepted, items, clocks).clean


def test_a_late_escalation_is_due_when_it_happened_and_breached() -> None:
    """docs/sla.md: an item that becomes P1 after its 15 minutes have passed is due at
    that moment and breached at once; a running clock that late is still wrong."""
    accepted, items, clocks = clean_run()
    items[10_803]["priority"] = "P1"
    late = clock(10_803, "P1", 47, state="breached")
    clocks[10_803] = {**late, "at": late["deadline"]}
    assert check_items(accepted, items, clocks).clean
    clocks[10_803] = {**late, "state": "escalated", "at": str(T0 + timedelta(hours=6))}
    assert check_items(accepted, items, clocks).clean
    clocks[10_803] = clock(10_803, "P1", 47, state="recalculated")
    assert [i for i, _ in check_items(accepted, items, clocks).clocks_wrong] == ["itm_10803"]


def test_a_late_clock_breached_before_its_deadline_is_wrong() -> None:
    """A breached P1 clock due 47 minutes after start but reported breached at minute
    20 was never due at the escalation: the late-escalation allowance must not hide it."""
    accepted, items, clocks = clean_run()
    items[10_803]["priority"] = "P1"
    late = clock(10_803, "P1", 47, state="breached")
    clocks[10_803] = {**late, "at": str(T0 + timedelta(seconds=10_803, minutes=20))}
    assert [i for i, _ in check_items(accepted, items, clocks).clocks_wrong] == ["itm_10803"]
    clocks[10_803] = {k: v for k, v in late.items() if k != "at"}
    assert [i for i, _ in check_items(accepted, items, clocks).clocks_wrong] == ["itm_10803"]


def test_two_owners_and_mentions_of_other_runs() -> None:
    accepted, items, clocks = clean_run()
    items[10_900]["owner"] = ["op.a", "op.b"]
    items.append({**item(99_999), "mention_ids": ["x:another-run"]})
    clocks.append(clock(99_999))
    f = check_items(accepted, items, clocks)
    assert f.two_owners == ["itm_10900"]
    assert f.lost == [] and f.duplicated == {}


def event(
    item_id: str, seq: int, type_: str, command: str | None, owner: str | None = None
) -> dict[str, Any]:
    return {
        "event_id": f"{item_id}:{seq}" if type_ != "rejected" else f"{item_id}:rejected:{command}",
        "item_id": item_id,
        "seq": seq,
        "type": type_,
        "command_id": command,
        "item": {"id": item_id, "seq": seq, "owner": owner},
    }


def test_commands_each_applied_once_with_redeliveries_past_one_page() -> None:
    events, issued, docs = [], [], []
    for n in range(N):
        events.append(event(f"itm_{n}", 1, "created", None))
        issued.append(f"c{n}")
        events.append(event(f"itm_{n}", 2, "claimed", f"c{n}", owner="op"))
        docs.append({"id": f"itm_{n}", "seq": 2, "owner": "op"})
    events += events[-5000:]  # at-least-once: the same events delivered again
    f = check_commands(issued, events, docs)
    assert f.clean, f.figures()
    assert f.outcomes == {"claimed": N}


def test_a_command_applied_twice_one_lost_and_a_stale_document_are_found() -> None:
    events, issued, docs = [], [], []
    for n in range(N):
        events.append(event(f"itm_{n}", 1, "created", None))
        issued.append(f"c{n}")
        events.append(event(f"itm_{n}", 2, "noted", f"c{n}"))
        docs.append({"id": f"itm_{n}", "seq": 2, "owner": None})
    events.append(event("itm_11000", 3, "noted", "c11000"))  # the same note again
    issued.append("c-never")  # on items.commands, no outcome
    docs[12_000]["seq"] = 1  # the index missed the last event
    f = check_commands(issued, events, docs)
    assert f.applied_twice == ["c11000"]
    assert f.no_outcome == ["c-never"]
    assert "itm_12000" in f.projection_stale
    assert "itm_11000" in f.projection_stale  # its document is one event behind too
    assert not f.clean


def test_an_applied_command_that_was_also_rejected_counts_as_twice() -> None:
    events = [
        event("itm_1", 1, "created", None),
        event("itm_1", 2, "claimed", "c1", owner="op.a"),
        event("itm_1", 2, "rejected", "c1", owner="op.a"),
    ]
    assert check_commands(["c1"], events).applied_twice == ["c1"]


def test_two_writers_and_a_claim_over_an_owner_are_found_in_the_log() -> None:
    events = [
        event("itm_1", 1, "created", None),
        event("itm_1", 2, "claimed", "ca", owner="op.a"),
        event("itm_1", 2, "claimed", "cb", owner="op.b"),  # another writer, same seq
        event("itm_2", 1, "created", None),
        event("itm_2", 2, "claimed", "cc", owner="op.a"),
        event("itm_2", 3, "claimed", "cd", owner="op.b"),  # taken without a release
    ]
    f = check_commands(["ca", "cb", "cc", "cd"], events)
    assert f.two_writers == ["itm_1@2"]
    assert f.claimed_from_owner == ["itm_2@3"]


def test_replies_sent_twice_never_sent_or_sent_without_a_reply() -> None:
    replied = [f"r{n}" for n in range(N)]
    sent = [*replied, "r10001", "r-ghost"]
    sent.remove("r11111")
    f = check_replies(replied, sent)
    assert f.sent_twice == {"r10001": 1}
    assert f.never_sent == ["r11111"]
    assert f.sent_without_reply == ["r-ghost"]
    assert f.delivered == N - 1
    assert check_replies(replied, replied).clean
