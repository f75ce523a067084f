"""Charts drawn on the server as SVG: no script, no library to load, works offline and
under the console's content security policy. Each chart carries a <title> and <desc>
(screen readers announce them) and the page shows the same figures as a table beside
it. An empty period draws empty axes with a message, never an error."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from socialdesk_console.i18n import N_, _

NO_DATA = N_("No data for this period")

_ids = itertools.count(1)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str = "s1"


def _nice_max(v: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above v: the axis top."""
    if not math.isfinite(v) or v <= 0:
        return 1.0
    mag = 10.0 ** math.floor(math.log10(v))
    for step in (1, 2, 2.5, 5, 10):
        if v <= step * mag * (1 + 1e-12):
            return step * mag
    return 10 * mag


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _opening(title: str, desc: str, width: int, height: int) -> list[str]:
    """The <svg> element with its accessible name (<title>) and description (<desc>)."""
    uid = next(_ids)
    return [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" aria-labelledby="ct{uid} cd{uid}">',
        f'<title id="ct{uid}">{escape(title)}</title>',
        f'<desc id="cd{uid}">{escape(desc or title)}</desc>',
    ]


def _legend(series: Sequence[Series], left: int, height: int) -> list[str]:
    parts = []
    for si, s in enumerate(series):
        lx = left + si * 170
        parts.append(
            f'<rect class="{escape(s.css)}" x="{lx}" y="{height - 16}" width="12" height="12"/>'
        )
        parts.append(f'<text class="legend" x="{lx + 16}" y="{height - 6}">{escape(s.name)}</text>')
    return parts


def _closing(parts: list[str], empty_message: str | None, x: float, y: float) -> Markup:
    """The message of an empty chart, centred, and the end of the element."""
    if empty_message is not None:
        empty_message = _(empty_message)
        parts.append(
            f'<text class="empty" x="{x:.1f}" y="{y:.1f}" '
            f'text-anchor="middle">{escape(empty_message)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated value is escaped above


def _fmt_num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.1f}"


def bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    desc: str = "",
    y_fmt: Callable[[float], str] = _fmt_num,
    y_max: float | None = None,
    width: int = 760,
    height: int = 260,
    label_every: int = 1,
    empty_message: str = NO_DATA,
) -> Markup:
    """Grouped vertical bars, one group per label and one bar per series."""
    left, right, top, bottom = 56, 12, 16, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    empty = not values or max(values) <= 0
    top_v = y_max if y_max is not None and y_max > 0 else _nice_max(max(values) if values else 0)
    parts = _opening(title, desc, width, height)
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(y_fmt(top_v * i / 4))}</text>"
        )
    n = max(1, len(labels))
    group_w = plot_w / n
    bar_w = max(1.0, group_w * 0.8 / max(1, len(series)))
    for gi, label in enumerate(labels):
        gx = left + gi * group_w + group_w * 0.1
        for si, s in enumerate(series):
            v = _finite(s.values[gi]) if gi < len(s.values) else None
            if v is None or v <= 0:
                continue
            h = plot_h * min(v, top_v) / top_v
            x = gx + si * bar_w
            parts.append(
                f'<rect class="{escape(s.css)}" x="{x:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{max(bar_w - 1, 0.8):.1f}" height="{h:.1f}">'
                f"<title>{escape(label)}: {escape(s.name)} {escape(y_fmt(v))}</title></rect>"
            )
        if gi % max(1, label_every) == 0:
            parts.append(
                f'<text class="axis" x="{left + gi * group_w + group_w / 2:.1f}" '
                f'y="{top + plot_h + 16}" text-anchor="middle">{escape(label)}</text>'
            )
    parts += _legend(series, left, height)
    return _closing(parts, empty_message if empty else None, left + plot_w / 2, top + plot_h / 2)


def hbars(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    desc: str = "",
    x_fmt: Callable[[float], str] = _fmt_num,
    x_max: float | None = None,
    width: int = 760,
    row_h: int = 22,
    empty_message: str = NO_DATA,
) -> Markup:
    """Horizontal bars, one row per label (long category names stay readable)."""
    left, right, top = 230, 60, 8
    rows = max(1, len(labels))
    height = top + rows * row_h + 28
    plot_w = width - left - right
    values = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    empty = not values or max(values) <= 0
    top_v = x_max if x_max is not None and x_max > 0 else _nice_max(max(values) if values else 0)
    parts = _opening(title, desc, width, height)
    bar_h = (row_h - 4) / max(1, len(series))
    for ri, label in enumerate(labels):
        y0 = top + ri * row_h
        parts.append(
            f'<text class="axis" x="{left - 6}" y="{y0 + row_h / 2 + 4:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        for si, s in enumerate(series):
            v = _finite(s.values[ri]) if ri < len(s.values) else None
            if v is None:
                continue
            w = plot_w * min(max(v, 0), top_v) / top_v
            y = y0 + 2 + si * bar_h
            parts.append(
                f'<rect class="{escape(s.css)}" x="{left}" y="{y:.1f}" width="{w:.1f}" '
                f'height="{max(bar_h - 1, 1):.1f}"><title>{escape(label)}: {escape(s.name)} '
                f"{escape(x_fmt(v))}</title></rect>"
            )
            if v > 0:
                parts.append(
                    f'<text class="value" x="{left + w + 4:.1f}" y="{y + bar_h - 3:.1f}">'
                    f"{escape(x_fmt(v))}</text>"
                )
    parts += _legend(series, left, height)
    return _closing(
        parts, empty_message if empty else None, left + plot_w / 2, top + rows * row_h / 2
    )


def duration(seconds: float | None) -> str:
    """Seconds as an operator reads them: 45s, 12m, 3.5h, 2.0d; 'n/a' for none."""
    if seconds is None:
        return _("n/a")
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def pct(v: float | None) -> str:
    return _("n/a") if v is None else f"{v:.0f}%"
