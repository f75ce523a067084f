"""The erasure rules (socialdesk.erasure): what of an item is the person's, how an item of
several people loses only their part, which holds keep an item, and what the report and
its audit record say (no personal data in the audit)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from socialdesk.erasure import (
    ERASED_AUTHOR,
    ErasureReport,
    Hold,
    HoldScope,
    Person,
    Store,
    held_by,
    hold_query,
    holds_their_messages,
    is_own_item,
    redact_item,
    shared_with_others,
)
from socialdesk.personal import author_key

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ME = Person("x", "42", frozenset({"me_handle"}))


def msg(author: str, text: str, mention: str | None, direction: str = "inbound") -> dict[str, str]:
    m = {"author": author, "text": text, "direction": direction, "at": NOW.isoformat()}
    if mention:
        m["mention_id"] = mention
    return m


def shared_item() -> dict[str, object]:
    return {
        "id": "itm_1",
        "platform": "x",
        "author_id": "99",
        "author_handle": "neighbour",
        "messages": [
            msg("neighbour", "the van is back", "x:1"),
            msg("me_handle", "I saw it too, reg AB12", "x:2"),
            msg("op.alice", "thanks, we are looking", None, "outbound"),
        ],
        "mention_ids": ["x:1", "x:2"],
        "text": "the van is back\nI saw it too, reg AB12",
        "last_actor": "me_handle",
    }


def test_the_person_is_one_key_across_stores() -> None:
    assert ME.key == author_key("x", "42") and len(ME.key) == 32
    assert ME.names == {"42", "me_handle"}
    assert ME.with_handles(["other", None]).names == {"42", "me_handle", "other"}


def test_an_item_of_several_people_loses_only_the_persons_messages() -> None:
    doc = shared_item()
    assert holds_their_messages(doc, ME) and not is_own_item(doc, ME)
    new, removed = redact_item(doc, ME)
    assert removed == 1
    assert [m["text"] for m in new["messages"]] == ["the van is back", "thanks, we are looking"]
    assert new["mention_ids"] == ["x:1"] and new["text"] == "the van is back"
    assert "AB12" not in json.dumps(new) and "me_handle" not in json.dumps(new)
    assert doc["messages"] and len(doc["messages"]) == 3  # the original is not changed


def test_a_name_on_another_platform_or_an_operator_is_not_theirs() -> None:
    doc = shared_item() | {"platform": "facebook"}
    assert not holds_their_messages(doc, ME)
    doc = shared_item()
    doc["messages"] = [msg("42", "note by an operator called 42", None, "internal")]
    assert not holds_their_messages(doc, ME)
    assert redact_item(doc, ME)[1] == 0


def test_holds_keep_an_item_or_an_authors_items_until_they_end() -> None:
    item_hold = Hold("h1", HoldScope.item, "merseyside", "CPS case", "sup", NOW, item_id="itm_1")
    author_hold = Hold(
        "h2",
        HoldScope.author,
        "merseyside",
        "court order",
        "dpo",
        NOW,
        author_key=ME.key,
        platform="x",
        author_id="42",
        until=NOW + timedelta(days=30),
    )
    released = Hold(
        "h3", HoldScope.item, None, "old case", "sup", NOW, item_id="itm_9", released=True
    )
    mine = {"id": "itm_5", "platform": "x", "author_id": "42"}
    assert held_by(shared_item(), [item_hold], NOW) == [item_hold]
    assert held_by(mine, [item_hold, author_hold], NOW) == [author_hold]
    assert held_by(mine, [author_hold], NOW + timedelta(days=31)) == []  # ended
    assert held_by({"id": "itm_9"}, [released], NOW) == []
    q = hold_query([item_hold, author_hold, released], NOW)
    assert q is not None
    should = q["bool"]["should"]
    assert {"ids": {"values": ["itm_1"]}} in should and len(should) == 2
    assert hold_query([released], NOW) is None
    assert Hold.from_document(author_hold.document()) == author_hold


def test_the_audit_record_of_an_erasure_holds_no_personal_data() -> None:
    report = ErasureReport("era_1", ME.key, "x", "dpo.m", "DPO-REQ-1", NOW, dry_run=False)
    report.add(Store.items, 49)
    report.add(Store.items, 1)
    report.held = [{"item_id": "itm_1", "hold_id": "h1", "force": "cheshire"}]
    details = report.audit_details()
    assert details["counts"][Store.items] == 50 and details["held_items"] == ["itm_1"]
    assert ME.key not in json.dumps(details) and "42" not in json.dumps(details["counts"])
    doc = report.document()
    assert set(doc["counts"]) == {s.value for s in Store}


def test_their_own_thread_that_someone_else_wrote_in_is_kept_for_the_other_without_them() -> None:
    doc = {
        "id": "itm_2",
        "platform": "x",
        "author_id": "42",
        "author_handle": "me_handle",
        "author_name": "Me Myself",
        "reasons": ["words that weighed most: 'my van'"],
        "messages": [
            msg("me_handle", "my van was taken", "x:5") | {"author_key": ME.key},
            msg("neighbour", "I saw who took it", "x:6") | {"author_key": author_key("x", "99")},
        ],
        "mention_ids": ["x:5", "x:6"],
        "last_actor": ME.key,
    }
    assert shared_with_others(doc, ME)
    new, removed = redact_item(doc, ME)
    assert removed == 1 and [m["text"] for m in new["messages"]] == ["I saw who took it"]
    assert new["author_id"] == ERASED_AUTHOR and new["author_handle"] is None
    assert new["reasons"] == [] and new["last_actor"] == "public"
    assert ME.key not in json.dumps(new) and "Me Myself" not in json.dumps(new)
    alone = doc | {"messages": doc["messages"][:1]}
    assert not shared_with_others(alone, ME)  # wholly theirs: deleted instead
