"""Units with stable ids and the context a coder needs, on the real development data."""

from __future__ import annotations

import pandas as pd
import pytest

from thoughtcode.corpus import (
    StageRule,
    conversation_units,
    load_corpus,
    reference_labels,
    thought_units,
    units_for,
    units_frame,
    user_turn_units,
)


@pytest.fixture(scope="module")
def dev(dev_file):
    return load_corpus(dev_file)


def test_thought_ids_are_stable_and_unique(dev):
    units = list(thought_units(dev))
    assert len(units) == 1128
    ids = [u.unit_id for u in units]
    assert len(set(ids)) == len(ids)
    assert ids == [u.unit_id for u in thought_units(dev)]
    first = units[0]
    conversation = next(c for c in dev if c.id == first.conversation_id)
    message = next(m for m in conversation.messages if str(m.id) == first.message_id)
    kind_list = message.reasons if first.kind == "reason" else message.reactions
    assert first.unit_id == f"{conversation.id}:{message.id}:{first.kind}:{first.k}"
    assert kind_list[first.k].content == first.text


def test_reason_context_is_message_and_reply_before(dev):
    units = [u for u in thought_units(dev, kinds=("reason",)) if u.user_turn_index == 1]
    unit = units[0]
    conversation = next(c for c in dev if c.id == unit.conversation_id)
    index = unit.message_index
    assert conversation.messages[index].content == unit.message
    assert conversation.messages[index - 1].type == "assistant"
    assert conversation.messages[index - 1].content == unit.previous_message


def test_reaction_context_is_reply_and_next_user_message(dev):
    unit = next(u for u in thought_units(dev, kinds=("reaction",)) if u.message_index + 1 < u.n_messages)
    conversation = next(c for c in dev if c.id == unit.conversation_id)
    assert conversation.messages[unit.message_index].type == "assistant"
    assert unit.next_message == conversation.messages[unit.message_index + 1].content


def test_positions_and_stages_follow_the_study_rule(dev):
    for unit in thought_units(dev):
        assert unit.position == pytest.approx(unit.message_index / (unit.n_messages - 1))
        assert unit.stage == ("Early", "Mid-Early", "Mid-Late", "Late")[round(3 * unit.position)]


def test_stage_shares_of_the_study_reproduce_on_dev_data(dev):
    """BRIEF §5: the paper's stage directions on the development file, exactly."""
    frame = units_frame(thought_units(dev))
    order = ["Early", "Mid-Early", "Mid-Late", "Late"]

    def shares(kind: str, label: str) -> list[int]:
        part = frame[frame.kind == kind]
        table = pd.crosstab(part.stage, part.label, normalize="index").reindex(order)
        return [round(100 * v) for v in table[label]]

    assert shares("reason", "task_motivation") == [65, 32, 17, 15]
    assert shares("reason", "task_continuation") == [2, 28, 36, 28]
    assert shares("reaction", "explicit_affirmation") == [68, 69, 77, 83]


def test_stage_rule_is_a_parameter(dev):
    thirds = StageRule(names=("start", "middle", "end"), method="bin")
    stages = {u.stage for u in thought_units(dev[:30], stage_rule=thirds)}
    assert stages <= {"start", "middle", "end"}
    assert thirds(0.0) == "start" and thirds(0.5) == "middle" and thirds(1.0) == "end"


def test_one_message_conversation_is_at_position_zero(dev):
    single = dev[0].model_copy(update={"messages": dev[0].messages[:1]})
    units = list(user_turn_units([single]))
    assert units[0].position == 0.0 and units[0].stage == "Early"


def test_user_turns_carry_previous_turn_and_reply(dev):
    units = list(user_turn_units(dev))
    assert len(units) == 830
    second = next(u for u in units if u.user_turn_index == 1)
    previous = next(u for u in units if u.conversation_id == second.conversation_id and u.user_turn_index == 0)
    assert second.previous_user_message == previous.text
    assert second.assistant_reply is not None
    assert second.unit_id == f"{second.conversation_id}:{second.message_id}"
    assert previous.previous_user_message is None and previous.assistant_reply is None


def test_conversation_units(dev):
    units = list(conversation_units(dev))
    assert [u.unit_id for u in units] == [c.id for c in dev]
    assert units[0].text.startswith("User: ")


def test_units_for_every_kind_and_frames(dev):
    assert len(units_frame(units_for(dev, "reason"))) == 519
    assert len(units_frame(units_for(dev, "reaction"))) == 609
    assert len(units_frame(units_for(dev, "user_turn"))) == 830
    assert len(units_frame(units_for(dev, "conversation"))) == 216
    with pytest.raises(ValueError, match="unknown unit kind"):
        units_for(dev, "sentence")


def test_reference_labels_are_a_labels_table(dev):
    table = reference_labels(thought_units(dev, kinds=("reason",)), scheme="reasons")
    assert list(table.columns) == ["unit_id", "scheme", "label", "coder", "status"]
    assert len(table) == 519 and table.label.value_counts()["task_motivation"] == 188
