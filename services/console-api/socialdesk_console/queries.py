"""Plain functions that build Elasticsearch queries. Every query a user makes goes
through `scope_filter`, so force isolation lives in one place."""

from __future__ import annotations

from typing import Any

from socialdesk_console.auth import User

VIEWS = ("all_open", "unassigned", "mine", "team")
FILTERABLE = ("priority", "intent", "flags", "platform", "team")


def scope_filter(user: User) -> list[dict[str, Any]]:
    """An operator sees their force's items only; national viewers see every force."""
    if user.national:
        return []
    return [{"term": {"force": user.force or "__none__"}}]


def inbox_query(user: User, view: str, filters: dict[str, str]) -> dict[str, Any]:
    must: list[dict[str, Any]] = [*scope_filter(user), {"term": {"open": True}}]
    if view == "unassigned":
        must.append({"bool": {"must_not": {"exists": {"field": "owner"}}}})
    elif view == "mine":
        must.append({"term": {"owner": user.username}})
    elif view == "team":
        must.append({"terms": {"team": list(user.teams) or ["__none__"]}})
    for field in FILTERABLE:
        value = filters.get(field)
        if value:
            must.append({"term": {field: value}})
    return {"bool": {"filter": must}}


INBOX_SORT = [{"priority_rank": "asc"}, {"created_at": "desc"}, {"id": "asc"}]
