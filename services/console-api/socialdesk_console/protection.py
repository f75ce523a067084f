"""What data protection changes on an item's page: the legal holds that keep it, and
whether its author is restricted (GDPR Art. 18), in which case only the data protection
officer may see it (docs/data-protection.md)."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from socialdesk.erasing import holds_on, is_restricted
from socialdesk.erasure import DPO_ROLE, HOLD_ROLES
from socialdesk.events import utcnow
from socialdesk_console.auth import User
from socialdesk_console.context import ConsoleContext
from socialdesk_console.i18n import N_
from socialdesk_console.timing import waiting_on


async def item_protection(ctx: ConsoleContext, user: User, item: dict[str, Any]) -> dict[str, Any]:
    """The item page's holds and restriction; 403 for a restricted author's item unless
    the user is the DPO (a restriction means no further processing by operators)."""
    async with waiting_on("es"):
        restricted = await is_restricted(
            ctx.es, ctx.settings, str(item.get("platform")), str(item.get("author_id"))
        )
        if restricted and user.role != DPO_ROLE:
            raise HTTPException(
                403, N_("this person's data is restricted: only the data protection officer")
            )
        holds = await holds_on(ctx.es, ctx.settings, item, utcnow())
    return {
        "holds": [h.document() for h in holds],
        "restricted": restricted,
        "may_hold": user.role in HOLD_ROLES and user.force is not None,
    }
