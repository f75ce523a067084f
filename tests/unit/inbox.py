"""What the console's inbox request selects, as one query, for tests that check scope."""

from __future__ import annotations

from typing import Any

from socialdesk_console.auth import User
from socialdesk_console.queries import inbox_request


def inbox_query(user: User, view: str, filters: dict[str, str]) -> dict[str, Any]:
    """The query and post_filter of inbox_request for a view, as one bool query."""
    req = inbox_request(user, view, filters, 0)
    view_clause = [req["post_filter"]] if "post_filter" in req else []
    return {"bool": {"filter": [*req["query"]["bool"]["filter"], *view_clause]}}
