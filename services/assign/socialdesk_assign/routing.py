"""Where an item goes: the force (from the account reached, or from a place the text
names), the team (force rules, else national rules), and, for teams that auto-assign,
which available operator. Plain functions over config and a roster snapshot."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from socialdesk.config import PlatformConfig
from socialdesk.events import Item, OperatorPresence
from socialdesk.taxonomy import Flag, Intent

_WORD = re.compile(r"[a-zA-Z\u00C0-\u017F'\u2019-]+")


@dataclass
class Gazetteer:
    """UK places -> force. Ambiguous names (several forces, or everyday words) never
    route on their own."""

    places: dict[str, str] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)
    max_words: int = 4
    _by_start: dict[str, int] = field(default_factory=dict, repr=False)
    _starts_of: int = field(default=-1, repr=False)

    @classmethod
    def from_csv(cls, places: Path, ambiguous: Path | None = None) -> Gazetteer:
        g = cls()
        with places.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                g.places[row["place"].strip().lower().replace("\u2019", "'")] = row["force"].strip()
        if ambiguous is not None and ambiguous.exists():
            with ambiguous.open(newline="", encoding="utf-8") as f:
                g.ambiguous = {r["place"].strip().lower() for r in csv.DictReader(f)}
        g.max_words = max((len(p.split()) for p in g.places), default=1)
        return g

    def _starts(self) -> dict[str, int]:
        """Each place's first word -> the most words a place starting with it has: most
        words start no place, and are passed over without joining any phrase."""
        if self._starts_of != len(self.places):
            starts: dict[str, int] = {}
            for place in self.places:
                first, *rest = place.split(" ")
                starts[first] = max(starts.get(first, 0), 1 + len(rest))
            self._by_start, self._starts_of = starts, len(self.places)
        return self._by_start

    def find(self, text: str) -> list[tuple[str, str]]:
        """Places named in the text, longest match first, as (place, force)."""
        words = [
            w.lower().replace("\u2019", "'").strip("'-").removesuffix("'s")
            for w in _WORD.findall(text[:5000])
        ]
        starts = self._starts()
        found: list[tuple[str, str]] = []
        i = 0
        while i < len(words):
            longest = starts.get(words[i], 0)
            for n in range(min(longest, len(words) - i), 0, -1):
                name = " ".join(words[i : i + n])
                force = self.places.get(name)
                if force is not None and name not in self.ambiguous:
                    found.append((name, force))
                    i += n
                    break
            else:
                i += 1
        return found


def route_team(config: PlatformConfig, force: str | None, intent: Intent, flags: list[Flag]) -> str:
    """First routing rule (the force's own, else national) whose team the force has."""
    if force is None or force not in config.forces:
        return config.national.duty_queue.team  # no force: the national duty queue
    fc = config.forces[force]
    teams = {t.id for t in fc.teams}
    rules = fc.routing if fc.routing is not None else config.national.routing
    for rule in rules:
        if rule.team not in teams:
            continue
        if (rule.intents and intent in rule.intents) or (
            rule.flags and any(f in rule.flags for f in flags)
        ):
            return rule.team
    return "digital-desk"


@dataclass
class Roster:
    """Who is available (latest presence per operator) and how many open items each has."""

    operators: dict[str, OperatorPresence] = field(default_factory=dict)
    loads: dict[str, int] = field(default_factory=dict)


def choose_operator(
    config: PlatformConfig, item: Item, roster: Roster, exclude: str | None = None
) -> str | None:
    """Least-loaded online operator of the item's team with the skills it needs and room
    under the team's capacity; never an offline or busy one. None: stays in the inbox."""
    fc = config.forces.get(item.force or "")
    if fc is None:
        return None
    team = next((t for t in fc.teams if t.id == item.team), None)
    if team is None or not team.auto_assign:
        return None
    needed = set(team.skills)
    if Flag.welsh_language in item.flags:
        needed.add("welsh")
    best: tuple[int, str] | None = None
    for op in roster.operators.values():
        if op.status != "online" or op.force != item.force or op.operator == exclude:
            continue
        if item.team not in op.teams or not needed <= set(op.skills):
            continue
        load = roster.loads.get(op.operator, 0)
        if load >= (op.capacity or team.capacity_per_operator):
            continue
        if best is None or (load, op.operator) < best:
            best = (load, op.operator)
    return best[1] if best else None


def duty_officers_on_duty(roster: Roster, role: str = "national_duty") -> list[str]:
    """Who works the national duty queue and is signed in (not offline)."""
    return sorted(
        op.operator
        for op in roster.operators.values()
        if op.force is None and op.role == role and op.status != "offline"
    )


def supervisors_on_duty(roster: Roster, force: str | None) -> list[str]:
    if force is None:
        return []  # nobody supervises "no force": the national duty queue has its officers
    return sorted(
        op.operator
        for op in roster.operators.values()
        if op.force == force and op.role in ("supervisor", "force_admin") and op.status != "offline"
    )
