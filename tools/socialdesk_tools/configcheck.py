"""`socialdesk config-check`: every file in config/, each problem as one line naming the
file and the field.

The OIDC claim mapping and the reply templates are read with the console's own models,
and each template is trial-rendered in a Jinja2 sandbox with every variable the console
gives it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from socialdesk.config import (
    ConfigError,
    PlatformConfig,
    _load_yaml,
    _validate,
    load_config,
    load_demo_users,
)
from socialdesk_console.auth import ROLES
from socialdesk_console.library import Library
from socialdesk_console.oidc import ClaimMapping
from socialdesk_console.replies import TemplateEntry, TemplateIndex
from socialdesk_outbound.credentials import check_credentials

# What the console's template_variables gives a template (replies.py), with sample values.
SAMPLE_VARIABLES = {
    "author": "@someone",
    "author_name": "Someone",
    "operator": "op.example",
    "item_id": "x:1",
    "platform": "x",
    "crime_reference": "CR/0000/26",
    "team_name": "Digital desk",
    "signature": "Jo",
}


def check_oidc(path: Path, config: PlatformConfig) -> ClaimMapping:
    """The claim mapping: known keys, roles that exist, forces that exist."""
    mapping: ClaimMapping = _validate(ClaimMapping, path, _load_yaml(path) or {})
    for claim, role in mapping.roles.items():
        if role not in ROLES:
            raise ConfigError(path, f"roles.{claim}", f"unknown role {role!r} (use {ROLES})")
    for value, force in mapping.force_values.items():
        if force not in config.forces:
            raise ConfigError(path, f"force_values.{value}", f"unknown force {force!r}")
    if mapping.fixed_force is not None and mapping.fixed_force not in config.forces:
        raise ConfigError(path, "fixed_force", f"unknown force {mapping.fixed_force!r}")
    return mapping


@dataclass
class TemplateReport:
    national: int = 0
    forces: dict[str, int] = field(default_factory=dict)


def check_templates(root: Path, config: PlatformConfig) -> TemplateReport:
    """Every index entry has a file that parses and renders for every force that sees it."""
    report = TemplateReport()
    if not root.is_dir():
        return report
    national = _index(root / "index.yaml")
    report.national = len(national.templates)
    per_force: dict[str, TemplateIndex] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        if d.name not in config.forces:
            raise ConfigError(d, "(dir)", f"no force {d.name!r} in forces/; rename or remove it")
        per_force[d.name] = _index(d / "index.yaml")
        report.forces[d.name] = len(per_force[d.name].templates)
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    for force in [None, *sorted(config.forces)]:
        own = per_force.get(force) if force else None
        entries = {(e.id, e.language): (root, i, e) for i, e in enumerate(national.templates)}
        if own is not None and force is not None:
            entries |= {
                (e.id, e.language): (root / force, i, e) for i, e in enumerate(own.templates)
            }
        links = dict(national.links) | (own.links if own else {})
        name = "your local police"
        if force is not None:
            fc = config.forces[force]
            name = fc.name
            links |= {"website": fc.website} if fc.website else {}
            links |= {"report_online": fc.single_online_home} if fc.single_online_home else {}
        variables = SAMPLE_VARIABLES | {"force": name, "links": links}
        for where, i, entry in entries.values():
            _render(env, _source(root, force, entry, where / "index.yaml", i), variables, force)
    return report


def _index(path: Path) -> TemplateIndex:
    if not path.is_file():
        return TemplateIndex()
    index: TemplateIndex = _validate(TemplateIndex, path, _load_yaml(path) or {})
    return index


def _source(root: Path, force: str | None, entry: TemplateEntry, index: Path, i: int) -> Path:
    """The force's own file if it has one, else the national file (as the console)."""
    for path in ([root / force / entry.file] if force else []) + [root / entry.file]:
        if path.is_file():
            return path
    raise ConfigError(index, f"templates.{i}.file", f"{entry.file} is missing")


