"""The demo feed as someone evaluating the product sees it: new conversations all the
time, never the same message twice in a thread, follow-ups from the same author into a
thread that exists."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from socialdesk.events import Mention
from socialdesk_tools.demofeed import FOLLOW_UPS_CY, DemoFeed

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "mentions.jsonl"


def test_a_long_run_never_repeats_a_message_in_a_thread() -> None:
    feed = DemoFeed(DEMO, seed=7, run="t")
    seen: set[tuple[str, str, str]] = set()
    for _ in range(5000):
        m = feed.next()
        key = (m["author"]["id"], m["conversation_id"], m["text"])
        assert key not in seen, key
        seen.add(key)
    assert len({text for _, _, text in seen}) > 150  # varied, not the file on a loop


def test_follow_ups_land_in_an_existing_thread_from_its_author() -> None:
    feed = DemoFeed(DEMO, seed=3, run="t")
    # conversation -> (author, the item's thread key, message ids)
    threads: dict[str, tuple[str, str, set[str]]] = {}
    items: set[str] = set()
    follow_ups = 0
    for _ in range(3000):
        m = feed.next()
        key = Mention.model_validate(m).thread_key()  # the inbox item it joins
        if m["in_reply_to_id"] is None:
            assert m["conversation_id"] not in threads and key not in items  # new is new
            threads[m["conversation_id"]] = (m["author"]["id"], key, {m["native_id"]})
            items.add(key)
            continue
        follow_ups += 1
        author, item, ids = threads[m["conversation_id"]]
        assert m["author"]["id"] == author and key == item
        assert m["in_reply_to_id"] in ids
        ids.add(m["native_id"])
    assert 300 < follow_ups < 900  # now and then, not never and not mostly
    sizes = Counter(len(ids) for _, _, ids in threads.values())
    assert sizes[1] and sizes[2] and sizes[3]


def test_every_message_is_a_valid_mention_with_a_fresh_id() -> None:
    feed = DemoFeed(DEMO, seed=1)
    ids = set()
    for _ in range(500):
        m = Mention.model_validate(feed.next())
        assert m.id not in ids
        ids.add(m.id)
    assert DemoFeed(DEMO, seed=1).sim.run != DemoFeed(DEMO, seed=1, run="x").sim.run


def test_welsh_threads_are_followed_up_in_welsh() -> None:
    feed = DemoFeed(DEMO, seed=5, run="t", follow_up=0.5)
    cy_threads: set[str] = set()
    checked = 0
    for _ in range(2000):
        m = feed.next()
        if m["in_reply_to_id"] is None and m["language"] == "cy":
            cy_threads.add(m["conversation_id"])
        elif m["conversation_id"] in cy_threads:
            assert m["text"] in FOLLOW_UPS_CY and m["language"] == "cy"
            checked += 1
    assert cy_threads and checked
