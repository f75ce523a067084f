"""What followed a force's posts, per objective (no I/O): for each post published in the
period, the public's mentions in the threads the post started, and contact on the post's
subject in the 7 days before against the 7 days from its publication (the report cells'
`s:<subject>` counts, socialdesk.subjects; a day's contact counted once however many posts
of the objective it follows), beside the period's listening gap."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialdesk.events import item_key_for_thread
from socialdesk.publishing import Objective, Post, PostStatus
from socialdesk.subjects import subject_of_text

LONDON = ZoneInfo("Europe/London")
WINDOW_DAYS = 7
PUBLISHED = frozenset({PostStatus.published, PostStatus.partly_published, PostStatus.by_hand})


@dataclass
class ObjectiveImpact:
    """One objective's posts in the period and what followed them."""

    objective: str
    posts: int = 0
    thread_mentions: int = 0
    contact_before: int = 0
    contact_after: int = 0
    subjects: dict[str, int] = field(default_factory=dict)

    @property
    def change_pct(self) -> float | None:
        """Contact on the posts' subjects after against before (None: none before)."""
        if self.contact_before <= 0:
            return None
        return round(100 * (self.contact_after - self.contact_before) / self.contact_before, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "posts": self.posts,
            "thread_mentions": self.thread_mentions,
            "contact_before": self.contact_before,
            "contact_after": self.contact_after,
            "change_pct": self.change_pct,
            "subjects": dict(sorted(self.subjects.items())),
        }


def published_on(post: Post) -> date:
    """The UK day a post went out: its first delivery, else its last change."""
    times = [
        d.at
        for d in post.deliveries
        if d.at is not None and d.status in ("delivered", "posted_by_hand")
    ]
    at: datetime = min(times) if times else post.updated_at
    return at.astimezone(LONDON).date()


def subject_of(post: Post) -> str:
    """The subject of what the post says (its longest English text)."""
    texts = sorted(post.draft.text.values(), key=len, reverse=True)
    return subject_of_text(texts[0] if texts else "")


def thread_item_ids(post: Post) -> list[str]:
    """The items the public's replies to this post would be in: one thread per account it
    went out from (the item key of `<platform>:thread:<the post's platform id>`)."""
    return [
        item_key_for_thread(f"{d.account.platform.value}:thread:{d.platform_id}")
        for d in post.deliveries
        if d.platform_id
    ]


def subject_by_day(cells: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str], int]:
    """(force, day, subject) -> items, from the item cells (report cells of kind items)."""
    out: dict[tuple[str, str, str], int] = {}
    for c in cells:
        if c.get("kind") != "items":
            continue
        day = str(c.get("day", ""))[:10]
        for k, v in (c.get("counts") or {}).items():
            if k.startswith("s:"):
                key = (str(c.get("force")), day, k[2:])
                out[key] = out.get(key, 0) + int(v)
    return out


def window_days(day: date) -> tuple[list[str], list[str]]:
    """The WINDOW_DAYS before the day, and the WINDOW_DAYS from it, as ISO days."""
    before = [(day - timedelta(days=i)).isoformat() for i in range(1, WINDOW_DAYS + 1)]
    after = [(day + timedelta(days=i)).isoformat() for i in range(WINDOW_DAYS)]
    return before, after


def impact_by_objective(
    posts: Iterable[Post],
    cells: Iterable[Mapping[str, Any]],
    thread_mentions: Mapping[str, int],
    start: date,
    end: date,
) -> list[ObjectiveImpact]:
    """Every objective (in the national list's order), with the published posts of the
    period. `thread_mentions` is item id -> mentions in it (the items of the posts'
    threads that exist)."""
    by_day = subject_by_day(cells)
    out = {o.value: ObjectiveImpact(o.value) for o in Objective}
    # Each (force, day, subject) counted once per objective and side, however many of
    # its posts share that subject and week.
    seen: dict[str, tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]] = {
        o.value: (set(), set()) for o in Objective
    }
    for post in posts:
        if post.status not in PUBLISHED:
            continue
        day = published_on(post)
        if not start <= day <= end:
            continue
        row = out[post.draft.objective.value]
        row.posts += 1
        row.thread_mentions += sum(thread_mentions.get(i, 0) for i in thread_item_ids(post))
        subject = subject_of(post)
        row.subjects[subject] = row.subjects.get(subject, 0) + 1
        before, after = window_days(day)
        seen_before, seen_after = seen[row.objective]
        seen_before.update((post.force, d, subject) for d in before)
        seen_after.update((post.force, d, subject) for d in after)
    for objective, (seen_before, seen_after) in seen.items():
        out[objective].contact_before = sum(by_day.get(k, 0) for k in seen_before)
        out[objective].contact_after = sum(by_day.get(k, 0) for k in seen_after)
    return list(out.values())


def per_force(posts: Iterable[Post], start: date, end: date) -> dict[str, dict[str, int]]:
    """Published posts per force and objective (the national view's table)."""
    out: dict[str, dict[str, int]] = {}
    for post in posts:
        if post.status in PUBLISHED and start <= published_on(post) <= end:
            row = out.setdefault(post.force, {o.value: 0 for o in Objective})
            row[post.draft.objective.value] += 1
    return dict(sorted(out.items()))


def per_campaign(
    posts: Iterable[Post], thread_mentions: Mapping[str, int], start: date, end: date
) -> dict[str, dict[str, int]]:
    """Per library campaign adopted (the draft's campaign_id): its posts published in the
    period, the forces that posted them, and the public's mentions in their threads, so a
    campaign's own record here sits beside what the library says it achieved elsewhere."""
    rows: dict[str, dict[str, int]] = {}
    forces: dict[str, set[str]] = {}
    for post in posts:
        cid = post.draft.campaign_id
        if not cid or post.status not in PUBLISHED or not start <= published_on(post) <= end:
            continue
        row = rows.setdefault(cid, {"posts": 0, "forces": 0, "thread_mentions": 0})
        row["posts"] += 1
        row["thread_mentions"] += sum(thread_mentions.get(i, 0) for i in thread_item_ids(post))
        forces.setdefault(cid, set()).add(post.force)
        row["forces"] = len(forces[cid])
    return dict(sorted(rows.items()))
