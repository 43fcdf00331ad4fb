"""Conversations in, units out: data model, streaming readers and writers, units with stable ids."""

from thoughtcode.corpus.check import Finding, check_corpus
from thoughtcode.corpus.models import Conversation, Message, SurveyAnswer, Thought
from thoughtcode.corpus.readers import (
    FORMATS,
    CorpusError,
    CorpusReader,
    ReadReport,
    detect_format,
    load_corpus,
    read_corpus,
)
from thoughtcode.corpus.stats import corpus_stats
from thoughtcode.corpus.tokens import TOKENIZER_NAME, count_tokens
from thoughtcode.corpus.units import (
    DEFAULT_STAGES,
    STAGE_NAMES,
    UNIT_KINDS,
    ConversationUnit,
    StageRule,
    ThoughtUnit,
    UserTurnUnit,
    conversation_units,
    dialogue,
    reference_labels,
    shorten,
    thought_units,
    transcript,
    units_for,
    units_frame,
    user_turn_units,
)
from thoughtcode.corpus.writers import write_jsonl, write_table

__all__ = [
    "DEFAULT_STAGES",
    "FORMATS",
    "STAGE_NAMES",
    "TOKENIZER_NAME",
    "UNIT_KINDS",
    "Conversation",
    "ConversationUnit",
    "CorpusError",
    "CorpusReader",
    "Finding",
    "Message",
    "ReadReport",
    "StageRule",
    "SurveyAnswer",
    "Thought",
    "ThoughtUnit",
    "UserTurnUnit",
    "check_corpus",
    "conversation_units",
    "corpus_stats",
    "count_tokens",
    "detect_format",
    "dialogue",
    "load_corpus",
    "read_corpus",
    "reference_labels",
    "shorten",
    "thought_units",
    "transcript",
    "units_for",
    "units_frame",
    "user_turn_units",
    "write_jsonl",
    "write_table",
]
