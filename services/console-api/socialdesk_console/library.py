"""The publishing desk's ready-made content: the national post templates
(config/publishing/templates.yaml) and the campaign library (config/campaigns/national/
and config/campaigns/<force>/), both bilingual. Read and checked at start-up (and by
config-check): a bad file is a ConfigError naming the file and the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from socialdesk.config import ConfigError, _load_yaml, _validate
from socialdesk.publishing import Objective, PostKind
from socialdesk.taxonomy import Platform


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bilingual(Strict):
    """English, and the Welsh a force under the Welsh Language Standards posts beside it."""

    en: str = Field(min_length=1, max_length=5000)
    cy: str = Field(min_length=1, max_length=5000)


class PostTemplate(Strict):
    """A national template: the kind and objective it sets and the text it starts from.
    `short` is the X text (within its 280 characters), `long` the other platforms'."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: PostKind
    objective: Objective
    title: Bilingual
    expected_measure: str = Field(default="", max_length=500)
    short: Bilingual
    long: Bilingual
    names_person: bool = False
    sensitive: bool = False


class TemplateFile(Strict):
    templates: list[PostTemplate] = Field(min_length=1)


class CampaignImage(Strict):
    url: str = Field(pattern=r"^https://")
    alt_text: Bilingual


class CampaignResult(Strict):
    """One thing a campaign achieved, with where the figure comes from."""

    measure: str = Field(min_length=1, max_length=200)
    value: str = Field(min_length=1, max_length=100)
    source: str = Field(min_length=1, max_length=300)
    on: date
    illustrative: bool = Field(
        default=False, description="true: a realistic figure for the demo, not a sourced one"
    )


class Campaign(Strict):
    """Evaluated campaign content a force can adopt and adapt."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: Bilingual
    objective: Objective
    kind: PostKind = PostKind.prevention
    summary: Bilingual
    text: dict[Platform, Bilingual] = Field(min_length=1)
    images: list[CampaignImage] = Field(default_factory=list, max_length=4)
    links: list[str] = Field(default_factory=list, max_length=10)
    results: list[CampaignResult] = Field(default_factory=list)
    evaluation: str = Field(default="", max_length=3000)
    force: str | None = None  # set from the directory: None is national


@dataclass
class Library:
    """The templates and campaigns the console offers (campaigns by force; None national)."""

    templates: list[PostTemplate] = field(default_factory=list)
    campaigns: dict[str | None, list[Campaign]] = field(default_factory=dict)

    @classmethod
    def load(cls, config_dir: Path, forces: set[str]) -> Library:
        return cls(load_templates(config_dir), load_campaigns(config_dir, forces))

    def template(self, template_id: str) -> PostTemplate | None:
        return next((t for t in self.templates if t.id == template_id), None)

    def campaigns_for(self, force: str | None, objective: str | None = None) -> list[Campaign]:
        """National campaigns and the force's own, optionally of one objective."""
        found = [*self.campaigns.get(None, []), *(self.campaigns.get(force, []) if force else [])]
        return [c for c in found if objective in (None, "", c.objective.value)]

    def campaign(self, force: str | None, campaign_id: str) -> Campaign | None:
        return next((c for c in self.campaigns_for(force) if c.id == campaign_id), None)


def templates_path(config_dir: Path) -> Path:
    return config_dir / "publishing" / "templates.yaml"


def load_templates(config_dir: Path) -> list[PostTemplate]:
    path = templates_path(config_dir)
    if not path.is_file():
        return []
    parsed: TemplateFile = _validate(TemplateFile, path, _load_yaml(path))
    ids = [t.id for t in parsed.templates]
    for i, tid in enumerate(ids):
        if tid in ids[:i]:
            raise ConfigError(path, f"templates.{i}.id", f"{tid!r} is used twice")
    return parsed.templates


def load_campaigns(config_dir: Path, forces: set[str]) -> dict[str | None, list[Campaign]]:
    """Every campaign file; a directory that is neither `national` nor a force is an error
    (a typo would otherwise hide a force's campaigns)."""
    root = config_dir / "campaigns"
    out: dict[str | None, list[Campaign]] = {}
    if not root.is_dir():
        return out
    seen: dict[str, Path] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        owner = None if d.name == "national" else d.name
        if owner is not None and owner not in forces:
            raise ConfigError(d, "(dir)", f"no force {d.name!r}: use national or a force id")
        for path in sorted(d.glob("*.yaml")):
            c: Campaign = _validate(Campaign, path, _load_yaml(path))
            if c.id != path.stem:
                raise ConfigError(path, "id", f"{c.id!r} does not match the file name")
            if c.id in seen:
                raise ConfigError(path, "id", f"{c.id!r} is already used by {seen[c.id]}")
            seen[c.id] = path
            out.setdefault(owner, []).append(c.model_copy(update={"force": owner}))
    return out
