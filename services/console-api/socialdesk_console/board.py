"""The live SLA board for supervisors: items at risk and breached by team and grade with
time left, operators with their load and presence, unassigned P1/P2, the alert feed and
one-click reassignment (the item's existing `assign` command): the snapshot the board's
routes (routers/board.py) serve, and the feed that follows `sla.events` and
`operators.presence` for the live stream."""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from socialdesk import indices
from socialdesk.events import OperatorPresence
from socialdesk.settings import BaseServiceSettings
from socialdesk.statestore import GlobalTable
from socialdesk.taxonomy import Priority
from socialdesk.topics import OPERATORS_PRESENCE, SLA_EVENTS
from socialdesk_console.labels import language_of
from socialdesk_console.queries import NATIONAL_QUEUE
from socialdesk_console.sse import Queue, TopicFollower, offer

if TYPE_CHECKING:  # the context holds a BoardFeed
    from socialdesk_console.context import ConsoleContext

ALERTS = ("warning", "breached", "escalated")
ITEM_FIELDS = [
    "id",
    "priority",
    "team",
    "intent",
    "owner",
    "status",
    "open",
    "text",
    "messages",
    "language",
    "flags",
    "platform",  # with author_id: a restricted person's rows stay off the board
    "author_id",
]


def alert_of(ev: dict[str, Any]) -> dict[str, Any]:
    """What the board needs from one sla.events record."""
    return {
        "kind": "sla",
        "item_id": ev.get("item_id"),
        "type": ev.get("type"),
        "clock": ev.get("clock"),
        "priority": ev.get("priority"),
        "force": ev.get("force"),
        "team": ev.get("team"),
        "owner": ev.get("owner"),
        "deadline": ev.get("deadline"),
        "time_left_s": ev.get("time_left_s"),
        "at": ev.get("at"),
    }


class BoardFeed(TopicFollower):
    """One per console process: the newest SLA events of every partition (no group, so
    every instance sees every alert) fanned out to each board stream of the alert's
    force; the last alerts per force for a board that opens now; operator presence."""

    topic = SLA_EVENTS

    def __init__(self, settings: BaseServiceSettings, keep: int = 50) -> None:
        super().__init__(settings)
        self.streams: dict[Queue, str] = {}
        self.recent: dict[str, deque[dict[str, Any]]] = {}
        self.keep = keep
        self.presence: GlobalTable[OperatorPresence] = GlobalTable(
            settings, OPERATORS_PRESENCE, OperatorPresence.model_validate_json
        )

    def start(self) -> None:
        self.presence.start()
        super().start()

    async def stop(self) -> None:
        await super().stop()
        await self.presence.stop()

    def add(self, q: Queue, force: str) -> None:
        self.streams[q] = force

    def remove(self, q: Queue) -> None:
        self.streams.pop(q, None)

    def seen(self, ev: dict[str, Any]) -> None:
        if not ev.get("force"):
            return
        alert = alert_of(ev)
        if alert["type"] in ALERTS:
            self.recent.setdefault(alert["force"], deque(maxlen=self.keep)).appendleft(alert)
        for q, force in list(self.streams.items()):
            if force == alert["force"]:
                offer(q, alert)

    def operators(self, force: str) -> list[OperatorPresence]:
        return [p for p in self.presence.data.values() if p.force == force]


def _left(deadline: str | None, now: datetime) -> float | None:
    if not deadline:
        return None
    return round((datetime.fromisoformat(deadline) - now).total_seconds(), 1)


