"""docs/accessibility.md as the console's /accessibility page: a small Markdown reader for
what the statement uses (headings, paragraphs, lists, tables, links, code, bold), so the
page and the published document can never differ."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from markupsafe import Markup, escape

# From a checkout (docs/ beside services/), or the image's /app/docs (the Dockerfile).
CANDIDATES = (
    Path(__file__).resolve().parents[3] / "docs" / "accessibility.md",
    Path.cwd() / "docs" / "accessibility.md",
)
INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)")


def inline(text: str) -> str:
    """Code, bold and links within a line of text; everything else escaped."""
    out, at = [], 0
    for m in INLINE.finditer(text):
        out.append(str(escape(text[at : m.start()])))
        code, bold, label, href = m.groups()
        if code is not None:
            out.append(f"<code>{escape(code)}</code>")
        elif bold is not None:
            out.append(f"<strong>{escape(bold)}</strong>")
        elif href.startswith(("https://", "mailto:", "/")):
            out.append(f'<a href="{escape(href)}">{escape(label)}</a>')
        else:
            out.append(str(escape(label)))
        at = m.end()
    out.append(str(escape(text[at:])))
    return "".join(out)


def _table(rows: list[str]) -> str:
    cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
    head, body = cells[0], [r for r in cells[1:] if not all(set(c) <= set("-: ") for c in r)]
    th = "".join(f'<th scope="col">{inline(c)}</th>' for c in head)
    trs = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in body)
    return f'<table class="data"><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>'


def render(markdown: str) -> str:
    """Blocks separated by blank lines: a heading, code, a list, a table or a paragraph."""
    html: list[str] = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        lines = block.splitlines()
        first = lines[0]
        if m := re.match(r"^(#{1,6})\s+(.*)$", first):
            html.append(f"<h{len(m[1])}>{inline(m[2])}</h{len(m[1])}>")
            lines = lines[1:]
            if not lines:
                continue
            first = lines[0]
        if first.startswith("```"):
            code = "\n".join(x for x in lines[1:] if not x.startswith("```"))
            html.append(f"<pre><code>{escape(code)}</code></pre>")
        elif first.lstrip().startswith("|"):
            html.append(_table(lines))
        elif re.match(r"^\s*(- |\d+\. )", first):
            tag = "ol" if re.match(r"^\s*\d+\. ", first) else "ul"
            items: list[str] = []
            for line in lines:
                if re.match(r"^\s*(- |\d+\. )", line):
                    items.append(re.sub(r"^\s*(- |\d+\. )", "", line))
                else:
                    items[-1] += " " + line.strip()
            html.append(f"<{tag}>" + "".join(f"<li>{inline(i)}</li>" for i in items) + f"</{tag}>")
        else:
            html.append(f"<p>{inline(' '.join(x.strip() for x in lines))}</p>")
    return "\n".join(html)


@cache
def statement_html() -> Markup:
    for path in CANDIDATES:
        if path.is_file():
            return Markup(render(path.read_text(encoding="utf-8")))  # noqa: S704 - escaped above
    return Markup("<p>The accessibility statement is in docs/accessibility.md.</p>")
