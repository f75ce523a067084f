"""Force and national configuration from config/: validated at start-up.

A bad file stops start-up with a ConfigError that names the file and the field, e.g.
``config/forces/kent.yaml: teams.0.calendar: unknown calendar 'ofice'``.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, time
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from socialdesk.publishing import ApprovalRule
from socialdesk.retention import DataClass, RetentionOverride, RetentionPolicy
from socialdesk.taxonomy import Flag, Intent, Platform, Priority


class ConfigError(Exception):
    """Invalid configuration: the message names the file and the field."""

    def __init__(self, path: Path | str, field: str, message: str) -> None:
        super().__init__(f"{path}: {field}: {message}")
        self.path = str(path)
        self.field = field
        self.message = message


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Calendar(Strict):
    timezone: str = "Europe/London"
    always_open: bool = False
    bank_holidays: Literal["england-and-wales", "scotland", "northern-ireland"] | None = None
    periods: dict[str, list[tuple[str, str]]] = Field(default_factory=dict)
    closures: list[tuple[str, str]] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("periods")
    @classmethod
    def _periods_ok(cls, v: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[str, str]]]:
        for day, spans in v.items():
            if day not in DAYS:
                raise ValueError(f"unknown day {day!r} (use {', '.join(DAYS)})")
            parsed = []
            for start, end in spans:
                for t in (start, end):
                    if not _HHMM.match(t):
                        raise ValueError(f"{day}: {t!r} is not HH:MM")
                if start >= end:
                    raise ValueError(f"{day}: period {start}-{end} ends before it starts")
                parsed.append((start, end))
            parsed.sort()
            for (_, end1), (start2, _) in itertools.pairwise(parsed):
                if start2 < end1:
                    raise ValueError(f"{day}: periods overlap at {start2}")
        return v

    @field_validator("closures")
    @classmethod
    def _closures_ok(cls, v: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for i, (start, end) in enumerate(v):
            try:
                first, last = date.fromisoformat(start), date.fromisoformat(end)
            except ValueError as exc:
                raise ValueError(f"closure {i}: dates are YYYY-MM-DD ({exc})") from exc
            if last < first:
                raise ValueError(f"closure {i}: ends before it starts")
        return v

    @model_validator(mode="after")
    def _open_sometime(self) -> Calendar:
        if not self.always_open and not self.periods:
            raise ValueError("a calendar needs working periods or always_open: true")
        return self


class SlaTarget(Strict):
    first_response_minutes: int | None = Field(default=None, gt=0)
    next_response_minutes: int | None = Field(default=None, gt=0)
    resolution_minutes: int | None = Field(default=None, gt=0)


class Team(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    calendar: str = "always"
    sla_overrides: dict[Priority, SlaTarget] = Field(default_factory=dict)
    skills: list[str] = Field(default_factory=list)
    auto_assign: bool = Field(False, description="give new items to available operators")
    capacity_per_operator: int = Field(10, gt=0, le=500)


class RoutingRule(Strict):
    team: str
    intents: list[Intent] = Field(default_factory=list)
    flags: list[Flag] = Field(default_factory=list)


ENV_NAME = r"^SOCIALDESK_[A-Z0-9_]+$"  # where a secret is read from, never the secret


class UnclaimedEscalation(Strict):
    """A P1 nobody claims: who is told, and when (minutes since it became an unclaimed
    P1). The supervisors on duty first, then the duty inspector; a claim stops it."""

    after_minutes: float = Field(2, gt=0, le=24 * 60)
    inspector_after_minutes: float = Field(
        5, gt=0, le=24 * 60, description="after the supervisors were told"
    )


class UnclaimedOverride(Strict):
    after_minutes: float | None = Field(default=None, gt=0, le=24 * 60)
    inspector_after_minutes: float | None = Field(default=None, gt=0, le=24 * 60)


class NotifyChannel(Strict):
    """One way a force is told: an email address list (SMTP) or a signed webhook (a
    pager, a Teams/Slack bridge). `roles` says which steps of the ladder it carries."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=40)
    type: Literal["email", "webhook"]
    roles: list[Literal["supervisors", "duty_inspector", "national_duty"]] = Field(min_length=1)
    to: list[str] = Field(default_factory=list, description="email addresses")
    url: str | None = Field(default=None, description="webhook URL (http or https)")
    secret_env: str | None = Field(
        default=None, pattern=ENV_NAME, description="env var holding the webhook's HMAC key"
    )

    @model_validator(mode="after")
    def _complete(self) -> NotifyChannel:
        if self.type == "email":
            if not self.to:
                raise ValueError("to: an email channel needs at least one address")
            for i, addr in enumerate(self.to):
                if not re.match(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$", addr):
                    raise ValueError(f"to.{i}: {addr!r} is not an email address")
        else:
            if not self.url or not re.match(r"^https?://[^\s]+$", self.url):
                raise ValueError("url: a webhook channel needs an http(s) URL")
            if not self.secret_env:
                raise ValueError("secret_env: a webhook channel is always signed")
        return self


class ControlRoom(Strict):
    """The force's command-and-control system: where a handover is sent (a signed
    webhook, docs/control-room.md) and which P1s are handed over without waiting."""

    url: str = Field(pattern=r"^https?://[^\s]+$")
    secret_env: str = Field(pattern=ENV_NAME)
    auto_handover_flags: list[Flag] = Field(
        default_factory=list, description="a P1 with any of these flags is handed over at once"
    )


TOKEN_WARNING_DAYS = 14  # a token expiring within this is renewed before sending fails


class AccountCredential(Strict):
    """Where an account's API token is read from (never the token): an environment
    variable, which in Kubernetes is a key of the force's Secret mounted as environment
    (`forces.<id>.credentialsSecret` in the Helm chart). `expires` is when the platform
    says the token stops working, so it can be renewed before replies start failing."""

    env: str = Field(pattern=ENV_NAME, description="env var (or Secret key) holding the token")
    expires: date | None = Field(default=None, description="YYYY-MM-DD, if the token expires")

    @model_validator(mode="before")
    @classmethod
    def _no_token_here(cls, data: Any) -> Any:
        if isinstance(data, dict) and set(data) - {"env", "expires"}:
            raise ValueError(
                "only env and expires: a token never goes in config; put it in the force's "
                "Secret (or the environment) and name its variable in env"
            )
        return data


class ForceConfig(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    nation: Literal["england", "wales", "scotland", "northern_ireland", "national"]
    welsh_language_standards: bool = False
    website: str | None = None
    single_online_home: str | None = None
    accounts: dict[Platform, list[str]] = Field(default_factory=dict)
    account_ids: dict[Platform, dict[str, str]] = Field(
        default_factory=dict,
        description="platform id -> handle, for webhooks that name the receiving account "
        "by id (a Facebook Page id, an Instagram account id, an X user id)",
    )
    credentials: dict[Platform, dict[str, AccountCredential]] = Field(
        default_factory=dict,
        description="platform -> handle -> where that account's token is read from",
    )
    teams: list[Team]
    calendars: dict[str, Calendar] = Field(default_factory=dict)
    areas: list[str] = Field(default_factory=list)
    sla_overrides: dict[Priority, SlaTarget] = Field(default_factory=dict)
    routing: list[RoutingRule] | None = Field(
        default=None, description="team rules for this force; the national rules if absent"
    )
    unclaimed: UnclaimedOverride = Field(default_factory=UnclaimedOverride)
    notifications: list[NotifyChannel] = Field(default_factory=list)
    control_room: ControlRoom | None = None
    retention: dict[DataClass, RetentionOverride] = Field(
        default_factory=dict, description="shorter periods than the national ones"
    )
    publishing: ApprovalRule = Field(
        default_factory=ApprovalRule,
        description="which posts need a second person's approval (socialdesk.publishing)",
    )

    @model_validator(mode="after")
    def _teams_ok(self) -> ForceConfig:
        ids = [t.id for t in self.teams]
        if "digital-desk" not in ids:
            raise ValueError("teams: a force needs a 'digital-desk' team (the default route)")
        if len(set(ids)) != len(ids):
            raise ValueError("teams: team ids must be unique")
        for i, t in enumerate(self.teams):
            if t.calendar != "always" and t.calendar not in self.calendars:
                raise ValueError(f"teams.{i}.calendar: unknown calendar {t.calendar!r}")
        for i, rule in enumerate(self.routing or []):
            if rule.team not in ids:
                raise ValueError(f"routing.{i}.team: the force has no team {rule.team!r}")
        channel_ids = [c.id for c in self.notifications]
        if len(set(channel_ids)) != len(channel_ids):
            raise ValueError("notifications: channel ids must be unique")
        for platform, mapping in self.account_ids.items():
            own = {h.lower().lstrip("@") for h in self.accounts.get(platform, [])}
            for account_id, handle in mapping.items():
                if handle.lower().lstrip("@") not in own:
                    raise ValueError(
                        f"account_ids.{platform.value}.{account_id}: {handle!r} is not one "
                        f"of the force's {platform.value} accounts"
                    )
        for platform, creds in self.credentials.items():
            own = {h.lower().lstrip("@") for h in self.accounts.get(platform, [])}
            for handle in creds:
                if handle.lower().lstrip("@") not in own:
                    raise ValueError(
                        f"credentials.{platform.value}.{handle}: not one of the force's "
                        f"{platform.value} accounts"
                    )
        return self

    def credential(self, platform: str, handle: str) -> AccountCredential | None:
        """The credential reference of one of this force's accounts, if it has one."""
        want = handle.lower().lstrip("@")
        for p, creds in self.credentials.items():
            if p.value == platform:
                for h, cred in creds.items():
                    if h.lower().lstrip("@") == want:
                        return cred
        return None


class SlaRow(Strict):
    first_response_minutes: int = Field(gt=0)
    next_response_minutes: int | None = Field(default=None, gt=0)
    resolution_minutes: int | None = Field(default=None, gt=0)
    clock: Literal["24x7", "business_hours"]


class EscalationStep(Strict):
    """Who is told when a clock reaches a stage (and, optionally, how long after it)."""

    stage: Literal["warning", "breached"]
    after_minutes: int = Field(0, ge=0)
    notify: list[Literal["team", "owner", "supervisor", "duty_inspector"]] = Field(min_length=1)


class SlaPolicy(Strict):
    warning_fraction: float = Field(0.75, gt=0, lt=1)
    warning_fractions: dict[Literal["first_response", "next_response", "resolution"], float] = (
        Field(default_factory=dict)
    )
    grades: dict[Priority, SlaRow]
    escalation: list[EscalationStep] = Field(default_factory=list)

    @field_validator("warning_fractions")
    @classmethod
    def _fractions(cls, v: dict[str, float]) -> dict[str, float]:
        for clock, f in v.items():
            if not 0 < f < 1:
                raise ValueError(f"{clock}: a warning fraction is between 0 and 1")
        return v

    def warning_for(self, clock: str) -> float:
        return self.warning_fractions.get(clock, self.warning_fraction)  # type: ignore[call-overload]

    @model_validator(mode="after")
    def _every_grade(self) -> SlaPolicy:
        missing = [p.value for p in Priority if p not in self.grades]
        if missing:
            raise ValueError(f"grades: missing {', '.join(missing)}")
        return self


class DutyQueue(Strict):
    """Where an item goes when no force can be determined (an account no force lists and
    no place named in the text), and who works it."""

    team: str = Field("national-duty", pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = "National duty queue"
    role: Literal["national_duty"] = "national_duty"


class National(Strict):
    sla: SlaPolicy
    routing: list[RoutingRule] = Field(default_factory=list)
    duty_queue: DutyQueue = Field(default_factory=DutyQueue)
    unclaimed: UnclaimedEscalation = Field(default_factory=UnclaimedEscalation)
    notifications: list[NotifyChannel] = Field(
        default_factory=list, description="channels for items of no force (duty officers)"
    )


class DemoUser(Strict):
    username: str = Field(pattern=r"^[a-z0-9._-]+$")
    display_name: str
    force: str | None
    role: Literal[
        "operator",
        "supervisor",
        "force_admin",
        "national_viewer",
        "national_duty",
        "comms",
        "approver",
        "dpo",
    ]
    teams: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    password_hash: str


class PlatformConfig:
    """Everything in config/, loaded and cross-checked."""

    def __init__(
        self,
        national: National,
        forces: dict[str, ForceConfig],
        holidays: dict[str, frozenset[date]] | None = None,
        retention: RetentionPolicy | None = None,
    ) -> None:
        self.national = national
        self.forces = forces
        self.holidays = holidays or {}
        self.retention = retention

    @cached_property
    def account_index(self) -> dict[tuple[str, str], str]:
        """(platform, lower-case handle) -> force id."""
        out: dict[tuple[str, str], str] = {}
        for force in self.forces.values():
            for platform, handles in force.accounts.items():
                for h in handles:
                    out[(platform.value, h.lower().lstrip("@"))] = force.id
        return out

    @cached_property
    def account_id_index(self) -> dict[tuple[str, str], str]:
        """(platform, platform id) -> handle, from the forces' `account_ids`."""
        return {
            (platform.value, str(account_id)): handle
            for force in self.forces.values()
            for platform, mapping in force.account_ids.items()
            for account_id, handle in mapping.items()
        }

    def unclaimed(self, force: str | None) -> UnclaimedEscalation:
        """The national unclaimed-P1 ladder with the force's overrides applied."""
        base = self.national.unclaimed
        fc = self.forces.get(force) if force else None
        if fc is None:
            return base
        over = fc.unclaimed
        return UnclaimedEscalation(
            after_minutes=over.after_minutes or base.after_minutes,
            inspector_after_minutes=over.inspector_after_minutes or base.inspector_after_minutes,
        )

    def channels(self, force: str | None) -> list[NotifyChannel]:
        """The channels that carry a force's notifications (national ones for no force)."""
        fc = self.forces.get(force) if force else None
        return list(fc.notifications) if fc is not None else list(self.national.notifications)

    def force_for_account(self, platform: str, handle: str) -> str | None:
        """The force of the account reached, by handle, or by platform id (a webhook's
        Page or account id that ingest could not turn into a handle)."""
        force = self.account_index.get((platform, handle.lower().lstrip("@")))
        if force is None and (platform, handle) in self.account_id_index:
            known = self.account_id_index[(platform, handle)]
            force = self.account_index.get((platform, known.lower().lstrip("@")))
        return force


def _field_path(err: dict[str, Any]) -> str:
    return ".".join(str(p) for p in err["loc"]) or "(root)"


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ConfigError(path, where, f"not valid YAML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(path, "(file)", str(exc)) from exc


def _validate(model: type[BaseModel], path: Path, data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        field = _field_path(dict(err))
        inner = re.match(r"^([\w.-]+): (.*)$", msg)
        if inner and field == "(root)":
            field, msg = inner.group(1), inner.group(2)
        raise ConfigError(path, field, msg) from exc


def load_config(config_dir: Path) -> PlatformConfig:
    """Load config/national/*.yaml and config/forces/*.yaml; raise ConfigError on the
    first problem, naming the file and field."""
    national_path = config_dir / "national" / "policy.yaml"
    national: National = _validate(National, national_path, _load_yaml(national_path))
    forces: dict[str, ForceConfig] = {}
    seen_handles: dict[tuple[str, str], Path] = {}
    force_dir = config_dir / "forces"
    paths = sorted(force_dir.glob("*.yaml"))
    if not paths:
        raise ConfigError(force_dir, "(dir)", "no force files found")
    for path in paths:
        force: ForceConfig = _validate(ForceConfig, path, _load_yaml(path))
        if force.id != path.stem:
            raise ConfigError(path, "id", f"{force.id!r} does not match the file name")
        for platform, handles in force.accounts.items():
            for i, h in enumerate(handles):
                k = (platform.value, h.lower().lstrip("@"))
                if k in seen_handles:
                    raise ConfigError(
                        path,
                        f"accounts.{platform.value}.{i}",
                        f"handle {h!r} is already used by {seen_handles[k]}",
                    )
                seen_handles[k] = path
        for platform, mapping in force.account_ids.items():
            for account_id in mapping:
                k = (platform.value, f"id:{account_id}")
                if k in seen_handles:
                    raise ConfigError(
                        path,
                        f"account_ids.{platform.value}.{account_id}",
                        f"id {account_id!r} is already used by {seen_handles[k]}",
                    )
                seen_handles[k] = path
        for platform, creds in force.credentials.items():
            for handle, cred in creds.items():  # a token variable is one force's only
                k = ("env", cred.env)
                if seen_handles.get(k, path) != path:
                    raise ConfigError(
                        path,
                        f"credentials.{platform.value}.{handle}.env",
                        f"{cred.env} is already named by {seen_handles[k]}",
                    )
                seen_handles[k] = path
        forces[force.id] = force
    for i, rule in enumerate(national.routing):
        if not re.match(r"^[a-z0-9-]+$", rule.team):
            raise ConfigError(national_path, f"routing.{i}.team", "bad team id")
    retention = load_retention(config_dir / "national" / "retention.yaml")
    check_retention_overrides(retention, force_dir, forces)
    return PlatformConfig(national, forces, load_holidays(config_dir / "calendars"), retention)


def load_retention(path: Path) -> RetentionPolicy:
    policy: RetentionPolicy = _validate(RetentionPolicy, path, _load_yaml(path))
    return policy


def check_retention_overrides(
    policy: RetentionPolicy, force_dir: Path, forces: dict[str, ForceConfig]
) -> None:
    """A force may shorten a period; lengthen it only up to the national maximum, and
    only where the national file allows it; never set a class shared by all forces."""
    for force in forces.values():
        for data_class, over in force.retention.items():
            problem = policy.override_problem(data_class, over.days)
            if problem is not None:
                path = force_dir / f"{force.id}.yaml"
                raise ConfigError(path, f"retention.{data_class.value}.days", problem)


# The `holidays` library's subdivision codes for the regions a calendar can name.
REGION_SUBDIVISIONS = {"england-and-wales": "ENG", "scotland": "SCT", "northern-ireland": "NIR"}
# Years computed around today: a service restarts far more often than every decade.
HOLIDAY_YEARS_BEHIND, HOLIDAY_YEARS_AHEAD = 2, 10
_OVERRIDE_KEYS = ("extra", "not")


def region_holidays(region: str, today: date | None = None) -> frozenset[date]:
    """A region's weekday bank holidays (substitute days included, as gov.uk lists them)
    from the `holidays` library, so no year is ever missing."""
    year = (today or date.today()).year
    years = range(year - HOLIDAY_YEARS_BEHIND, year + HOLIDAY_YEARS_AHEAD + 1)
    days = holidays.country_holidays("GB", subdiv=REGION_SUBDIVISIONS[region], years=years)
    return frozenset(d for d in days if d.weekday() < 5)


def load_holidays(directory: Path, today: date | None = None) -> dict[str, frozenset[date]]:
    """Bank holidays per region: the library's list, adjusted by
    calendars/bank-holidays.yaml (`extra` days it does not know yet, `not` to drop)."""
    out = {region: region_holidays(region, today) for region in REGION_SUBDIVISIONS}
    path = directory / "bank-holidays.yaml"
    data = (_load_yaml(path) if path.exists() else None) or {}
    if not isinstance(data, dict):
        raise ConfigError(path, "(file)", "expected a mapping of region to extra/not lists")
    for region, overrides in data.items():
        if region not in REGION_SUBDIVISIONS:
            known = ", ".join(REGION_SUBDIVISIONS)
            raise ConfigError(path, str(region), f"unknown region (known: {known})")
        overrides = overrides or {}
        if not isinstance(overrides, dict) or set(overrides) - set(_OVERRIDE_KEYS):
            raise ConfigError(path, str(region), "expected only 'extra' and 'not' lists")
        extra = _dates(path, f"{region}.extra", overrides.get("extra"))
        dropped = _dates(path, f"{region}.not", overrides.get("not"))
        out[region] = (out[region] | extra) - dropped
    return out


def _dates(path: Path, field: str, values: Any) -> frozenset[date]:
    parsed = []
    for i, d in enumerate(values or []):
        if isinstance(d, date):
            parsed.append(d)
            continue
        try:
            parsed.append(date.fromisoformat(str(d)))
        except ValueError as exc:
            raise ConfigError(path, f"{field}.{i}", f"{d!r} is not a date (YYYY-MM-DD)") from exc
    return frozenset(parsed)


def load_demo_users(path: Path, config: PlatformConfig) -> dict[str, DemoUser]:
    """Local accounts for development and demos; each user's force and teams must exist."""
    data = _load_yaml(path) or {}
    if not isinstance(data, dict) or not isinstance(data.get("users") or [], list):
        raise ConfigError(path, "users", "expected a mapping with a 'users' list")
    users: dict[str, DemoUser] = {}
    for i, raw in enumerate(data.get("users") or []):
        user: DemoUser = _validate(DemoUser, path, raw)
        if user.force is not None and user.force not in config.forces:
            raise ConfigError(path, f"users.{i}.force", f"unknown force {user.force!r}")
        if user.force is not None:
            team_ids = {t.id for t in config.forces[user.force].teams}
            for t in user.teams:
                if t not in team_ids:
                    raise ConfigError(path, f"users.{i}.teams", f"unknown team {t!r}")
        users[user.username] = user
    return users


def parse_hhmm(value: str) -> time:
    if value == "24:00":
        return time(23, 59, 59, 999999)
    h, m = value.split(":")
    return time(int(h), int(m))
