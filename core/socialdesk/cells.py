"""Report cells: the contract between the metrics service, which writes them, and the
console, which reads them. Both sides need the same response-time buckets, local days,
index of each kind of cell, document shape and counter names; the figures of a report
are read back from the cells here too, so the reader of a counter sits beside the
description of what it counts (socialdesk_metrics.rollup writes them).

Why cells: a 90-day report over a million items must render in seconds, and noida-db
(the local Elasticsearch) scans every document per query and has no percentiles
aggregation. So each item's facts are folded into cells per force, local day, team and
channel; a cell is a flat map of counters, and response times are counted in fixed
buckets whose edges include every SLA target, so "within target" is exact and medians and
90th percentiles are interpolated within one bucket. The same cells work on real
Elasticsearch; nothing depends on the local stand-in.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialdesk import indices
from socialdesk.subjects import SUBJECTS, gap_score
from socialdesk.taxonomy import Flag, Intent, Outcome, Priority

LOCAL = ZoneInfo("Europe/London")  # days and hours of the day as a UK force counts them

# Upper edges, in seconds, of the response-time buckets; the last bucket is "longer".
# Every default SLA target (15 min, 1 h, 4 h, 24 h, 72 h) is an edge.
BUCKETS_S: tuple[int, ...] = (
    60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 21600,
    28800, 43200, 64800, 86400, 129600, 172800, 259200, 345600, 604800,
)  # fmt: skip
LANGUAGES = ("en", "cy", "other")  # what language_group answers


def bucket_of(seconds: float) -> int:
    return bisect.bisect_left(BUCKETS_S, max(0.0, seconds))


def percentile(hist: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0..1) of a bucketed histogram, interpolated linearly within its
    bucket; the open last bucket answers its lower edge. None when empty."""
    n = sum(hist.values())
    if n <= 0:
        return None
    rank = q * n
    seen = 0.0
    for b in range(len(BUCKETS_S) + 1):
        c = hist.get(b, 0)
        if c <= 0:
            continue
        if seen + c >= rank:
            lo = 0.0 if b == 0 else float(BUCKETS_S[b - 1])
            if b >= len(BUCKETS_S):
                return lo
            hi = float(BUCKETS_S[b])
            return lo + (hi - lo) * max(0.0, rank - seen) / c
        seen += c
    return float(BUCKETS_S[-1])


def within(hist: Mapping[int, int], target_s: float) -> int:
    """How many of the histogram's times are at most target_s (exact when target_s is a
    bucket edge, which every default target is)."""
    edge = bucket_of(target_s)
    return sum(c for b, c in hist.items() if b <= edge)


def local_day_hour(ts: float) -> tuple[str, int]:
    dt = datetime.fromtimestamp(ts, UTC).astimezone(LOCAL)
    return dt.date().isoformat(), dt.hour


def language_group(language: str | None, flags: Iterable[str]) -> str:
    """The report's language group of an item: Welsh, English (or unknown), other."""
    if language == "cy" or "welsh_language" in flags:
        return "cy"
    if language in (None, "", "en", "und"):
        return "en"
    return "other"


# ---- cell documents ----------------------------------------------------------------

CellKey = tuple[str, str, str]  # kind ("items" or "posts"), force, local day
ALL = "*"


def sub_cells(team_channel: str) -> tuple[str, str, str]:
    """The sub-cells one item of team|channel counts in: its team, its channel, and the
    two together, so a report for any of those reads one sub-cell per day and partition
    (a team's report does not add up the team's channels)."""
    team, _, channel = team_channel.partition("|")
    return f"team:{team}", f"channel:{channel}", f"team_channel:{team_channel}"


SUB_KINDS = {"team": "items_team", "channel": "items_channel", "team_channel": "items_tc"}
# The index (socialdesk.indices) each kind of cell lives in: totals and posts together,
# each kind of sub-cell apart, so a report searches only the cells it sums.
INDEX_OF_KIND = {
    "items": indices.ROLLUPS,
    "posts": indices.ROLLUPS,
    "items_team": indices.ROLLUPS_TEAM,
    "items_channel": indices.ROLLUPS_CHANNEL,
    "items_tc": indices.ROLLUPS_TC,
}


def cell_doc_id(key: CellKey, partition: int, sub: str = ALL) -> str:
    return "|".join((*key, *(() if sub == ALL else (sub,)), f"p{partition}"))


