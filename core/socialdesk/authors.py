"""Per-author, per-day summaries of items: the `authors` index.

Triage grades a message with the author's recent history ("repeated welfare concerns
raise urgency"). Asking the items index for it is a search per batch, and noida-db
answers every search by scanning the whole index, so the cost grows with every item
ever indexed (docs/benchmarks.md). Instead the indexer keeps one
small document per author and UTC day, and triage reads the days of its window by
multi-get of ids it can name, which costs by the ids asked for, on noida-db and on real
Elasticsearch alike.

Each item is an entry keyed by its id inside its author's day (the day it was created):
a re-grade replaces the entry, a redelivered event writes the same entry again, and two
indexers writing different items of one author merge instead of overwriting.

Each UTC day has an index of its own (`<prefix>-author-days-YYYY.MM.DD`, created from an
index template on first write). That keeps this personal data only as long as triage
can use it: the indexer deletes whole days older than `author_history_days` (8 by
default, triage reads 7), instead of deleting documents one by one. It also bounds what
one write costs on noida-db, where replacing a document costs by the size of its index."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from socialdesk.events import ItemEventType
from socialdesk.indices import AUTHOR_DAYS as AUTHOR_DAYS  # importers name it here too

# The item events that can change what an author's entry holds (the item's grade or
# intent): the indexer writes the entry on these only, not on every claim or note.
ENTRY_EVENTS = frozenset(
    {
        ItemEventType.created,
        ItemEventType.public_replied,
        ItemEventType.regraded,
        ItemEventType.recategorised,
        ItemEventType.merged,
        ItemEventType.absorbed,
    }
)


def author_key(platform: str, author_id: str) -> str:
    return f"{platform}:{author_id}"


def day_id(key: str, day: date) -> str:
    return f"{key}|{day.isoformat()}"


def day_index(stem: str, day: date) -> str:
    return f"{stem}-{day:%Y.%m.%d}"


def index_day(stem: str, name: str) -> date | None:
    """The day of a daily index, or None for a name that is not one."""
    if not name.startswith(f"{stem}-"):
        return None
    try:
        return datetime.strptime(name[len(stem) + 1 :], "%Y.%m.%d").date()
    except ValueError:
        return None


def expired_indices(stem: str, names: Iterable[str], today: date, keep_days: int) -> list[str]:
    """The daily indices wholly older than the last `keep_days` days before today."""
    oldest = today - timedelta(days=keep_days)
    return sorted(n for n in names if (d := index_day(stem, n)) is not None and d < oldest)


def author_day_document(
    item: Mapping[str, Any],
) -> tuple[date, str, dict[str, Any]] | None:
    """(day, document id, partial document) for an item as the indexer writes it, or
    None when the item names no author."""
    if not item.get("author_id") or not item.get("platform") or not item.get("created_at"):
        return None
    key = author_key(str(item["platform"]), str(item["author_id"]))
    created = datetime.fromisoformat(str(item["created_at"]))
    entry = {
        "at": str(item["created_at"]),
        "force": item.get("force"),
        "intent": item.get("intent"),
        "priority": item.get("priority"),
    }
    doc = {"author": key, "day": created.date().isoformat(), "items": {str(item["id"]): entry}}
    return created.date(), day_id(key, created.date()), doc


def merge_documents(docs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Several partial documents of one author and day as one (later entries win), so a
    batch sends one update per document."""
    out: dict[str, Any] = {}
    for doc in docs:
        items = {**out.get("items", {}), **doc.get("items", {})}
        out = {**out, **doc, "items": items}
    return out


def window_docs(stem: str, keys: Iterable[str], now: datetime, days: int) -> list[dict[str, str]]:
    """The (index, id) pairs holding each author's items of the last `days` days (today
    included), as a multi-get asks for them. A day whose index does not exist yet (or
    any more) comes back as not found."""
    first = (now - timedelta(days=days)).date()
    span = [first + timedelta(days=n) for n in range((now.date() - first).days + 1)]
    return [{"_index": day_index(stem, d), "_id": day_id(k, d)} for k in keys for d in span]


def recent_entries(
    docs: Iterable[Mapping[str, Any]], since: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Each author's item entries created at or after `since`."""
    out: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        for entry in (doc.get("items") or {}).values():
            if datetime.fromisoformat(str(entry["at"])) >= since:
                out.setdefault(str(doc["author"]), []).append(entry)
    return out
