"""Response models generated from a codebook: the structured answer an LLM must give.

The label is a ``Literal`` of the codebook's assignable category ids (a list of them for multi-label
codebooks), so an answer naming a code outside the codebook fails validation and is re-asked; it is never
mapped to a default. The batched model returns one entry per unit key; which keys are missing or repeated
is checked by the coder (those units are re-asked alone), not by validation, so one missing unit does not
throw away the answers for the others.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from thoughtcode.taxonomy import Codebook

RATIONALE_HELP = "One short sentence on why the code fits."
CONFIDENCE_HELP = "How sure you are that the code is right, from 0 (guess) to 1 (certain)."


def _dedupe(values: list[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _label_type(label_ids: tuple[str, ...]) -> Any:
    return Literal[label_ids]  # type: ignore[valid-type]


def _fields(label_ids: tuple[str, ...], multi_label: bool) -> dict[str, Any]:
    label_type = _label_type(label_ids)
    fields: dict[str, Any] = {}
    if multi_label:
        fields["labels"] = (
            list[label_type],  # type: ignore[valid-type]
            Field(min_length=1, description="The ids of every code that applies (at least one)."),
        )
    else:
        fields["label"] = (label_type, Field(description="The id of the one code that applies."))
    fields["rationale"] = (str, Field(description=RATIONALE_HELP))
    fields["confidence"] = (float, Field(ge=0, le=1, description=CONFIDENCE_HELP))
    return fields


class _Answer(BaseModel):
    """Common behaviour: labels of a multi-label answer are de-duplicated in the order given."""

    model_config = ConfigDict(extra="ignore")

    @field_validator("labels", mode="after", check_fields=False)
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return _dedupe(value)


@lru_cache(maxsize=64)
def _single_model(label_ids: tuple[str, ...], multi_label: bool) -> type[BaseModel]:
    model = create_model("CodeUnit", __base__=_Answer, **_fields(label_ids, multi_label))
    model.__doc__ = "The code for the unit, from the codebook, with a short rationale and a confidence."
    return model


@lru_cache(maxsize=64)
def _batch_model(label_ids: tuple[str, ...], multi_label: bool) -> type[BaseModel]:
    item = create_model(
        "UnitCode",
        __base__=_Answer,
        unit_id=(str, Field(description="The id attribute of the unit, e.g. u1.")),
        **_fields(label_ids, multi_label),
    )
    item.__doc__ = "The code for one unit."
    model = create_model(
        "CodeUnits",
        __base__=BaseModel,
        answers=(list[item], Field(description="One entry per unit, every unit id exactly once.")),  # type: ignore[valid-type]
    )
    model.__doc__ = "The codes for every unit of the request, one entry per unit."
    return model


def response_model(codebook: Codebook, batch: bool = False) -> type[BaseModel]:
    """The pydantic model an LLM answer must validate against (cached per codebook label set)."""
    ids = tuple(codebook.label_ids)
    return _batch_model(ids, codebook.multi_label) if batch else _single_model(ids, codebook.multi_label)


def answer_labels(answer: Any) -> list[str]:
    """The label(s) of a validated answer as a list (one element for single-label codebooks)."""
    labels = getattr(answer, "labels", None)
    if labels is not None:
        return list(labels)
    return [answer.label]
