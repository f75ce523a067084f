"""The open-items index and the item page's history (issue 26, item 2), without a
cluster: what the indexer writes to the open index for an event, what the retention
sweeper deletes there, and how the item page names the author's other items by id."""

from __future__ import annotations

from datetime import UTC, datetime

from socialdesk import indices
from socialdesk.es import MAPPINGS, VersionedDoc, bulk_versioned
from socialdesk_console.auth import User
from socialdesk_console.queries import HISTORY_SIZE, history_docs, history_ids
from socialdesk_indexer.flows import open_doc
from socialdesk_indexer.sweeper import stale_open

OP = User("op.m", "Op", "merseyside", "operator", ("digital-desk",), "c")
NATIONAL = User("nat", "Nat", None, "national_viewer", (), "c")


def test_the_open_index_has_the_items_mapping_so_queries_are_unchanged() -> None:
    assert MAPPINGS[indices.OPEN] == MAPPINGS[indices.ITEMS]


def test_an_open_item_is_written_and_a_closed_one_deleted_at_its_version() -> None:
    doc = {"id": "i1", "open": True, "status": "new"}
    written = open_doc("p-open", "i1", 4, doc)
    assert (written.index, written.version, written.doc, written.delete) == (
        "p-open",
        4,
        doc,
        False,
    )
    closed = open_doc("p-open", "i1", 5, {**doc, "open": False, "status": "resolved"})
    assert closed.delete and closed.version == 5 and closed.doc == {}


def test_a_versioned_delete_is_sent_as_one_and_a_missing_document_is_no_failure() -> None:
    sent: list[list[dict[str, object]]] = []

    class Cluster:
        async def bulk(self, operations: list[dict[str, object]], refresh: bool) -> object:
            sent.append(operations)
            return {"items": [{"delete": {"status": 404}}, {"delete": {"status": 409}}]}

    import asyncio

    docs = [
        VersionedDoc("p-open", "gone", 3, {}, delete=True),
        VersionedDoc("p-open", "newer", 2, {}, delete=True),
    ]
    outcome = asyncio.run(bulk_versioned(Cluster(), docs))  # type: ignore[arg-type]
    assert sent == [
        [
            {
                "delete": {
                    "_index": "p-open",
                    "_id": "gone",
                    "version": 3,
                    "version_type": "external",
                }
            },
            {
                "delete": {
                    "_index": "p-open",
                    "_id": "newer",
                    "version": 2,
                    "version_type": "external",
                }
            },
        ]
    ]
    assert outcome.rejected == [] and outcome.retry == [] and outcome.skipped == 2


def test_the_sweeper_deletes_open_copies_at_the_version_it_found() -> None:
    resp = {"hits": {"hits": [{"_id": "a", "_version": 7}, {"_id": "b"}]}}
    [d] = stale_open("p-open", resp)
    assert (d.index, d.id, d.version, d.delete) == ("p-open", "a", 7, True)


def test_history_names_the_authors_days_over_the_history_kept() -> None:
    now = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)
    docs = history_docs("p-author-days", {"platform": "x", "author_id": "a1"}, now, 8)
    assert docs[0] == {"_index": "p-author-days-2026.11.29", "_id": "x:a1|2026-11-29"}
    assert docs[-1] == {"_index": "p-author-days-2026.12.07", "_id": "x:a1|2026-12-07"}
    assert len(docs) == 9  # eight days back and today
    assert history_docs("p-author-days", {"author_id": "a1"}, now, 8) == []


def test_history_is_the_latest_other_items_the_user_may_see() -> None:
    def entry(day: int, force: str | None) -> dict[str, object]:
        return {"at": f"2026-12-{day:02d}T10:00:00+00:00", "force": force}

    days = [
        {"items": {"this": entry(7, "merseyside"), "kent1": entry(6, "kent")}},
        {"items": {f"m{n}": entry(1 + n % 6, "merseyside") for n in range(30)}},
        {"items": {"nat": entry(5, None)}},
    ]
    ids = history_ids(OP, days, "this")
    assert len(ids) == HISTORY_SIZE
    assert "this" not in ids and "kent1" not in ids and "nat" not in ids
    assert ids[0] in {f"m{n}" for n in range(30) if 1 + n % 6 == 6}  # newest first
    assert set(history_ids(NATIONAL, days[:1], "this")) == {"kent1"}
