"""Reply templates: a national set in config/templates/replies/ with per-force overrides
in config/templates/replies/<force>/, English and Welsh, listed in index.yaml files.
Rendered in a Jinja2 sandbox with StrictUndefined, so a template can neither reach
Python internals nor silently send a reply with a blank where a crime reference should
be: either problem is a TemplateProblem, which the API answers with a 4xx.

An operator can edit a template before sending, so the source is hostile input: the
console renders it in a separate worker process (render_worker.py) with a time limit,
an output limit and a memory limit, never on its event loop, and every failure of any
kind (a syntax error, 1/0, a huge range or string) is a TemplateProblem naming it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from pydantic import BaseModel, ConfigDict, Field

from socialdesk.config import ForceConfig

# What each platform accepts in one reply (characters). X counts some characters
# double; we count plain characters, which is never more lenient than X for UK text.
PLATFORM_LIMITS = {
    "x": 280,
    "facebook": 8000,
    "instagram": 2200,
    "tiktok": 150,
    "whatsapp": 4096,
    "webchat": 4000,
    "web_form": 4000,
    "other": 2000,
}
MAX_SOURCE = 10_000
# The longest rendered text a preview may produce: far past any platform's limit (the
# longest is Facebook's 8,000), so a real template never meets it.
MAX_OUTPUT = 20_000


class TemplateProblem(Exception):
    """A template that can't be rendered: unknown, bad syntax, undefined or unsafe."""


class ReplyTooLong(Exception):
    def __init__(self, platform: str, length: int, limit: int) -> None:
        super().__init__(
            f"reply is {length} characters; {platform} allows at most {limit}. "
            "Shorten it: nothing was sent."
        )
        self.length = length
        self.limit = limit


def check_length(platform: str, text: str) -> None:
    limit = PLATFORM_LIMITS.get(platform, PLATFORM_LIMITS["other"])
    if len(text) > limit:
        raise ReplyTooLong(platform, len(text), limit)


class TemplateEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    language: str = Field(pattern=r"^(en|cy)$")
    title: str
    file: str = Field(pattern=r"^[A-Za-z0-9._-]+\.j2$")
    needs: list[str] = Field(default_factory=list, description="variables the operator fills")


class TemplateIndex(BaseModel):
    model_config = ConfigDict(extra="forbid")

    links: dict[str, str] = Field(default_factory=dict)
    templates: list[TemplateEntry] = Field(default_factory=list)


class LimitedSandbox(SandboxedEnvironment):
    """The sandbox, with `*` and `**` checked before they run: `{{ 'a' * 10**9 }}` would
    otherwise build a gigabyte before any output limit could see it."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int):
                    if len(seq) * n > MAX_OUTPUT:
                        raise SecurityError(f"result longer than {MAX_OUTPUT} characters")
        return super().call_binop(context, operator, left, right)


def sandbox() -> LimitedSandbox:
    return LimitedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def render_limited(env: SandboxedEnvironment, source: str, variables: dict[str, Any]) -> str:
    """Render, stopping as soon as the output passes MAX_OUTPUT. Any exception at all is
    a TemplateProblem: a template is data, and a broken one is the operator's to fix."""
    if len(source) > MAX_SOURCE:
        raise TemplateProblem(f"template is longer than {MAX_SOURCE} characters")
    try:
        out: list[str] = []
        size = 0
        for chunk in env.from_string(source).generate(**variables):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateProblem(f"template output is longer than {MAX_OUTPUT} characters")
            out.append(chunk)
        return "".join(out).strip()
    except TemplateProblem:
        raise
    except TemplateError as exc:
        raise TemplateProblem(f"template error: {exc}") from exc
    except MemoryError as exc:
        raise TemplateProblem("template error: it needs too much memory") from exc
    except Exception as exc:  # 1/0, range(10**9), int('x'): all the template's doing
        raise TemplateProblem(f"template error: {type(exc).__name__}: {exc}") from exc


