"""Follows items.events for the console: one consumer per console process reads the
newest events of every partition (no group: each console instance sees everything). It
resolves requests waiting for the outcome of a command they sent (assign answers every
command with an event or a rejection carrying the command id), and feeds the live
inbox streams (server-sent events), each filtered to its user's force."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from socialdesk.events import ItemEventType
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import ITEMS_EVENTS, POSTS_EVENTS
from socialdesk_console.sse import TopicFollower, offer

log = logging.getLogger(__name__)
NATIONAL_QUEUE = ""  # a stream's scope for the items of no force


class CommandAnswers(TopicFollower):
    """A topic whose events answer commands by id: resolves the request waiting for its
    command's outcome, and keeps the last `keep` answers for one that asks late."""

    def __init__(self, settings: BaseServiceSettings, keep: int) -> None:
        super().__init__(settings)
        self.keep = keep
        self.recent: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def seen(self, ev: dict[str, Any]) -> None:
        command_id = ev.get("command_id")
        if not command_id:
            return
        self.recent[command_id] = ev
        while len(self.recent) > self.keep:
            self.recent.popitem(last=False)
        fut = self.waiters.pop(command_id, None)
        if fut is not None and not fut.done():
            fut.set_result(ev)

    def expect(self, command_id: str) -> asyncio.Future[dict[str, Any]]:
        """Register interest before sending, so a fast answer is never missed."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if command_id in self.recent:
            fut.set_result(self.recent[command_id])
        else:
            self.waiters[command_id] = fut
        return fut

    def forget(self, command_id: str) -> None:
        self.waiters.pop(command_id, None)


class PostOutcomes(CommandAnswers):
    """posts.events in this process: outbound answers every post command with an event
    carrying its id."""

    topic = POSTS_EVENTS

    def __init__(self, settings: BaseServiceSettings, keep: int = 2_000) -> None:
        super().__init__(settings, keep)


class OutcomeWatcher(CommandAnswers):
    """items.events in this process: command outcomes, the live inbox streams, viewers."""

    topic = ITEMS_EVENTS

    def __init__(self, settings: BaseServiceSettings, keep: int = 10_000) -> None:
        super().__init__(settings, keep)
        self.streams: dict[asyncio.Queue[dict[str, Any]], str | None] = {}
        # Who has which item open right now (this process's streams): collision warnings.
        self.watching: dict[asyncio.Queue[dict[str, Any]], tuple[str, str, str]] = {}

    def subscribe(
        self,
        force: str | None,
        national: bool,
        viewer: tuple[str, str, str] | None = None,
        duty: bool = False,
    ) -> asyncio.Queue[dict[str, Any]]:
        """A queue of item changes for one live inbox: the user's force, every force, or
        (`duty`) the national duty queue. With `viewer` (item id, username, display name)
        the stream also counts as that user having the item open."""
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self.streams[q] = None if national else NATIONAL_QUEUE if duty else (force or "__none__")
        if viewer is not None:
            self.watching[q] = viewer
            self._announce(viewer[0])
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self.streams.pop(q, None)
        viewer = self.watching.pop(q, None)
        if viewer is not None:
            self._announce(viewer[0])

    def viewers(self, item_id: str) -> list[dict[str, str]]:
        seen: dict[str, str] = {}
        for it, username, name in self.watching.values():
            if it == item_id:
                seen[username] = name
        return [{"username": u, "display_name": n} for u, n in sorted(seen.items())]

    def _announce(self, item_id: str) -> None:
        msg = {"kind": "viewers", "item_id": item_id, "viewers": self.viewers(item_id)}
        for q, (it, _, _) in list(self.watching.items()):
            if it == item_id:
                offer(q, msg)

    def _publish(self, ev: dict[str, Any]) -> None:
        item = ev.get("item")
        if not item or ev.get("type") == ItemEventType.rejected:
            return
        summary = {
            "kind": "item",
            "item_id": ev.get("item_id"),
            "type": ev.get("type"),
            "seq": ev.get("seq"),
            "priority": item.get("priority"),
            "force": item.get("force"),
            "team": item.get("team"),
            "status": item.get("status"),
            "owner": item.get("owner"),
            "actor": (ev.get("actor") or {}).get("id"),
        }
        data = ev.get("data") or {}
        if ev.get("type") == "routed":  # who assign alerts: the page raises the banner
            summary["queue"] = data.get("queue")
            summary["notify"] = [
                *(data.get("notify_supervisors") or []),
                *(data.get("notify_duty_officers") or []),
            ]
        elif data.get("regraded_to"):  # a follow-up or a merge that escalated the item
            summary["regraded_to"] = data["regraded_to"]
        for q, force in list(self.streams.items()):
            if force is not None and (item.get("force") or NATIONAL_QUEUE) != force:
                continue
            offer(q, summary)

    def seen(self, ev: dict[str, Any]) -> None:
        if self.streams:
            self._publish(ev)
        super().seen(ev)
