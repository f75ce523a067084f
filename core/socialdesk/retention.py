"""Retention by data class (config/national/retention.yaml, docs/data-protection.md): how
long each kind of data is kept for a force, and what is due for deletion at `now`.

Pure functions over dates: the clock is a parameter, so a test moves it and the sweeper
(socialdesk_indexer.sweeper) passes the real one. No Elasticsearch or Kafka here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from socialdesk.config import PlatformConfig

DAY_MS = 24 * 3600 * 1000
SWEEP_ACTION = "retention.swept"  # the audit action of a sweep
NO_FORCE = "national"  # the key, in a sweep's record, of the records of no force


class DataClass(StrEnum):
    """The kinds of data kept, each with its own period and reason."""

    raw_mentions = "raw_mentions"
    items = "items"
    attachments = "attachments"
    author_history = "author_history"
    audit = "audit"
    reports_rollups = "reports_rollups"
    posts = "posts"


class Enforcer(StrEnum):
    """What deletes a data class once its period is over."""

    kafka = "kafka"  # the topic's retention.ms
    sweeper = "sweeper"  # the indexer's delete-by-query, per force
    index_age = "index_age"  # whole daily indices dropped by their day
    object_store = "object_store"  # bucket expiry (attachments, when they land)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetentionOverride(_Strict):
    """A force's own period for one data class, with its reason (docs/data-protection.md)."""

    days: int = Field(gt=0, le=36500)
    reason: str = Field(min_length=10, description="why this force keeps it this long")


class RetentionRule(_Strict):
    """The national period of one data class, the longest a force may set, and why."""

    days: int = Field(gt=0, le=36500)
    maximum_days: int = Field(gt=0, le=36500)
    enforced_by: Enforcer
    per_force: bool = Field(True, description="false: shared by all forces, set nationally")
    reason: str = Field(min_length=10)

    @model_validator(mode="after")
    def _within_maximum(self) -> RetentionRule:
        if self.days > self.maximum_days:
            raise ValueError(f"days: {self.days} is longer than maximum_days {self.maximum_days}")
        return self


class RetentionPolicy(_Strict):
    """config/national/retention.yaml: every data class, each with its reason."""

    force_may_lengthen: bool = False
    sweep_interval_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    classes: dict[DataClass, RetentionRule]

    @model_validator(mode="after")
    def _complete(self) -> RetentionPolicy:
        missing = [dc.value for dc in DataClass if dc not in self.classes]
        if missing:
            raise ValueError(f"classes: missing {', '.join(missing)}")
        audit = self.classes[DataClass.audit].days
        longer = [dc.value for dc, r in self.classes.items() if r.days > audit]
        if longer:
            raise ValueError(
                f"classes.audit.days: the audit trail is kept longest ({', '.join(longer)} "
                "is kept longer)"
            )
        return self

    def override_problem(self, data_class: DataClass, days: int) -> str | None:
        """Why a force may not set this period, or None if it may."""
        rule = self.classes[data_class]
        if not rule.per_force:
            return "set nationally only (shared by all forces)"
        if days > rule.days and not self.force_may_lengthen:
            return f"a force may shorten the national {rule.days} days, not lengthen it"
        if days > rule.maximum_days:
            return f"{days} days is longer than the national maximum ({rule.maximum_days})"
        return None


class Source(StrEnum):
    national = "national"
    force = "force"


@dataclass(frozen=True)
class Period:
    """One data class's period as it holds for one force."""

    data_class: DataClass
    days: int
    reason: str
    enforced_by: Enforcer
    source: Source


def periods_for(config: PlatformConfig, force: str | None) -> dict[DataClass, Period]:
    """Every data class's period for a force: the national one, or the force's override
    (config.py has already checked it is allowed). None: the national periods."""
    policy = config.retention
    if policy is None:
        raise ValueError("no retention policy loaded (config/national/retention.yaml)")
    fc = config.forces.get(force) if force else None
    out: dict[DataClass, Period] = {}
    for dc in DataClass:
        rule = policy.classes[dc]
        over = fc.retention.get(dc) if fc is not None else None
        if over is not None:
            out[dc] = Period(dc, over.days, over.reason, rule.enforced_by, Source.force)
        else:
            out[dc] = Period(dc, rule.days, rule.reason, rule.enforced_by, Source.national)
    return out


def cutoff(now: datetime, days: int) -> datetime:
    """Data last changed before this instant is past a `days` period at `now`."""
    return now - timedelta(days=days)


def is_due(
    period: Period, last_changed: datetime, now: datetime, *, open_item: bool = False
) -> bool:
    """Whether one record is past its period: an open item never is (its period starts
    when it closes)."""
    if open_item:
        return False
    return last_changed < cutoff(now, period.days)


@dataclass(frozen=True)
class SweepTarget:
    """One force's (or, force None, the records of no force) data class to sweep."""

    force: str | None
    data_class: DataClass
    before: datetime


SWEPT_CLASSES = (DataClass.items, DataClass.audit, DataClass.reports_rollups, DataClass.posts)


def sweep_targets(config: PlatformConfig, now: datetime) -> list[SweepTarget]:
    """What the sweeper deletes at `now`: per force (and for records of no force, the
    national period), each class the sweeper enforces, with its cut-off."""
    out = []
    for force in [*sorted(config.forces), None]:
        periods = periods_for(config, force)
        for dc in SWEPT_CLASSES:
            out.append(SweepTarget(force, dc, cutoff(now, periods[dc].days)))
    return out


def sweep_due(last: datetime | None, now: datetime, interval_minutes: int) -> bool:
    """Whether a sweep is due: never run, or the interval has passed (a clock moved back
    counts as due, so a wrong clock cannot stop retention)."""
    if last is None or now < last:
        return True
    return now - last >= timedelta(minutes=interval_minutes)


@dataclass
class SweepReport:
    """What one sweep deleted for one force, by data class: the audit record's details."""

    force: str | None
    at: datetime
    deleted: dict[DataClass, int] = field(default_factory=dict)

    def add(self, data_class: DataClass, n: int) -> None:
        self.deleted[data_class] = self.deleted.get(data_class, 0) + n

    def details(self) -> dict[str, object]:
        return {"deleted": {dc.value: n for dc, n in self.deleted.items()}}


def kafka_retention_ms(days: int) -> str:
    """A period as a topic's retention.ms (a string, as topic configs are)."""
    return str(days * DAY_MS)


SWEEPERS = ("indexer", "media")  # the services that write a retention.swept record


def swept_counts(records: list[Mapping[str, Any]], force: str | None) -> dict[str, int]:
    """One force's counts from each sweeper's newest record (the indexer's classes and
    media's attachments): one record alone would blank the other's classes."""
    out: dict[str, int] = {}
    for record in records:
        out.update(last_sweep_counts(record.get("details") or {}, force))
    return out


def last_sweep_counts(details: Mapping[str, Any], force: str | None) -> dict[str, int]:
    """One force's counts in a sweep's audit record, with the author-day indices (shared
    by all forces) from its totals; an old or odd record gives what it can."""
    out: dict[str, int] = {}
    totals = details.get("totals")
    if isinstance(totals, Mapping) and isinstance(totals.get(DataClass.author_history), int):
        out[DataClass.author_history.value] = totals[DataClass.author_history]
    deleted = details.get("deleted")
    mine = deleted.get(force or NO_FORCE) if isinstance(deleted, Mapping) else None
    if isinstance(mine, Mapping):
        out.update({str(k): v for k, v in mine.items() if isinstance(v, int)})
    return out
