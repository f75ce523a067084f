"""`socialdesk demo-feed`: an endless, varied demo conversation stream.

Replaying the shipped file in a loop put the same messages into the same items over and
over. Instead every conversation here is new: its opener is one of the shipped demo
messages (every force, Welsh included) or a simulator text (socialdesk_tools.simulate), sent
by a new author in a new thread; now and then that author writes again into one of
their open threads, with a text the thread has not had yet."""

from __future__ import annotations

import json
import random
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from socialdesk_tools.simulate import Profile, Simulator

# Follow-ups anyone might send into their own thread, beside the shipped ones.
FOLLOW_UPS = [
    "any update?",
    "hello?? is anyone reading these",
    "still waiting to hear back",
    "sorry forgot to say, it happened about 10 mins ago",
    "I can send a photo if that helps",
    "it's happening again now",
    "ok thanks, will do",
    "can someone ring me back please",
    "just to add, there were two of them",
    "is this the right place to report this?",
    "thanks for getting back to me",
    "no one's been in touch yet",
]
FOLLOW_UPS_CY = [
    "unrhyw newyddion?",
    "dal i aros i glywed yn ôl",
    "mae'n digwydd eto nawr",
    "allwch chi fy ffonio'n ôl plis",
    "diolch am ddod yn ôl ataf",
    "anghofiais ddweud, roedd dau ohonyn nhw",
]
NAMES = [
    "jo", "dave", "aisha", "kev", "megan", "tom", "priya", "gaz", "sian", "liam", "bex",
    "ffion", "rhys", "nadia", "connor", "chloe", "dylan", "amir", "cerys", "stu",
]  # fmt: skip
MAX_FOLLOW_UPS = 3  # a thread closes after this many, so open threads keep changing
OPEN_THREADS = 40


@dataclass
class Thread:
    opener: dict[str, Any]
    last_id: str
    texts: set[str] = field(default_factory=set)
    follow_ups: int = 0


class DemoFeed:
    """Mentions (the mentions.raw shape) for the demo, one call at a time."""

    def __init__(
        self,
        demo_file: Path,
        seed: int | None = None,
        follow_up: float = 0.2,
        shipped_share: float = 0.5,
        run: str | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.sim = Simulator(
            Profile(incident_at_s=None), seed=self.rng.randrange(2**31), demo_file=demo_file
        )
        # Ids new on every start, seeded or not: ingest drops an id it has seen before.
        self.sim.run = run or f"demo{time.time_ns() // 1_000_000:x}"
        lines = [json.loads(x) for x in demo_file.read_text(encoding="utf-8").splitlines() if x]
        self.openers = [m for m in lines if not m.get("in_reply_to_id")]
        self.follow_texts = [*{m["text"] for m in lines if m.get("in_reply_to_id")}, *FOLLOW_UPS]
        self.follow_up = follow_up
        self.shipped_share = shipped_share
        self.open: deque[Thread] = deque(maxlen=OPEN_THREADS)
        self.n = 0

    def next(self, now: datetime | None = None) -> dict[str, Any]:
        """The next mention: a follow-up into an open thread now and then, else a new
        conversation."""
        self.n += 1
        at = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
        m = None
        if self.open and self.rng.random() < self.follow_up:
            m = self._follow_up()
        if m is None:
            m = self._opener()
        m["posted_at"] = m["received_at"] = at
        return m

    def _opener(self) -> dict[str, Any]:
        sim = self.sim.mention(0.0)
        if self.openers and self.rng.random() < self.shipped_share:
            base = self.rng.choice(self.openers)
            m = {**sim, **{k: base[k] for k in ("channel", "text", "language", "force_account")}}
            m["raw"] = {"source": "demo-feed", "kind": "demo"}
        else:
            m = {**sim, "raw": {"source": "demo-feed", "kind": sim["raw"]["kind"]}}
        m["author"] = self._author()
        m["conversation_id"] = m["native_id"]  # every conversation is a thread of its own
        self.open.append(Thread(m, m["native_id"], {m["text"]}))
        return m

    def _author(self) -> dict[str, str | None]:
        name = self.rng.choice(NAMES)
        number = self.rng.randrange(10, 10_000)
        handle = f"{name}{self.rng.choice(['', '_', '.'])}{number}"
        return {"id": f"demo{self.n}-{number}", "handle": handle, "display_name": name.title()}

    def _follow_up(self) -> dict[str, Any] | None:
        thread = self.rng.choice(self.open)
        first = thread.opener
        welsh = first.get("language") == "cy"  # a Welsh thread is followed up in Welsh
        pool = FOLLOW_UPS_CY if welsh else self.follow_texts
        unused = [t for t in pool if t not in thread.texts]
        if not unused or thread.follow_ups >= MAX_FOLLOW_UPS:
            self.open.remove(thread)
            return None
        text = self.rng.choice(unused)
        thread.texts.add(text)
        thread.follow_ups += 1
        if thread.follow_ups >= MAX_FOLLOW_UPS:
            self.open.remove(thread)
        native = f"{first['native_id']}-f{thread.follow_ups}"
        dm = first["channel"] == "direct_message"
        m = {
            **first,
            "id": f"{first['platform']}:{native}",
            "native_id": native,
            "channel": "direct_message" if dm else "reply",
            "text": text,
            "language": "cy" if welsh else None,
            "in_reply_to_id": thread.last_id,
            "raw": {"source": "demo-feed", "kind": "follow-up"},
        }
        thread.last_id = native
        return m


def load_posts(path: Path) -> list[dict[str, Any]]:
    """The forces' own posts beside the demo mentions (the listening-gap report)."""
    if not path.is_file():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
