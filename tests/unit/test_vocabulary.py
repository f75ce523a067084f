"""The typed vocabulary: every command assign accepts has a type and a payload model,
and the enums keep the strings on the wire."""

from __future__ import annotations

import json

import pytest

from socialdesk.commands import PAYLOADS, PayloadError, ResolvePayload, parse_payload
from socialdesk.events import CommandType, ItemCommand, ItemEventType
from socialdesk_assign.transitions import HANDLERS
from tests.unit.conftest import ALICE, T0


def test_every_command_type_has_a_payload_model_and_a_handler() -> None:
    assert set(PAYLOADS) == set(CommandType)
    routed_first = {CommandType.absorb, CommandType.control_room_update}
    assert set(HANDLERS) | routed_first == set(CommandType)
    assert CommandType.merge in HANDLERS


def test_enums_serialise_as_the_plain_strings() -> None:
    cmd = ItemCommand(
        command_id="c1", item_id="itm_1", type="resolve", actor=ALICE, issued_at=T0,
        payload={"outcome": "no_action"},
    )  # fmt: skip
    assert cmd.type == "resolve" and json.loads(cmd.model_dump_json())["type"] == "resolve"
    assert ItemEventType.rejected == "rejected" and f"{ItemEventType.rejected}" == "rejected"


def test_parse_payload_types_the_payload_once_and_says_what_is_missing() -> None:
    def cmd(type_: str, payload: dict[str, object]) -> ItemCommand:
        return ItemCommand(
            command_id="c", item_id="i", type=type_, actor=ALICE, issued_at=T0, payload=payload
        )

    parsed = parse_payload(cmd("resolve", {"outcome": "no_action", "role": "operator"}))
    assert isinstance(parsed, ResolvePayload) and parsed.outcome == "no_action"
    with pytest.raises(PayloadError, match="resolve needs an outcome"):
        parse_payload(cmd("resolve", {"outcome": "sorted"}))
    with pytest.raises(PayloadError, match=r"note needs payload\.text"):
        parse_payload(cmd("note", {"text": "  "}))
