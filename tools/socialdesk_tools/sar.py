"""`socialdesk sar`: a subject access export of one person as a ZIP (socialdesk.access),
audited like the console's."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from socialdesk.access import build_zip, collect
from socialdesk.erasing import object_store
from socialdesk.erasure import ACCESS_ACTION, Person
from socialdesk.es import make_es
from socialdesk.events import utcnow
from socialdesk.settings import BaseServiceSettings
from socialdesk_tools.erasure import audit_record, person_arguments, write_audit


def add_arguments(sub: Any) -> None:
    s = sub.add_parser("sar", help="export everything held about one person as a ZIP")
    person_arguments(s)
    s.add_argument("--reason", required=True, help="the request's reference (no personal data)")
    s.add_argument("--out", help="where to write the ZIP (default: sar-<author key>.zip)")
    s.set_defaults(func=cmd_sar)


async def export(
    settings: BaseServiceSettings, person: Person, requested_by: str, reason: str
) -> bytes:
    """The ZIP's bytes; the export is audited (the request's reference, the counts, no
    content) before it is returned."""
    es = make_es(settings)
    try:
        bundle = await collect(
            es,
            settings,
            person,
            requested_by=requested_by,
            at=utcnow(),
            blobs=object_store(settings),
        )
    finally:
        await es.close()
    details = {
        "reason": reason,
        "items": len(bundle.items),
        "messages": len(bundle.messages),
        "attachments": len(bundle.attachments),
        "problems": bundle.problems,
    }
    await write_audit(settings, audit_record(requested_by, ACCESS_ACTION, person.key, details))
    return build_zip(bundle)


def cmd_sar(args: argparse.Namespace) -> int:
    settings = BaseServiceSettings()
    person = Person(args.platform, args.author)
    data = asyncio.run(export(settings, person, args.requested_by, args.reason))
    out = Path(args.out or f"sar-{person.key}.zip")
    out.write_bytes(data)
    print(f"wrote {out} ({len(data)} bytes)")
    return 0
