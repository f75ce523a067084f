"""What every group of console routes shares (settings, configuration, the index, the
audit writer, the page renderer, sessions and sign-in), built once by create_app, kept on
`app.state.ctx` and handed to each router's handlers by the `Ctx` dependency (deps.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from elasticsearch import AsyncElasticsearch, BadRequestError, NotFoundError
from fastapi import HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from itsdangerous import URLSafeTimedSerializer

from socialdesk import indices
from socialdesk.config import DemoUser, PlatformConfig
from socialdesk.es import alias
from socialdesk.settings import ConsoleSettings
from socialdesk.taxonomy import Flag, Intent, Outcome, Platform, Priority
from socialdesk_console import i18n
from socialdesk_console.audit import AuditWriter
from socialdesk_console.auth import SessionRules, Sessions, User, dummy_hash
from socialdesk_console.board import BoardFeed
from socialdesk_console.guards import GuardStore
from socialdesk_console.library import Library
from socialdesk_console.oidc import ClaimMapping, OidcClient, load_mapping
from socialdesk_console.outcomes import OutcomeWatcher, PostOutcomes
from socialdesk_console.pub_labels import kind_label, platform_name, pub_label
from socialdesk_console.pub_labels import message as problem_text
from socialdesk_console.render_worker import TemplateRenderer
from socialdesk_console.replies import Catalogue
from socialdesk_console.timing import waiting_on

HERE = Path(__file__).parent


@dataclass
class SignIn:
    """Sign-in's own parts: local accounts, single sign-on and the password-check budget."""

    users: dict[str, DemoUser]
    oidc: OidcClient | None
    claim_mapping: ClaimMapping
    flow_signer: URLSafeTimedSerializer
    # PBKDF2 runs in threads, two at once, so a flood of sign-ins cannot take every core.
    hashing: asyncio.Semaphore
    # An unknown user's password is checked against a hash of the same cost (same timing).
    unknown_user_hash: str


@dataclass
class ConsoleContext:
    """One per app: what the routers' handlers reach through the `Ctx` dependency."""

    settings: ConsoleSettings
    config: PlatformConfig
    es: AsyncElasticsearch
    audit: AuditWriter
    templates: Jinja2Templates
    outcomes: OutcomeWatcher
    sessions: Sessions
    guards: GuardStore
    renderer: TemplateRenderer
    catalogue: Catalogue
    board_feed: BoardFeed
    sign_in: SignIn
    http: httpx.AsyncClient
    post_outcomes: PostOutcomes
    library: Library

    def index(self, name: str) -> str:
        """The alias of one of the platform's indices (items, sla, audit, events...)."""
        return alias(self.settings, name)

    def force_name(self, force: str | None) -> str:
        """A force's display name (None: every force, for national views)."""
        if force is None:
            return i18n._("all forces")
        fc = self.config.forces.get(force)
        return fc.name if fc else force

    def use_language(self, request: Request, user: User | None) -> str:
        """The request's language: the user's choice, else their force's default."""
        fc = self.config.forces.get(user.force) if user and user.force else None
        welsh = bool(fc and fc.welsh_language_standards)
        if user is None:  # signed out: the browser's own first choice
            welsh = i18n.prefers_welsh(request.headers.get("accept-language", ""))
        return i18n.use(i18n.choose(request.cookies.get(i18n.COOKIE), welsh))

    def page(self, request: Request, name: str, user: User, **ctx: Any) -> Response:
        """A page template with what the layout needs (the user, their force's name)."""
        return self.templates.TemplateResponse(
            request,
            name,
            {
                "user": user,
                "force_name": (
                    self.config.national.duty_queue.name
                    if user.duty
                    else self.force_name(user.force)
                ),
                **ctx,
            },
        )

    async def search(self, **kwargs: Any) -> Any:
        """A search. A missing index is no data; a search Elasticsearch refuses as
        malformed is the request's fault (400, and nobody is paged); only a backend that
        cannot answer is a 503, which /readyz then shows too."""
        try:
            async with waiting_on("es"):
                return await self.es.search(**kwargs)
        except NotFoundError:
            return {"hits": {"hits": [], "total": {"value": 0}}, "aggregations": {}}
        except BadRequestError as exc:
            raise HTTPException(
                400, "the search cannot be run with these filters or this cursor; check them"
            ) from exc
        except Exception as exc:
            raise HTTPException(503, "search is unavailable; try again shortly") from exc


def taxonomy() -> dict[str, list[str]]:
    """The choice lists the pages' filters and forms offer."""
    return {
        "priorities": [p.value for p in Priority],
        "intents": [i.value for i in Intent],
        "flags": [f.value for f in Flag],
        "platforms": [p.value for p in Platform],
        "outcomes": [o.value for o in Outcome],
    }


def oidc_client(settings: ConsoleSettings, http: httpx.AsyncClient) -> OidcClient | None:
    """Single sign-on, when an issuer and a client are configured."""
    if not (settings.oidc_issuer and settings.oidc_client_id):
        return None
    secret = settings.oidc_client_secret
    return OidcClient(
        settings.oidc_issuer,
        settings.oidc_client_id,
        secret.get_secret_value() if secret else None,
        settings.public_url.rstrip("/") + "/auth/callback",
        scopes=settings.oidc_scopes,
        jwks_cache_s=settings.oidc_jwks_cache_s,
        leeway_s=settings.oidc_leeway_s,
        http=http,
    )


def build_context(
    settings: ConsoleSettings,
    config: PlatformConfig,
    users: dict[str, DemoUser],
    es: AsyncElasticsearch,
    http: httpx.AsyncClient,
) -> ConsoleContext:
    """Every shared part, built once per process (nothing here touches the network)."""
    secret = settings.session_secret.get_secret_value()
    sign_in = SignIn(
        users=users,
        oidc=oidc_client(settings, http),
        claim_mapping=load_mapping(settings.oidc_claims_file or settings.config_dir / "oidc.yaml"),
        flow_signer=URLSafeTimedSerializer(secret, salt="socialdesk-oidc-flow"),
        hashing=asyncio.Semaphore(2),
        unknown_user_hash=dummy_hash([u.password_hash for u in users.values()]),
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    i18n.install(templates.env)
    templates.env.globals["idle_s"] = settings.session_idle_s
    templates.env.globals["max_age_s"] = settings.session_max_age_s
    templates.env.globals["pub_label"] = pub_label
    templates.env.globals["platform_name"] = platform_name
    templates.env.globals["kind_label"] = kind_label
    templates.env.filters["kind_label"] = kind_label
    templates.env.globals["problem_text"] = problem_text
    return ConsoleContext(
        settings=settings,
        config=config,
        es=es,
        audit=AuditWriter(settings),
        templates=templates,
        outcomes=OutcomeWatcher(settings),
        sessions=Sessions(
            secret,
            SessionRules(settings.session_idle_s, settings.session_max_age_s),
            es,
            alias(settings, indices.CONSOLE_SESSIONS),
        ),
        guards=GuardStore(es, alias(settings, indices.CONSOLE_GUARDS), secret),
        renderer=TemplateRenderer(),
        catalogue=Catalogue.load(
            settings.reply_templates_dir or settings.config_dir / "templates" / "replies"
        ),
        board_feed=BoardFeed(settings),
        sign_in=sign_in,
        http=http,
        post_outcomes=PostOutcomes(settings),
        # Post templates and campaigns: a bad file stops start-up, naming file and field.
        library=Library.load(settings.config_dir, set(config.forces)),
    )