def cell_document(
    key: CellKey, partition: int, sub: str, counts: Mapping[str, int]
) -> dict[str, Any]:
    """The document the reports read. A cell's totals (`kind` items or posts) serve a
    report of the whole force; each sub-cell of items is a document of its own (`kind`
    items_team, items_channel or items_tc, with its team and channel), read only by a
    report for that team, channel or both, so no report reads what it does not use."""
    kind, force, day = key
    doc: dict[str, Any] = {
        "cell": cell_doc_id(key, partition, sub),
        "kind": kind,
        "force": force,
        "day": day,
        "partition": partition,
        "n": int(counts.get("n", 0)),
        "counts": dict(counts),
    }
    if sub != ALL:
        by, _, value = sub.partition(":")
        doc["kind"] = SUB_KINDS[by]
        if by == "team":
            doc["team"] = value
        elif by == "channel":
            doc["channel"] = value
        else:
            doc["team"], _, doc["channel"] = value.partition("|")
    return doc


# ---- reports -----------------------------------------------------------------------

MAX_REPORT_DAYS = 400


class PeriodError(ValueError):
    """A report period that makes no sense; the message says why, for the user."""


def parse_period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """Inclusive local days. Default: the last 7 days to today."""
    try:
        end_d = date.fromisoformat(end) if end else today
        start_d = date.fromisoformat(start) if start else end_d - timedelta(days=6)
    except ValueError as exc:
        raise PeriodError(f"dates must be YYYY-MM-DD: {exc}") from None
    if start_d > end_d:
        raise PeriodError(f"the period starts ({start_d}) after it ends ({end_d})")
    if (end_d - start_d).days + 1 > MAX_REPORT_DAYS:
        raise PeriodError(
            f"a report covers at most {MAX_REPORT_DAYS} days; ask for a shorter period"
        )
    if start_d.year < 2000 or end_d > today + timedelta(days=1):
        raise PeriodError("the period must lie between the year 2000 and today")
    return start_d, end_d


def _keyed(counts: Mapping[str, int], prefix: str) -> dict[str, int]:
    found = {k[len(prefix) :]: v for k, v in counts.items() if k.startswith(prefix) and v}
    return dict(sorted(found.items(), key=lambda kv: -kv[1]))


def _hist(counts: Mapping[str, int], prefix: str) -> dict[int, int]:
    out: dict[int, int] = {}
    plen = len(prefix)
    for k, v in counts.items():
        if k.startswith(prefix) and k[plen:].isdigit():
            out[int(k[plen:])] = out.get(int(k[plen:]), 0) + v
    return out


def _times(counts: Mapping[str, int], prefix: str, target_s: float | None) -> dict[str, Any]:
    hist = _hist(counts, prefix)
    n = sum(hist.values())
    med, p90 = percentile(hist, 0.5), percentile(hist, 0.9)
    return {
        "count": n,
        "median_s": round(med, 1) if med is not None else None,
        "p90_s": round(p90, 1) if p90 is not None else None,
        "target_s": target_s,
        "within_target": within(hist, target_s) if target_s is not None else None,
    }


def _compliance(counts: Mapping[str, int], prefix: str) -> dict[str, Any]:
    met, breached = counts.get(f"{prefix}_met", 0), counts.get(f"{prefix}_breached", 0)
    total = met + breached
    return {
        "met": met,
        "breached": breached,
        "compliance_pct": round(100 * met / total, 1) if total else None,
    }