@dataclass
class Catalogue:
    """The templates one force sees: national ones, overridden or extended by its own."""

    root: Path
    national: TemplateIndex
    per_force: dict[str, TemplateIndex] = field(default_factory=dict)
    env: SandboxedEnvironment = field(default_factory=sandbox)

    @classmethod
    def load(cls, root: Path) -> Catalogue:
        national = _index(root / "index.yaml")
        per_force = (
            {d.name: _index(d / "index.yaml") for d in sorted(root.iterdir()) if d.is_dir()}
            if root.is_dir()
            else {}
        )
        cat = cls(root, national, per_force)
        for force in [None, *per_force]:
            for entry in cat.entries(force):
                cat.source(force, entry)  # a missing or broken file stops start-up
        return cat

    def entries(self, force: str | None) -> list[TemplateEntry]:
        merged: dict[tuple[str, str], TemplateEntry] = {
            (e.id, e.language): e for e in self.national.templates
        }
        if force in self.per_force:
            for e in self.per_force[force].templates:
                merged[(e.id, e.language)] = e
        return sorted(merged.values(), key=lambda e: (e.id, e.language))

    def find(self, force: str | None, template_id: str, language: str) -> TemplateEntry:
        for e in self.entries(force):
            if e.id == template_id and e.language == language:
                return e
        raise TemplateProblem(f"no template {template_id!r} in language {language!r}")

    def source(self, force: str | None, entry: TemplateEntry) -> str:
        """The force's own file if it has one, else the national file."""
        for path in ([self.root / force / entry.file] if force else []) + [self.root / entry.file]:
            if path.is_file():
                return path.read_text(encoding="utf-8")
        raise TemplateProblem(f"template file {entry.file} is missing")

    def links(self, force: ForceConfig | None) -> dict[str, str]:
        out = dict(self.national.links)
        if force is not None:
            if force.id in self.per_force:
                out |= self.per_force[force.id].links
            if force.website:
                out["website"] = force.website
            if force.single_online_home:
                out["report_online"] = force.single_online_home
        return out

    def render_source(self, source: str, variables: dict[str, Any]) -> str:
        """In this process: for start-up checks and tests. The console's requests go
        through render_worker.TemplateRenderer instead."""
        return render_limited(self.env, source, variables)

    def render(
        self, force: str | None, template_id: str, language: str, variables: dict[str, Any]
    ) -> str:
        entry = self.find(force, template_id, language)
        return self.render_source(self.source(force, entry), variables)


def _index(path: Path) -> TemplateIndex:
    if not path.is_file():
        return TemplateIndex()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return TemplateIndex.model_validate(data)
    except (yaml.YAMLError, ValueError) as exc:
        raise TemplateProblem(f"{path}: {exc}") from exc


def template_variables(
    item: dict[str, Any],
    force: ForceConfig | None,
    links: dict[str, str],
    operator: str,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What a template may use. Operator-supplied values (crime reference) come in
    `extra`; only the names listed here exist, anything else is an undefined error."""
    handle = item.get("author_handle")
    variables: dict[str, Any] = {
        "author": f"@{handle}" if handle else (item.get("author_name") or "there"),
        "author_name": item.get("author_name") or handle or "there",
        "force": force.name if force else "your local police",
        "links": links,
        "operator": operator,
        "item_id": item.get("id"),
        "platform": item.get("platform"),
        "crime_reference": item.get("crime_reference") or "",
    }
    for k, v in (extra or {}).items():
        if k in ("crime_reference", "team_name", "signature") and isinstance(v, str):
            variables[k] = v[:200]
    return variables


def default_language(item: dict[str, Any]) -> str:
    """Contact in Welsh is answered in Welsh (Welsh Language Standards)."""
    if item.get("language") == "cy" or "welsh_language" in (item.get("flags") or []):
        return "cy"
    return "en"