def board_rows(
    clocks: list[dict[str, Any]], items: dict[str, dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """Clocks in warning or breached on items still open, soonest deadline first; a
    first-response clock stops mattering once the item has had a reply."""
    rows = []
    for c in clocks:
        item = items.get(c["item_id"])
        if item is None or not item.get("open"):
            continue
        if c["clock"] == "first_response" and any(
            m.get("direction") == "outbound" for m in item.get("messages") or []
        ):
            continue
        left = _left(c.get("deadline"), now)
        state = (
            "breached"
            if c.get("state") in ("breached", "escalated") or (left is not None and left < 0)
            else "warning"
        )
        rows.append(
            {
                "item_id": c["item_id"],
                "clock": c["clock"],
                "state": state,
                "deadline": c.get("deadline"),
                "time_left_s": left,
                "priority": item.get("priority"),
                "team": item.get("team"),
                "intent": item.get("intent"),
                "owner": item.get("owner"),
                "status": item.get("status"),
                "text": (item.get("text") or "")[:140],
                "language": language_of(item),
            }
        )
    rows.sort(key=lambda r: (r["deadline"] or "9999", r["priority"] or "P9"))
    return rows


def matrix(rows: list[dict[str, Any]], teams: list[str]) -> list[dict[str, Any]]:
    """Items at risk and breached per team and grade (an item counts once, at its worst)."""
    worst: dict[str, dict[str, Any]] = {}
    for r in rows:
        w = worst.get(r["item_id"])
        if w is None or (r["state"] == "breached" and w["state"] != "breached"):
            worst[r["item_id"]] = r
    out = []
    for team in sorted(set(teams) | {r["team"] for r in worst.values() if r["team"]}):
        cells = {}
        for g in Priority:
            mine = [r for r in worst.values() if r["team"] == team and r["priority"] == g.value]
            cells[g.value] = {
                "at_risk": sum(1 for r in mine if r["state"] == "warning"),
                "breached": sum(1 for r in mine if r["state"] == "breached"),
            }
        out.append({"team": team, "grades": cells})
    return out


def duty_queue_rows(
    items: list[dict[str, Any]], due: dict[str, dict[str, Any]], now: datetime
) -> dict[str, Any]:
    """The national duty queue as the national board shows it: open items of no force,
    P1 first then oldest, each with its first-response deadline and time left, counts by
    grade, and how many nobody has claimed."""
    rows = []
    for it in items:
        deadline = (due.get(f"{it['id']}:first_response") or {}).get("deadline")
        rows.append(
            {
                "item_id": it["id"],
                "priority": it.get("priority"),
                "intent": it.get("intent"),
                "platform": it.get("platform"),
                "owner": it.get("owner"),
                "status": it.get("status"),
                "created_at": it.get("created_at"),
                "first_response_due": deadline,
                "time_left_s": _left(deadline, now),
                "text": (it.get("text") or "")[:140],
                "language": language_of(it),
            }
        )
    return {
        "open": len(rows),
        "unclaimed": sum(1 for r in rows if not r["owner"]),
        "by_grade": {g.value: sum(1 for r in rows if r["priority"] == g.value) for g in Priority},
        "items": rows,
    }


def operator_rows(present: list[OperatorPresence], load: dict[str, int]) -> list[dict[str, Any]]:
    """Operators with their presence and open items (an owner with no presence record is
    `unknown`), online first, then the busiest."""
    people: dict[str, dict[str, Any]] = {}
    for p in present:
        people[p.operator] = {
            "operator": p.operator,
            "status": p.status,
            "teams": list(p.teams),
            "role": p.role,
            "since": p.at.isoformat(),
            "load": load.get(p.operator, 0),
        }
    for name, n in load.items():
        people.setdefault(
            name,
            {
                "operator": name,
                "status": "unknown",
                "teams": [],
                "role": None,
                "since": None,
                "load": n,
            },
        )
    return sorted(
        people.values(), key=lambda p: (p["status"] != "online", -p["load"], p["operator"])
    )


async def duty_queue_snapshot(ctx: ConsoleContext) -> dict[str, Any]:
    """Open items of no force (the national duty queue), read from the index."""
    # the open-items index: the queue's cost is by open work, not by all history
    items_index, sla_index = ctx.index(indices.OPEN), ctx.index(indices.SLA)
    _, not_theirs = await _restricted(ctx)
    resp = await ctx.search(
        index=items_index,
        query={
            "bool": {
                "filter": [NATIONAL_QUEUE, {"term": {"open": True}}],
                "must_not": not_theirs,
            }
        },
        sort=[{"priority_rank": "asc"}, {"created_at": "asc"}],
        size=500,
        source_includes=[
            "id",
            "priority",
            "intent",
            "platform",
            "owner",
            "status",
            "created_at",
            "text",
            "language",
            "flags",
        ],
        track_total_hits=True,
    )
    items = [h["_source"] for h in resp["hits"]["hits"]]
    # Without its deadlines if the index fails: the queue still shows.
    ids = [f"{i['id']}:first_response" for i in items]
    due = await _mget(ctx, sla_index, ids, ["deadline"])
    out = duty_queue_rows(items, due, datetime.now(UTC))
    out["total"] = resp["hits"]["total"]["value"]
    out["name"] = ctx.config.national.duty_queue.name
    out["role"] = ctx.config.national.duty_queue.role
    return out


async def _restricted(
    ctx: ConsoleContext,
) -> tuple[frozenset[tuple[str, str]], list[dict[str, Any]]]:
    """The restricted people, and a must_not for their items: the board is for
    supervisors and the duty queue for national staff, never the DPO, so their items
    are left off for all its viewers."""
    # here, not at the top: protection imports the context, which imports this module
    from socialdesk_console.protection import restricted_authors, restricted_clause

    hidden = await restricted_authors(ctx)
    return hidden, restricted_clause(hidden)


def _author(item: dict[str, Any]) -> tuple[str, str]:
    return (str(item.get("platform")), str(item.get("author_id")))


async def _mget(
    ctx: ConsoleContext, index: str, ids: list[str], fields: list[str]
) -> dict[str, dict[str, Any]]:
    """Documents by id; the board still draws (without them) if the index fails."""
    if not ids:
        return {}
    try:
        got = await ctx.es.mget(index=index, ids=ids, source_includes=fields)
    except Exception:
        return {}
    return {d["_id"]: d["_source"] for d in got["docs"] if d.get("found")}


async def snapshot(ctx: ConsoleContext, force: str) -> dict[str, Any]:
    """The board of one force: what the page draws and /api/board returns."""
    items_index, sla_index = ctx.index(indices.ITEMS), ctx.index(indices.SLA)
    open_index = ctx.index(indices.OPEN)  # the searches: by open work, not all history
    now = datetime.now(UTC)
    hidden, not_theirs = await _restricted(ctx)
    clocks_req = ctx.search(
        index=sla_index,
        query={
            "bool": {"filter": [{"term": {"force": force}}, {"terms": {"state": list(ALERTS)}}]}
        },
        sort=[{"deadline": "asc"}],
        size=1000,
        track_total_hits=False,
    )
    unassigned_req = ctx.search(
        index=open_index,
        query={
            "bool": {
                "filter": [
                    {"term": {"force": force}},
                    {"term": {"open": True}},
                    {"terms": {"priority": ["P1", "P2"]}},
                ],
                "must_not": [{"exists": {"field": "owner"}}, *not_theirs],
            }
        },
        sort=[{"priority_rank": "asc"}, {"created_at": "asc"}],
        size=200,
        source_includes=[
            "id",
            "priority",
            "team",
            "intent",
            "status",
            "created_at",
            "text",
            "language",
            "flags",
            "sla_first_response_due",
        ],
        track_total_hits=True,
    )
    load_req = ctx.search(
        index=open_index,
        query={"bool": {"filter": [{"term": {"force": force}}, {"term": {"open": True}}]}},
        aggs={"owners": {"terms": {"field": "owner", "size": 500}}},
        size=0,
    )
    clocks_resp, unassigned_resp, load_resp = await asyncio.gather(
        clocks_req, unassigned_req, load_req
    )
    clocks = [h["_source"] for h in clocks_resp["hits"]["hits"]]
    unassigned = [h["_source"] for h in unassigned_resp["hits"]["hits"]]
    items, due = await asyncio.gather(
        _mget(ctx, items_index, sorted({c["item_id"] for c in clocks}), ITEM_FIELDS),
        _mget(
            ctx,
            sla_index,
            [f"{u['id']}:first_response" for u in unassigned],
            ["item_id", "deadline"],
        ),
    )
    for u in unassigned:
        u["text"] = (u.get("text") or "")[:140]
        u["language"] = language_of(u)
        u["first_response_due"] = (due.get(f"{u['id']}:first_response") or {}).get("deadline")
    items = {k: v for k, v in items.items() if _author(v) not in hidden}
    rows = board_rows(clocks, items, now)
    fc = ctx.config.forces.get(force)
    teams = [t.id for t in fc.teams] if fc else []
    load = {
        b["key"]: b["doc_count"]
        for b in (load_resp.get("aggregations") or {}).get("owners", {}).get("buckets", [])
    }
    return {
        "force": force,
        "at": now.isoformat(),
        "at_risk": rows,
        "matrix": matrix(rows, teams),
        "totals": {
            "at_risk": len({r["item_id"] for r in rows if r["state"] == "warning"}),
            "breached": len({r["item_id"] for r in rows if r["state"] == "breached"}),
            "unassigned_p1_p2": unassigned_resp["hits"]["total"]["value"],
        },
        "unassigned": unassigned,
        "operators": operator_rows(ctx.board_feed.operators(force), load),
        "alerts": list(ctx.board_feed.recent.get(force, ())),
    }
