"""`socialdesk erase` and `socialdesk restrict`: a data protection officer's erasure or
restriction of one person from the command line (docs/data-protection.md). The work is
socialdesk.erasing's, as on the console's data-protection page; this adds the arguments,
the audit record (sent to audit.events and acknowledged) and the report as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from socialdesk.erasing import Eraser, kafka_eraser, new_request_id, object_store, set_restricted
from socialdesk.erasure import (
    DPO_ROLE,
    ERASED_ACTION,
    ERASURE_PLANNED_ACTION,
    REQUESTED_ACTION,
    RESTRICTED_ACTION,
    UNRESTRICTED_ACTION,
    Person,
)
from socialdesk.es import make_es
from socialdesk.events import Actor, AuditEvent, utcnow
from socialdesk.kafka import Output, ProducerHolder, produce_and_wait
from socialdesk.settings import BaseServiceSettings
from socialdesk.taxonomy import Platform
from socialdesk.topics import AUDIT_EVENTS


def person_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments naming one person and who asks, shared with `socialdesk sar`."""
    p.add_argument(
        "--platform",
        required=True,
        choices=[p.value for p in Platform],
        help="the platform the person wrote on",
    )
    p.add_argument("--author", required=True, help="the author's id on that platform")
    p.add_argument("--requested-by", required=True, help="the DPO's user name (audited)")


def add_arguments(sub: Any) -> None:
    """`erase` and `restrict` on the `socialdesk` command."""
    e = sub.add_parser("erase", help="erase one person's data (GDPR Art. 17 / DPA s.47)")
    person_arguments(e)
    e.add_argument("--reason", required=True, help="the request's reference (no personal data)")
    e.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    e.set_defaults(func=cmd_erase)
    r = sub.add_parser("restrict", help="restrict one person's data (GDPR Art. 18 / DPA s.47)")
    person_arguments(r)
    r.add_argument("--reason", required=True, help="the request's reference (no personal data)")
    r.add_argument("--lift", action="store_true", help="lift the restriction instead")
    r.set_defaults(func=cmd_restrict)


def audit_record(
    requested_by: str,
    action: str,
    target_id: str,
    details: dict[str, Any],
    target_type: str = "person",
) -> AuditEvent:
    """The audit record of a DPO's action from the command line."""
    from uuid import uuid4

    return AuditEvent(
        event_id=str(uuid4()),
        at=utcnow(),
        actor=Actor(kind="operator", id=requested_by, force=None),
        role=DPO_ROLE,
        action=action,
        target_type=target_type,
        target_id=target_id,
        force=None,
        details={**details, "via": "cli"},
    )


async def write_audit(settings: BaseServiceSettings, record: AuditEvent) -> None:
    """Send the record and wait for Kafka: an action that cannot be audited fails loudly."""
    holder = ProducerHolder(settings, "socialdesk-cli")
    try:
        producer = await holder.get()
        await produce_and_wait(
            producer, settings.topic_prefix, [Output(AUDIT_EVENTS, record.actor.id, record)]
        )
    finally:
        await holder.reset()


async def erase(
    settings: BaseServiceSettings, person: Person, requested_by: str, reason: str, dry_run: bool
) -> dict[str, Any]:
    """Run one erasure (or dry run) and audit it; the report as JSON."""
    request_id = new_request_id()
    # Recorded before anything changes: without Kafka, nothing is erased unaudited.
    requested = audit_record(
        requested_by, REQUESTED_ACTION, request_id, {"dry_run": dry_run}, "erasure"
    )
    await write_audit(settings, requested)
    es = make_es(settings)
    try:
        eraser = Eraser(es, settings, objects=object_store(settings), kafka=kafka_eraser())
        report = await eraser.run(
            person, requested_by=requested_by, reason=reason, dry_run=dry_run, request_id=request_id
        )
        action = ERASURE_PLANNED_ACTION if dry_run else ERASED_ACTION
        await write_audit(
            settings,
            audit_record(
                requested_by, action, report.request_id, report.audit_details(), "erasure"
            ),
        )
        return report.document()
    finally:
        await es.close()


def cmd_erase(args: argparse.Namespace) -> int:
    settings = BaseServiceSettings()
    person = Person(args.platform, args.author)
    doc = asyncio.run(erase(settings, person, args.requested_by, args.reason, args.dry_run))
    print(json.dumps(doc, indent=2))
    return 0 if doc["status"] == "done" else 1


async def restrict(
    settings: BaseServiceSettings, person: Person, requested_by: str, reason: str, lift: bool
) -> None:
    es = make_es(settings)
    try:
        await set_restricted(
            es, settings, person, by=requested_by, reason=reason, restricted=not lift
        )
        action = UNRESTRICTED_ACTION if lift else RESTRICTED_ACTION
        await write_audit(
            settings, audit_record(requested_by, action, person.key, {"reason": reason})
        )
    finally:
        await es.close()


def cmd_restrict(args: argparse.Namespace) -> int:
    settings = BaseServiceSettings()
    person = Person(args.platform, args.author)
    asyncio.run(restrict(settings, person, args.requested_by, args.reason, args.lift))
    print(f"{'lifted' if args.lift else 'restricted'}: {person.platform} author {person.key}")
    return 0
