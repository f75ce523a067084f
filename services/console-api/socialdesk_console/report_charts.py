"""The report page's charts: each section of a report (reports.py) as an SVG chart with
the same figures as a table (the text alternative, and what a screen reader reads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from socialdesk.subjects import SUBJECTS
from socialdesk_console.charts import Series, bars, duration, hbars, pct
from socialdesk_console.i18n import N_, _, heading
from socialdesk_console.labels import label, subject_label


def _minutes(v: float) -> str:
    return duration(v * 60)


def _share(v: float) -> str:
    """A share of a target: small ones keep a decimal, so 0.4% is not shown as 0%."""
    if v >= 10:
        return f"{v:.0f}%"
    return f"{v:.1f}%" if v >= 0.1 else "<0.1%"


def chart_sections(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each section of the report page: a chart, and the same figures as a table."""
    return [
        *_volume_sections(report),
        *_time_sections(report),
        *_sla_sections(report),
        *_mix_sections(report),
        *_language_sections(report),
        *_listening_sections(report),
    ]


def _volume_sections(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Items and force posts by day, and items by hour of the day."""
    sections: list[dict[str, Any]] = []
    vol = report["volume"]
    days = vol["by_day"]
    every = max(1, len(days) // 15)
    sections.append(
        {
            "id": "volume-day",
            "title": heading("Volume by day"),
            "chart": bars(
                _("Items and force posts by day"),
                [d["day"][5:] for d in days],
                [
                    Series(_("Items from the public"), [d["items"] for d in days], "s1"),
                    Series(_("Force posts"), [d["posts"] for d in days], "s2"),
                ],
                desc=f"{report['items']:,} items over {len(days)} days",
                label_every=every,
            ),
            "head": [heading("Day"), heading("Items"), heading("Force posts")],
            "rows": [[d["day"], d["items"], d["posts"]] for d in days],
        }
    )
    hours = vol["by_hour"]
    sections.append(
        {
            "id": "volume-hour",
            "title": heading("Volume by hour of the day"),
            "chart": bars(
                _("Items by hour of the day (UK time)"),
                [f"{h['hour']:02d}" for h in hours],
                [Series(_("Items"), [h["items"] for h in hours], "s1")],
                label_every=2,
            ),
            "head": [heading("Hour"), heading("Items")],
            "rows": [[f"{h['hour']:02d}:00", h["items"]] for h in hours],
        }
    )
    return sections


DESC = N_("%(grade)s: median %(median)s, 90th percentile %(p90)s, target %(target)s")


def _time_sections(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """First-response and resolution times against their targets, by grade."""
    sections: list[dict[str, Any]] = []
    grades = list(report["response_times"])
    titles = (
        (
            "first_response",
            N_("First response times against targets"),
            N_("First response time by grade as a share of its target (100% = on target)"),
        ),
        (
            "resolution",
            N_("Resolution times against targets"),
            N_("Resolution time by grade as a share of its target (100% = on target)"),
        ),
    )
    for clock, title, chart_title in titles:
        rt = report["response_times"]

        def share(g: str, m: str, rt: Mapping[str, Any] = rt, clock: str = clock) -> float | None:
            v, target = rt[g][clock][m], rt[g][clock]["target_s"]
            return None if v is None or not target else round(100 * v / target, 1)

        sections.append(
            {
                "id": f"{clock}-times",
                "title": heading(title),
                # The histograms are clock time; P3/P4 clocks run in business hours.
                "note": _(
                    "Times are clock time, from the message's arrival. P3 and P4 "
                    "targets count the team's business hours only, so for them "
                    "'within target (clock time)' understates; SLA compliance below is "
                    "the measure of record."
                ),
                "chart": hbars(
                    _(chart_title),
                    grades,
                    [
                        Series(_("Median"), [share(g, "median_s") for g in grades], "s1"),
                        Series(_("90th percentile"), [share(g, "p90_s") for g in grades], "s2"),
                    ],
                    x_fmt=_share,
                    x_max=max(
                        [100.0]
                        + [v for g in grades for m in ("median_s", "p90_s") if (v := share(g, m))]
                    ),
                    desc="; ".join(
                        _(DESC)
                        % {
                            "grade": g,
                            "median": duration(rt[g][clock]["median_s"]),
                            "p90": duration(rt[g][clock]["p90_s"]),
                            "target": duration(rt[g][clock]["target_s"]),
                        }
                        for g in grades
                    ),
                ),
                "head": [
                    heading("Grade"),
                    heading("Items timed"),
                    heading("Median"),
                    heading("90th percentile"),
                    heading("Target"),
                    heading("Within target (clock time)"),
                ],
                "rows": [
                    [
                        g,
                        rt[g][clock]["count"],
                        duration(rt[g][clock]["median_s"]),
                        duration(rt[g][clock]["p90_s"]),
                        duration(rt[g][clock]["target_s"]),
                        rt[g][clock]["within_target"] if rt[g][clock]["target_s"] else _("n/a"),
                    ]
                    for g in grades
                ],
            }
        )
    return sections


def _sla_sections(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The share of SLA clocks met, by grade."""
    sections: list[dict[str, Any]] = []
    grades = list(report["response_times"])
    sla = report["sla_compliance"]
    sections.append(
        {
            "id": "sla",
            "title": heading("SLA compliance by grade"),
            "chart": hbars(
                _("Share of clocks met by grade (per cent)"),
                grades,
                [
                    Series(
                        _("First response"),
                        [sla[g]["first_response"]["compliance_pct"] for g in grades],
                        "s1",
                    ),
                    Series(
                        _("Resolution"),
                        [sla[g]["resolution"]["compliance_pct"] for g in grades],
                        "s2",
                    ),
                ],
                x_fmt=lambda v: f"{v:.0f}%",
                x_max=100,
            ),
            "head": [
                heading("Grade"),
                heading("First response met"),
                heading("breached"),
                "%",
                heading("Resolution met"),
                heading("breached"),
                "%",
            ],
            "rows": [
                [
                    g,
                    sla[g]["first_response"]["met"],
                    sla[g]["first_response"]["breached"],
                    pct(sla[g]["first_response"]["compliance_pct"]),
                    sla[g]["resolution"]["met"],
                    sla[g]["resolution"]["breached"],
                    pct(sla[g]["resolution"]["compliance_pct"]),
                ]
                for g in grades
            ],
        }
    )
    return sections


def _mix_sections(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Intents, risk flags and outcomes."""
    sections: list[dict[str, Any]] = []
    for key, title, column in (
        ("intents", N_("Intent mix"), N_("Intent")),
        ("flags", N_("Risk flags"), N_("Flag")),
        ("outcomes", N_("Outcomes"), N_("Outcome")),
    ):
        mix = report[key]
        labels = list(mix)
        sections.append(
            {
                "id": key,
                "title": heading(title),
                "chart": hbars(
                    _(title),
                    [label(k) for k in labels],
                    [Series(_("Items"), [mix[k] for k in labels], "s1")],
                ),
                "head": [heading(column), heading("Items")],
                "rows": [[label(k), mix[k]] for k in labels],
            }
        )
    return sections


def _language_sections(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Welsh-language contact beside English."""
    sections: list[dict[str, Any]] = []
    langs = report["languages"]
    names = {"en": _("English"), "cy": _("Welsh"), "other": _("Other")}
    sections.append(
        {
            "id": "welsh",
            "title": heading("Welsh-language contact beside English"),
            "chart": hbars(
                _("First response time by language: median and 90th percentile (minutes)"),
                [names[k] for k in langs],
                [
                    Series(
                        _("Median"),
                        [_opt_min(langs[k]["first_response"]["median_s"]) for k in langs],
                        "s1",
                    ),
                    Series(
                        _("90th percentile"),
                        [_opt_min(langs[k]["first_response"]["p90_s"]) for k in langs],
                        "s2",
                    ),
                ],
                x_fmt=_minutes,
            ),
            "head": [
                heading("Language"),
                heading("Items"),
                heading("First response median"),
                heading("90th pct"),
                heading("Resolution median"),
                heading("First response SLA met"),
            ],
            "rows": [
                [
                    names[k],
                    langs[k]["items"],
                    duration(langs[k]["first_response"]["median_s"]),
                    duration(langs[k]["first_response"]["p90_s"]),
                    duration(langs[k]["resolution"]["median_s"]),
                    pct(langs[k]["first_response_sla"]["compliance_pct"]),
                ]
                for k in langs
            ],
        }
    )
    return sections


def _listening_sections(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the public raise beside what the force posts about."""
    sections: list[dict[str, Any]] = []
    lis = report["listening"]
    pub_total = sum(lis["public"].values()) or 0
    post_total = sum(lis["force_posts"].values()) or 0
    subjects = [s for s in SUBJECTS if lis["public"][s] or lis["force_posts"][s]] or list(SUBJECTS)
    pub_pct = [100 * lis["public"][s] / pub_total if pub_total else None for s in subjects]
    post_pct = [100 * lis["force_posts"][s] / post_total if post_total else None for s in subjects]
    gap = lis["gap_score"]
    sections.append(
        {
            "id": "listening",
            "title": heading("Listening gap: what the public raise, what the force posts about"),
            "figure": _("n/a") if gap is None else f"{gap:.0f} / 100",
            "figure_note": (
                _(
                    "0 means the force posts about topics in the same proportions as the "
                    "public raise them; 100 means no overlap at all."
                )
                if gap is not None
                else _("needs both public contact and force posts in the period.")
            ),
            "chart": hbars(
                _("Share of public contact and of force posts by topic (per cent)"),
                [subject_label(s) for s in subjects],
                [
                    Series(_("Public contact"), pub_pct, "s1"),
                    Series(_("Force posts"), post_pct, "s2"),
                ],
                x_fmt=lambda v: f"{v:.0f}%",
                empty_message=_("No contact or posts in this period"),
            ),
            "head": [heading("Topic"), heading("Public contact"), "%", heading("Force posts"), "%"],
            "rows": [
                [subject_label(s), lis["public"][s], pct(a), lis["force_posts"][s], pct(b)]
                for s, a, b in zip(subjects, pub_pct, post_pct, strict=True)
            ],
        }
    )
    return sections


def _opt_min(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60


def national_chart(rows: list[dict[str, Any]]) -> Markup:
    return hbars(
        _("First-response SLA met by force (per cent)"),
        [r["force_name"] for r in rows],
        [Series(_("First response SLA met"), [r["first_response_sla_pct"] for r in rows], "s1")],
        x_fmt=lambda v: f"{v:.0f}%",
        x_max=100,
    )
