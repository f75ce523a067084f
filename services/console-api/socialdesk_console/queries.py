"""Plain functions that build Elasticsearch queries. Every query a user makes goes
through `scope_filter`, so force isolation lives in one place."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from fastapi import HTTPException

from socialdesk.authors import author_key, window_docs
from socialdesk_console.auth import User

VIEWS = ("mine", "team", "unassigned", "all_open")
FILTERABLE = ("priority", "intent", "flags", "platform", "team")
SEARCH_FILTERS = ("priority", "intent", "flags", "platform", "team", "outcome", "status")
SEARCH_PAGE = 25


NATIONAL_QUEUE = {"bool": {"must_not": {"exists": {"field": "force"}}}}


def scope_filter(user: User) -> list[dict[str, Any]]:
    """An operator sees their force's items only; national viewers see every force; a
    national duty officer sees the national duty queue (items of no force)."""
    if user.national:
        return []
    if user.duty:
        return [NATIONAL_QUEUE]
    return [{"term": {"force": user.force or "__none__"}}]


def view_filter(user: User, view: str) -> dict[str, Any]:
    """One inbox view as a filter (open items only)."""
    if view == "unassigned":
        return {"bool": {"must_not": {"exists": {"field": "owner"}}}}
    if view == "mine":
        return {"term": {"owner": user.username}}
    if view == "team":
        return {"terms": {"team": list(user.teams) or ["__none__"]}}
    return {"match_all": {}}


def filter_clauses(
    filters: dict[str, str], fields: tuple[str, ...] = FILTERABLE
) -> list[dict[str, Any]]:
    return [{"term": {f: filters[f]}} for f in fields if filters.get(f)]


def counters_query(user: User, filters: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(query, aggregations): one request counts every view, with the same filters."""
    query = {
        "bool": {
            "filter": [*scope_filter(user), {"term": {"open": True}}, *filter_clauses(filters)]
        }
    }
    aggs = {
        "views": {"filters": {"filters": {v: view_filter(user, v) for v in VIEWS}}},
        "p1": {"filter": {"term": {"priority": "P1"}}},
    }
    return query, aggs


def inbox_request(user: User, view: str, filters: dict[str, str], size: int) -> dict[str, Any]:
    """One search for a view and every view's counter: the query selects the user's open
    items, the aggregations count each view, and post_filter narrows the hits to the
    view asked for (one pass over the index instead of two)."""
    query, aggs = counters_query(user, filters)
    req: dict[str, Any] = {
        "query": query,
        "aggs": aggs,
        "sort": INBOX_SORT,
        "size": size,
        # The view's counter is its total, so ES need not count the hits a second time.
        "track_total_hits": False,
        "source_excludes": ["messages", "mention_ids"],
    }
    if view != "all_open":
        req["post_filter"] = view_filter(user, view)
    return req


def counters_of(resp: Any) -> dict[str, int]:
    """Every view's open-item counter (and P1's) from the aggregations of counters_query."""
    aggs = resp.get("aggregations") or {}
    buckets = aggs.get("views", {}).get("buckets", {})
    out = {v: int(buckets.get(v, {}).get("doc_count", 0)) for v in VIEWS}
    out["p1"] = int(aggs.get("p1", {}).get("doc_count", 0))
    return out


def inbox_filters(
    priority: str | None,
    intent: str | None,
    flag: str | None,
    platform: str | None,
    team: str | None,
) -> dict[str, str]:
    """The inbox's query parameters as the dict filter_clauses takes: only those given."""
    raw = {"priority": priority, "intent": intent, "flags": flag, "platform": platform}
    return {k: v for k, v in {**raw, "team": team}.items() if v}


def visible(user: User, doc: dict[str, Any]) -> bool:
    """The same rule as scope_filter, for a document fetched by id."""
    if user.national:
        return True
    if user.duty:
        return doc.get("force") is None
    return user.force is not None and doc.get("force") == user.force


# Within a grade creation order is SLA order; sort_by_due then applies the real deadlines.
INBOX_SORT = [{"priority_rank": "asc"}, {"created_at": "asc"}, {"id": "asc"}]

OPEN_CLOCK_STATES = {"started", "warning", "breached", "resumed", "recalculated", "escalated"}
CLOCKS = ("first_response", "next_response", "resolution")