def build_report(
    item_docs: Iterable[Mapping[str, Any]],
    post_docs: Iterable[Mapping[str, Any]],
    start: date,
    end: date,
    targets: Mapping[str, Mapping[str, float | None]],
) -> dict[str, Any]:
    """Every figure of the report from the cells of the period. `targets` is
    {grade: {"first_response": s, "resolution": s}}."""
    total: Counter[str] = Counter()
    by_day: dict[str, int] = {}
    for doc in item_docs:
        counts = doc["counts"]
        total.update(counts)
        by_day[doc["day"]] = by_day.get(doc["day"], 0) + int(counts.get("n", 0))
    posts: Counter[str] = Counter()
    posts_by_day: dict[str, int] = {}
    for doc in post_docs:
        posts.update(doc["counts"])
        posts_by_day[doc["day"]] = posts_by_day.get(doc["day"], 0) + int(doc["counts"].get("n", 0))
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    grades = [p.value for p in Priority]
    public_subjects = {s: total.get(f"s:{s}", 0) for s in SUBJECTS}
    force_subjects = {s: posts.get(f"s:{s}", 0) for s in SUBJECTS}
    n = int(total.get("n", 0))
    fr_all: Counter[str] = Counter()
    for k, v in total.items():
        head, _, b = k.rpartition(":")
        if head.endswith(":fr") and k.startswith("p:") and b.isdigit():
            fr_all[f"fr:{b}"] += v
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat(), "days": len(days)},
        "items": n,
        "volume": {
            "by_day": [
                {"day": d, "items": by_day.get(d, 0), "posts": posts_by_day.get(d, 0)} for d in days
            ],
            "by_hour": [{"hour": h, "items": total.get(f"h:{h}", 0)} for h in range(24)],
            "by_team": _keyed(total, "t:"),
            "by_channel": _keyed(total, "c:"),
            "by_platform": _keyed(total, "pl:"),
        },
        "response_times": {
            g: {
                "items": total.get(f"p:{g}", 0),
                "first_response": _times(
                    total, f"p:{g}:fr:", (targets.get(g) or {}).get("first_response")
                ),
                "resolution": _times(
                    total, f"p:{g}:res:", (targets.get(g) or {}).get("resolution")
                ),
            }
            for g in grades
        },
        "first_response_all": _times(fr_all, "fr:", None),
        "sla_compliance": {
            g: {
                "first_response": _compliance(total, f"p:{g}:fr"),
                "resolution": _compliance(total, f"p:{g}:res"),
            }
            for g in grades
        },
        "intents": {i.value: total.get(f"i:{i.value}", 0) for i in Intent},
        "flags": {f.value: total.get(f"f:{f.value}", 0) for f in Flag},
        "outcomes": {o.value: total.get(f"o:{o.value}", 0) for o in Outcome},
        "languages": {
            lang: {
                "items": total.get(f"l:{lang}", 0),
                "first_response": _times(total, f"l:{lang}:fr:", None),
                "resolution": _times(total, f"l:{lang}:res:", None),
                "first_response_sla": _compliance(total, f"l:{lang}:fr"),
            }
            for lang in LANGUAGES
        },
        "repeat_contacts": {
            "items": total.get("repeat", 0),
            "pct": round(100 * total.get("repeat", 0) / n, 1) if n else None,
        },
        "listening": {
            "public": public_subjects,
            "force_posts": force_subjects,
            "posts": sum(force_subjects.values()),  # broadcasts, whose subjects are compared
            "outbound": int(posts.get("n", 0)),  # everything the force sent, replies too
            "outbound_by_kind": _keyed(posts, "k:"),
            "gap_score": gap_score(public_subjects, force_subjects),
        },
    }


NATIONAL_COLUMNS = (
    "force",
    "items",
    "posts",
    "p1_items",
    "first_response_median_s",
    "first_response_p90_s",
    "first_response_sla_pct",
    "resolution_sla_pct",
    "welsh_items",
    "welsh_first_response_median_s",
    "repeat_pct",
    "advised_999",
    "crime_recorded",
    "listening_gap",
)


def national_row(force: str, report: Mapping[str, Any]) -> dict[str, Any]:
    """One force's common metrics, the same columns for every force."""
    met = breached = res_met = res_breached = 0
    for g in report["sla_compliance"].values():
        met += g["first_response"]["met"]
        breached += g["first_response"]["breached"]
        res_met += g["resolution"]["met"]
        res_breached += g["resolution"]["breached"]
    langs = report["languages"]
    all_fr = report["first_response_all"]
    return {
        "force": force,
        "items": report["items"],
        "posts": report["listening"]["posts"],
        "p1_items": report["response_times"]["P1"]["items"],
        "first_response_median_s": all_fr.get("median_s"),
        "first_response_p90_s": all_fr.get("p90_s"),
        "first_response_sla_pct": round(100 * met / (met + breached), 1)
        if met + breached
        else None,
        "resolution_sla_pct": round(100 * res_met / (res_met + res_breached), 1)
        if res_met + res_breached
        else None,
        "welsh_items": langs["cy"]["items"],
        "welsh_first_response_median_s": langs["cy"]["first_response"]["median_s"],
        "repeat_pct": report["repeat_contacts"]["pct"],
        "advised_999": report["outcomes"]["advised_999"],
        "crime_recorded": report["outcomes"]["crime_recorded"],
        "listening_gap": report["listening"]["gap_score"],
    }
