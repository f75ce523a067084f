"""The payload of each item command type, validated once by `parse_payload`.

`ItemCommand.payload` stays a JSON object on the wire (items.commands keeps its schema);
these models are how code reads it. A payload that does not fit its model is refused
with the line its model's `needs` says, which assign's `rejected` event carries."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from socialdesk.events import CommandType, ItemCommand
from socialdesk.taxonomy import Flag, Intent, Outcome, Priority


class PayloadError(ValueError):
    """A command's payload that does not fit its type; the message says what it needs."""


class Payload(BaseModel):
    """What every command may carry. Unknown keys are ignored, as they always were, so an
    older or newer console does not have its commands refused."""

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)
    needs: ClassVar[str] = "{type}: payload.role is text"

    role: str | None = Field(default=None, description="the issuer's role, set by the console")


class AssignPayload(Payload):
    needs: ClassVar[str] = "assign needs payload.operator"
    operator: StrictStr = Field(min_length=1)


class TextPayload(Payload):
    """A reply or an internal note."""

    needs: ClassVar[str] = "{type} needs payload.text"
    text: StrictStr
    language: str | None = Field(
        default=None, max_length=16, description="the text's language (en, cy), for lang marks"
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("blank")
        return v


class RegradePayload(Payload):
    needs: ClassVar[str] = "regrade needs payload.priority P1-P4"
    priority: Priority
    reason: str | None = None


class RecategorisePayload(Payload):
    """Either or both; what is left out stays as it is on the item."""

    needs: ClassVar[str] = "unknown intent or flag: {error}"
    intent: Intent | None = None
    flags: list[Flag] | None = None


class TransferPayload(Payload):
    """Left out, the force is the item's own (a move between its teams)."""

    needs: ClassVar[str] = "transfer needs payload.force and payload.team as text"
    force: StrictStr | None = None
    team: StrictStr = "digital-desk"


class ResolvePayload(Payload):
    needs: ClassVar[str] = "resolve needs an outcome: " + ", ".join(o.value for o in Outcome)
    outcome: Outcome
    crime_reference: str | None = None


class MergePayload(Payload):
    needs: ClassVar[str] = "merge needs payload.into, another item's id"
    into: StrictStr = Field(min_length=1)


class AbsorbPayload(Payload):
    """What a merge tells the item it went into: the merged report's grade, flags and
    first contact (assign writes it; no operator sends it)."""

    model_config = ConfigDict(populate_by_name=True)
    needs: ClassVar[str] = "absorb needs payload.priority, flags and first_contact_at: {error}"
    from_: str | None = Field(default=None, alias="from")
    priority: Priority
    flags: list[Flag] = Field(default_factory=list)
    urgency: float | None = None
    first_contact_at: datetime
    by: str | None = None


class HandOverPayload(Payload):
    needs: ClassVar[str] = "hand_over needs payload.reason as text and payload.rule as flags"
    reason: str | None = None
    rule: list[str] = Field(default_factory=list, description="the flags of a force rule")


class ControlRoomUpdatePayload(Payload):
    """The dispatcher's delivery outcome (`source` delivery) or a control-room callback;
    which fields a kind needs is assign's to check, in its order."""

    needs: ClassVar[str] = (
        "control_room_update needs payload.handover_id and status as text, and sent_at as a time"
    )
    handover_id: str | None = None
    status: str | None = None
    source: str | None = None
    error: str | None = None
    callback_id: str | None = None
    sent_at: datetime | None = None
    incident_number: str | None = None
    note: str | None = None


class SentByHandPayload(Payload):
    """The reply an operator posted by hand (no publisher, or no token for the account):
    the `replied` event's id, as its `reply.undeliverable` audit record names it."""

    needs: ClassVar[str] = "sent_by_hand needs payload.reply_event_id, the reply's event id"
    reply_event_id: StrictStr = Field(min_length=3, max_length=300)


PAYLOADS: dict[CommandType, type[Payload]] = {
    CommandType.claim: Payload,
    CommandType.release: Payload,
    CommandType.assign: AssignPayload,
    CommandType.note: TextPayload,
    CommandType.reply: TextPayload,
    CommandType.regrade: RegradePayload,
    CommandType.recategorise: RecategorisePayload,
    CommandType.transfer: TransferPayload,
    CommandType.await_public: Payload,
    CommandType.resolve: ResolvePayload,
    CommandType.reopen: Payload,
    CommandType.merge: MergePayload,
    CommandType.absorb: AbsorbPayload,
    CommandType.hand_over: HandOverPayload,
    CommandType.control_room_update: ControlRoomUpdatePayload,
    CommandType.sent_by_hand: SentByHandPayload,
}


# What a person may send from the console (the rest are written by services).
OPERATOR_COMMANDS: frozenset[CommandType] = frozenset(
    {
        CommandType.claim,
        CommandType.release,
        CommandType.assign,
        CommandType.note,
        CommandType.reply,
        CommandType.regrade,
        CommandType.recategorise,
        CommandType.transfer,
        CommandType.await_public,
        CommandType.resolve,
        CommandType.reopen,
        CommandType.merge,
        CommandType.sent_by_hand,
    }
)
SUPERVISOR_COMMANDS: frozenset[CommandType] = frozenset({CommandType.assign})


def parse_payload(command: ItemCommand) -> Payload:
    """The command's payload as its type's model; PayloadError (saying what the type
    needs) if it does not fit."""
    return payload_of(command.type, command.payload)


def payload_of(type_: CommandType, payload: dict[str, object]) -> Payload:
    """parse_payload before there is a command (the console checks a request with it)."""
    model = PAYLOADS[type_]
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        error = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        raise PayloadError(model.needs.format(type=type_.value, error=error)) from None