def _render(env: SandboxedEnvironment, path: Path, variables: dict[str, Any], force: Any) -> None:
    try:
        env.from_string(path.read_text(encoding="utf-8")).render(**variables)
    except TemplateSyntaxError as exc:
        raise ConfigError(path, f"line {exc.lineno}", f"template syntax: {exc.message}") from exc
    except TemplateError as exc:
        who = f"force {force}" if force else "items of no force"
        raise ConfigError(path, "(template)", f"does not render for {who}: {exc}") from exc


def next_bank_holidays(config: PlatformConfig, today: date, n: int = 3) -> dict[str, list[date]]:
    return {
        region: sorted(d for d in days if d >= today)[:n]
        for region, days in sorted(config.holidays.items())
    }


def run_checks(config_dir: Path, say: Callable[[str], None]) -> list[str]:
    """Check everything; report what was found through `say`; return the problems, one
    line each (empty: all good). The forces and national policy come first, since the
    other files are checked against them."""
    if not config_dir.is_dir():
        return [
            f"{config_dir}: no such directory; name it with --config-dir or SOCIALDESK_CONFIG_DIR"
        ]
    try:
        cfg = load_config(config_dir)
    except ConfigError as exc:
        return [str(exc)]
    say(f"ok: {len(cfg.forces)} forces, {len(cfg.account_index)} accounts")
    problems: list[str] = []
    checks: list[tuple[str, Callable[[], str]]] = [
        ("demo users", lambda: _users(config_dir, cfg)),
        ("oidc", lambda: _oidc(config_dir, cfg)),
        ("reply templates", lambda: _templates(config_dir, cfg)),
        ("publishing", lambda: _publishing(config_dir, cfg)),
    ]
    for _, check in checks:
        try:
            say(check())
        except ConfigError as exc:
            problems.append(str(exc))
    problems += _credentials(config_dir, cfg, say)
    for region, days in next_bank_holidays(cfg, date.today()).items():
        say(f"ok: bank holidays, {region}: next {', '.join(d.isoformat() for d in days)}")
    return problems


def _credentials(config_dir: Path, cfg: PlatformConfig, say: Callable[[str], None]) -> list[str]:
    """Each force account's token variable, read from this process's environment: run it
    where outbound runs (an unset one is refused in production, else a warning)."""
    production = os.environ.get("SOCIALDESK_ENVIRONMENT") == "production"
    r = check_credentials(cfg, str(config_dir), os.environ, production, date.today())
    for line in r.warnings:
        say(f"warning: {line}")
    say(f"ok: account credentials, {r.accounts} accounts name their own token")
    return r.problems


def _users(config_dir: Path, cfg: PlatformConfig) -> str:
    users = load_demo_users(config_dir / "demo" / "users.yaml", cfg)
    return f"ok: {len(users)} demo users"


def _oidc(config_dir: Path, cfg: PlatformConfig) -> str:
    path = config_dir / "oidc.yaml"
    if not path.is_file():
        return "ok: no oidc.yaml (the console's default claim names)"
    m = check_oidc(path, cfg)
    return f"ok: oidc mapping, {len(m.roles)} roles, {len(m.force_values)} force names"


def _templates(config_dir: Path, cfg: PlatformConfig) -> str:
    r = check_templates(config_dir / "templates" / "replies", cfg)
    own = ", ".join(f"{f} {n}" for f, n in r.forces.items()) or "none"
    return f"ok: reply templates, {r.national} national, per force: {own}"


def _publishing(config_dir: Path, cfg: PlatformConfig) -> str:
    """The publishing desk's post templates and campaign library, as the console reads them."""
    lib = Library.load(config_dir, set(cfg.forces))
    own = sum(len(cs) for f, cs in lib.campaigns.items() if f is not None)
    national = len(lib.campaigns.get(None, []))
    return (
        f"ok: publishing, {len(lib.templates)} post templates, "
        f"{national} national campaigns, {own} force campaigns"
    )
