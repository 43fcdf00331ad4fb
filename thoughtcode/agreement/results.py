"""Result models: what agreement and validation runs return, and their JSON form.

The JSON form never holds NaN: an undefined coefficient is ``null`` with a warning that says why.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from thoughtcode.agreement.intervals import Estimate
from thoughtcode.jsonsafe import json_safe

KAPPA_FAMILY = (
    "cohen_kappa",
    "scott_pi",
    "fleiss_kappa",
    "conger_kappa",
    "light_kappa",
    "brennan_prediger",
    "gwet_ac1",
    "gwet_ac2",
)

LANDIS_KOCH = (
    (0.0, "poor"),
    (0.20, "slight"),
    (0.40, "fair"),
    (0.60, "moderate"),
    (0.80, "substantial"),
    (1.0, "almost perfect"),
)
LANDIS_KOCH_NOTE = "Landis & Koch (1977) bands for kappa-type coefficients: a convention, not a test"
KRIPPENDORFF_NOTE = (
    "Krippendorff (2004) convention for alpha: >= 0.800 reliable, 0.667-0.800 tentative conclusions only, "
    "< 0.667 not reliable"
)


class Coefficient(BaseModel):
    """One coefficient with its uncertainty and the kind of interval reported."""

    value: float | None
    se: float | None = None
    ci: tuple[float, float] | None = None
    ci_method: Literal["analytic", "bootstrap"] | None = None

    @classmethod
    def from_estimate(cls, est: Estimate) -> Coefficient:
        return cls(value=est.value, se=est.se, ci=est.ci, ci_method=est.method)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": json_safe(self.value),
            "se": json_safe(self.se),
            "ci": json_safe(self.ci),
            "ci_method": self.ci_method,
        }


def interpret(name: str, value: float | None) -> dict[str, str] | None:
    """The conventional verbal band of a value, labelled as a convention."""
    if value is None:
        return None
    if name.startswith("krippendorff_alpha"):
        band = "reliable" if value >= 0.800 else "tentative" if value >= 0.667 else "not reliable"
        return {"band": band, "convention": KRIPPENDORFF_NOTE}
    if name in KAPPA_FAMILY:
        band = "poor"
        if value >= 0:
            for upper, label in LANDIS_KOCH[1:]:
                band = label
                if value <= upper:
                    break
        return {"band": band, "convention": LANDIS_KOCH_NOTE}
    return None


class AgreementResult(BaseModel):
    """Agreement among coders on one set of units.

    ``to_dict()`` gives the documented JSON: n_units, n_coders, n_ratings, level, coefficients,
    per_category, warnings, followed by detail keys (intervals used, tests, weighted coefficients,
    pairwise kappas, interpretation bands, disagreements).
    """

    n_units: int
    n_coders: int
    n_ratings: int
    level: str
    coefficients: dict[str, Coefficient]
    per_category: dict[str, dict[str, Any]] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    n_pairable_units: int = 0
    single_rated_units: list[Any] = Field(default_factory=list)
    dropped_units: list[Any] = Field(default_factory=list)
    categories: list[Any] = Field(default_factory=list)
    coders: list[Any] | None = None
    interval: dict[str, Any] = Field(default_factory=dict)
    tests: dict[str, Any] = Field(default_factory=dict)
    weights: str | None = None
    weighted: dict[str, Coefficient] = Field(default_factory=dict)
    pairwise: list[dict[str, Any]] = Field(default_factory=list)
    disagreements: list[dict[str, Any]] = Field(default_factory=list)
    n_disagreements: int = 0
    confused_pairs: list[dict[str, Any]] = Field(default_factory=list)
    matrix: dict[str, Any] | None = None

    def interpretation(self) -> dict[str, dict[str, str]]:
        out = {}
        for name, coef in self.coefficients.items():
            band = interpret(name, coef.value)
            if band is not None:
                out[name] = band
        return out

    def to_dict(self, max_disagreements: int = 200) -> dict[str, Any]:
        body: dict[str, Any] = {
            "n_units": self.n_units,
            "n_coders": self.n_coders,
            "n_ratings": self.n_ratings,
            "level": self.level,
            "coefficients": {k: v.to_dict() for k, v in self.coefficients.items()},
            "per_category": self.per_category,
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "n_pairable_units": self.n_pairable_units,
            "single_rated_units": self.single_rated_units,
            "dropped_units": self.dropped_units,
            "categories": self.categories,
            "interval": self.interval,
            "tests": self.tests,
            "weights": self.weights,
            "weighted": {k: v.to_dict() for k, v in self.weighted.items()},
            "pairwise": self.pairwise,
            "interpretation": self.interpretation(),
            "n_disagreements": self.n_disagreements,
            "disagreements": self.disagreements[:max_disagreements],
            "confused_pairs": self.confused_pairs,
        }
        return json_safe(body)


class ValidationResult(BaseModel):
    """One or more coders against reference labels on the same units."""

    n_reference_units: int
    categories: list[Any]
    coders: dict[str, dict[str, Any]]
    comparison: dict[str, Any] | None = None
    disagreements: list[dict[str, Any]] = Field(default_factory=list)
    n_disagreements: int = 0
    interval: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)

    def to_dict(self, max_disagreements: int = 200) -> dict[str, Any]:
        body = {
            "n_reference_units": self.n_reference_units,
            "categories": self.categories,
            "coders": self.coders,
            "comparison": self.comparison,
            "n_disagreements": self.n_disagreements,
            "disagreements": self.disagreements[:max_disagreements],
            "interval": self.interval,
            "warnings": list(self.warnings),
        }
        return json_safe(body)