def sla_due(clocks: dict[str, dict[str, Any]]) -> str | None:
    """The earliest deadline of the item's running clocks (ISO text sorts as time)."""
    dues = [
        c["deadline"]
        for c in clocks.values()
        if c.get("deadline") and c.get("state") in OPEN_CLOCK_STATES
    ]
    return min(dues) if dues else None


def sort_by_due(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        items,
        key=lambda i: (
            i.get("priority_rank") or int(str(i.get("priority", "P4"))[1]),
            i.get("sla_due") or "9999",
            i.get("created_at") or "",
        ),
    )


def search_query(user: User, text: str | None, filters: dict[str, str]) -> dict[str, Any]:
    """Full text (non-fuzzy match: highlights work on noida-db too) over what the user may
    see, with filters; dates are ISO dates or datetimes, author is an id or a handle."""
    must: list[dict[str, Any]] = []
    if text:
        must.append({"match": {"text": {"query": text, "operator": "and"}}})
    flt: list[dict[str, Any]] = [*scope_filter(user), *filter_clauses(filters, SEARCH_FILTERS)]
    if filters.get("author"):
        a = filters["author"].lstrip("@")
        flt.append(
            {"bool": {"should": [{"term": {"author_id": a}}, {"term": {"author_handle": a}}]}}
        )
    date_range = {
        k: v for k, v in (("gte", filters.get("date_from")), ("lte", filters.get("date_to"))) if v
    }
    if date_range:
        flt.append({"range": {"created_at": date_range}})
    return {"bool": {"must": must or [{"match_all": {}}], "filter": flt}}


SEARCH_SORT = [{"created_at": "desc"}, {"id": "asc"}]
HL_PRE, HL_POST = "\ue000", "\ue001"  # highlight markers no message contains
EXPORT_COLUMNS = [
    "id",
    "force",
    "team",
    "priority",
    "intent",
    "status",
    "outcome",
    "created_at",
    "platform",
]


def search_request(
    user: User, text: str | None, filters: dict[str, str], after: str | None, size: int
) -> dict[str, Any]:
    """One page of a search (without the index), highlighted when there is text."""
    req: dict[str, Any] = {
        "query": search_query(user, text, filters),
        "sort": SEARCH_SORT,
        "size": size,
        "track_total_hits": True,
        "source_excludes": ["messages", "mention_ids"],
    }
    if text:
        req["highlight"] = {
            "fields": {"text": {"number_of_fragments": 2, "fragment_size": 160}},
            "pre_tags": [HL_PRE],
            "post_tags": [HL_POST],
        }
    if after:
        req["search_after"] = decode_cursor(after)
    return req


def highlight_segments(fragment: str) -> list[dict[str, Any]]:
    """A highlighted fragment as [{text, hit}] so pages and clients never parse HTML."""
    out: list[dict[str, Any]] = []
    rest = fragment
    while rest:
        start = rest.find(HL_PRE)
        if start < 0:
            out.append({"text": rest, "hit": False})
            break
        if start:
            out.append({"text": rest[:start], "hit": False})
        end = rest.find(HL_POST, start)
        end = len(rest) if end < 0 else end
        out.append({"text": rest[start + 1 : end], "hit": True})
        rest = rest[end + 1 :]
    return out


def encode_cursor(sort: list[Any]) -> str:
    """A hit's sort values as the opaque `next` of a page."""
    return base64.urlsafe_b64encode(json.dumps(sort).encode()).decode()


def decode_cursor(cursor: str) -> list[Any]:
    """A client's `after` back to sort values: a few plain scalars, or a 400."""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise HTTPException(400, "bad paging cursor; start the search again") from exc
    if (
        not isinstance(value, list)
        or not value
        or len(value) > 4
        or not all(
            v is None or (isinstance(v, str | int | float) and not isinstance(v, bool))
            for v in value
        )
    ):
        raise HTTPException(400, "bad paging cursor; start the search again")
    return value


def next_cursor(hits: list[dict[str, Any]], size: int) -> str | None:
    """The cursor of the page after a full one (None after the last page)."""
    if len(hits) == size and hits and hits[-1].get("sort"):
        return encode_cursor(hits[-1]["sort"])
    return None


