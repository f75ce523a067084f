"""What every group of console routes shares (settings, configuration, the index, the
audit writer, the page renderer), built once by create_app and handed to the routers
in reports.py and board.py, so they need not import app.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import AsyncElasticsearch, BadRequestError, NotFoundError
from fastapi import HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from socialdesk.config import PlatformConfig
from socialdesk.settings import ConsoleSettings
from socialdesk_console.audit import AuditWriter
from socialdesk_console.auth import User
from socialdesk_console.outcomes import OutcomeWatcher
from socialdesk_console.timing import waiting_on


@dataclass
class ConsoleContext:
    settings: ConsoleSettings
    config: PlatformConfig
    es: AsyncElasticsearch
    audit: AuditWriter
    templates: Jinja2Templates
    outcomes: OutcomeWatcher

    def force_name(self, force: str | None) -> str:
        if force is None:
            return "all forces"
        fc = self.config.forces.get(force)
        return fc.name if fc else force

    def page(self, request: Request, name: str, user: User, **ctx: Any) -> Response:
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