def timeline_query(user: User, item_id: str, item: dict[str, Any] | None = None) -> dict[str, Any]:
    """The item's events. Given the item document and the user may see it now, all of
    them: the events from before a transfer carry the force the item had then (the
    national duty queue's, or another force's), and the history goes with the item."""
    if item is not None and item.get("id") == item_id and visible(user, item):
        return {"bool": {"filter": [{"term": {"item_id": item_id}}]}}
    return {"bool": {"filter": [*scope_filter(user), {"term": {"item_id": item_id}}]}}


# The item page's side requests: built here so the benchmark sends them too.
HISTORY_SIZE = 20
HISTORY_SOURCE = [
    "force",  # the scope rule, checked again on the item as it is now
    "platform",  # the restriction rule
    "author_id",
    "id",
    "priority",
    "intent",
    "status",
    "outcome",
    "created_at",
    "text",
    "team",
    # what the text is in: the page marks a Welsh one lang="cy"
    "language",
    "flags",
]
DELIVERY_ACTIONS = [
    "reply.delivered",
    "reply.send_failed",
    "reply.undeliverable",
    # who was told outside the console, and the handover to the control room (notify)
    "notification.delivered",
    "notification.retrying",
    "notification.undeliverable",
]


def history_docs(stem: str, item: dict[str, Any], now: datetime, days: int) -> list[dict[str, str]]:
    """The (index, id) pairs of the author's per-day summaries over the author history
    kept: a multi-get by id, where a search of the items would read every item ever
    indexed (docs/architecture.md, "What costs")."""
    if not item.get("platform") or not item.get("author_id"):
        return []
    key = author_key(str(item["platform"]), str(item["author_id"]))
    return window_docs(stem, [key], now, days)


def history_ids(user: User, days: list[dict[str, Any]], exclude_id: str) -> list[str]:
    """The author's 20 latest other items (newest first) the user may see by the force
    their summary records; the caller checks each item again as it is now."""
    entries: dict[str, str] = {}
    for doc in days:
        for item_id, entry in ((doc or {}).get("items") or {}).items():
            if item_id != exclude_id and visible(user, {"force": entry.get("force")}):
                entries[item_id] = str(entry.get("at") or "")
    return sorted(entries, key=lambda i: (entries[i], i), reverse=True)[:HISTORY_SIZE]


def timeline_request(
    user: User, item_id: str, item: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "query": timeline_query(user, item_id, item),
        "sort": [{"at": "asc"}, {"seq": "asc"}],
        "size": 500,
        "track_total_hits": False,
    }


def deliveries_request(item: dict[str, Any]) -> dict[str, Any]:
    """Deliveries of the item: replies (console-api's dispatcher) and notifications and
    handovers (notify), from their audit records, newest first."""
    return {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"target_id": item["id"]}},
                    {"term": {"force": item.get("force") or "__none__"}},
                    {"terms": {"action": DELIVERY_ACTIONS}},
                ]
            }
        },
        "sort": [{"at": "desc"}],
        "size": 50,
        "track_total_hits": False,
    }


def sla_ids(item_ids: list[str]) -> list[str]:
    """Document ids of the items' SLA clocks (one document per item and clock)."""
    return [f"{i}:{c}" for i in item_ids for c in CLOCKS]


def audit_query(user: User, filters: dict[str, str]) -> dict[str, Any]:
    """A force admin sees their force's audit trail (by anyone, system included)."""
    flt: list[dict[str, Any]] = [{"term": {"force": user.force or "__none__"}}]
    for f in ("actor_id", "action", "target_id", "target_type"):
        if filters.get(f):
            flt.append({"term": {f: filters[f]}})
    rng = {
        k: v for k, v in (("gte", filters.get("date_from")), ("lte", filters.get("date_to"))) if v
    }
    if rng:
        flt.append({"range": {"at": rng}})
    return {"bool": {"filter": flt}}


AUDIT_SORT = [{"at": "desc"}, {"event_id": "asc"}]


def audit_request(
    user: User, filters: dict[str, str], after: str | None, size: int
) -> dict[str, Any]:
    """One page of the force's audit trail (without the index)."""
    req: dict[str, Any] = {
        "query": audit_query(user, filters),
        "sort": AUDIT_SORT,
        "size": size,
        "track_total_hits": True,
    }
    if after:
        req["search_after"] = decode_cursor(after)
    return req
