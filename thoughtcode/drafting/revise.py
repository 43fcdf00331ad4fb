"""Apply accepted proposals and measure: the next codebook version, re-coding, agreement before and after.

1. :func:`apply_proposals` writes the next version of the codebook with its declared ``migration``:
   a merge maps the merged ids onto the kept one (no re-coding), a split maps the old id to its parts, a
   retirement maps it to ``null``, an added category turns each category its units came from into a
   choice between that category and the new one, and a sharpened boundary turns each of the two categories
   into a choice between both. The last three mark labels for re-coding (see
   :mod:`thoughtcode.taxonomy.migrate`).
2. :func:`recode_revision` migrates a labels table to the new version and sends *only the units the
   migration marks* back to their coders; coders that cannot be re-run (human reference labels) keep those
   units pending, reported.
3. :func:`measure_revision` compares two coders on the same units before and after: Cohen's kappa,
   percent agreement and Krippendorff's alpha under each version and the difference after - before, with a
   paired percentile bootstrap (the same resampled units for both versions), answering "did this revision
   raise agreement, and by how much?".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from thoughtcode.drafting.induce import DraftingError, one_line
from thoughtcode.drafting.suggest import Proposal, SuggestionReport
from thoughtcode.taxonomy import Codebook, parse_codebook
from thoughtcode.taxonomy.model import SEMVER

REMOVING = ("merge", "split", "retire")


# --- 1. the next version ------------------------------------------------------------------------------------
def next_version(codebook: Codebook, breaking: bool) -> str:
    """0.x: the next minor (0.1.0 -> 0.2.0). From 1.0.0: major when ids go away, else minor."""
    match = SEMVER.match(codebook.version)
    assert match is not None
    major, minor, _ = (int(g) for g in match.groups())
    if major == 0 or not breaking:
        return f"{major}.{minor + 1}.0"
    return f"{major + 1}.0.0"


def _first_sentence(text: str, limit: int = 160) -> str:
    return one_line(re.split(r"(?<=[.;])\s", " ".join(text.split()), maxsplit=1)[0], limit)


def _category(data: Mapping[str, Any], parent: str | None) -> dict[str, Any]:
    examples = [
        {"text": e["text"], "source": e.get("unit_id") or e.get("source"), "note": e.get("note")}
        for e in data.get("examples", [])
        if (e.get("text") or "").strip()
    ]
    return {
        "id": data["id"],
        "name": data["name"],
        "definition": data["definition"],
        "include": list(data.get("include", [])),
        "exclude": list(data.get("exclude", [])),
        "examples": examples,
        "near_misses": [],
        "parent": data.get("parent", parent),
        "aliases": list(data.get("aliases", [])),
    }


def apply_proposals(
    codebook: Codebook,
    proposals: Sequence[Proposal],
    *,
    version: str | None = None,
    when: str | None = None,
) -> Codebook:
    """The next version of ``codebook`` with the accepted proposals and the migration from this version."""
    if not proposals:
        raise DraftingError("no proposal accepted: nothing to apply")
    categories: dict[str, dict[str, Any]] = {c.id: c.model_dump(mode="json") for c in codebook.categories}
    order = list(codebook.order) if codebook.order else None
    mapping: dict[str, str | list[str] | None] = {}
    owner: dict[str, str] = {}  # old id -> proposal that set its migration
    removed: dict[str, str] = {}  # id -> proposal that removed it
    changes: list[str] = []

    def existing(cid: str, proposal: Proposal) -> dict[str, Any]:
        if cid in removed:
            raise DraftingError(f"{proposal.id} changes {cid!r}, which {removed[cid]} already removed; accept only one of them")
        if cid not in categories:
            raise DraftingError(f"{proposal.id}: {codebook.ref} has no category {cid!r}")
        return categories[cid]

    def map_old(old: str, target: str | list[str] | None, proposal: Proposal) -> None:
        if old not in {c.id for c in codebook.categories}:
            return  # a category new in this version has no old labels
        if old in mapping:
            current = mapping[old]
            if isinstance(current, list) and isinstance(target, list):
                mapping[old] = list(dict.fromkeys([*current, *target]))
                return
            raise DraftingError(
                f"{proposal.id} and {owner[old]} both decide what becomes of {old!r} labels; accept only one of them"
            )
        mapping[old] = target
        owner[old] = proposal.id

    def remove(cid: str, proposal: Proposal) -> None:
        removed[cid] = proposal.id
        del categories[cid]

    def insert_after(anchor: str | None, new: list[dict[str, Any]]) -> None:
        nonlocal categories
        items = list(categories.items())
        position = next((i + 1 for i, (k, _) in enumerate(items) if k == anchor), len(items))
        items[position:position] = [(c["id"], c) for c in new]
        categories = dict(items)

    for proposal in proposals:
        change = proposal.change
        op = change.get("op")
        if op == "merge":
            into = existing(change["into"], proposal)
            for other_id in change["merge"]:
                other = existing(other_id, proposal)
                into["aliases"] = list(dict.fromkeys([*into["aliases"], other_id, other["name"], *other["aliases"]]))
                into["include"] = list(dict.fromkeys([*into["include"], *other["include"]]))
                into["exclude"] = [e for e in dict.fromkeys([*into["exclude"], *other["exclude"]]) if other["name"] not in e]
                into["examples"] = [*into["examples"], *other["examples"][:2]]
                if not change.get("definition"):
                    into["definition"] = f"{into['definition']} Also covers what was {other['name']}: {other['definition']}"
                map_old(other_id, change["into"], proposal)
                remove(other_id, proposal)
                if order is not None:
                    order.remove(other_id)
            if change.get("definition"):
                into["definition"] = change["definition"]
            if change.get("name"):
                into["name"] = change["name"]
        elif op == "sharpen":
            a, b = change["categories"]
            first, second = existing(a, proposal), existing(b, proposal)
            edits = change.get("definitions") or {}
            for this, that in ((first, second), (second, first)):
                if edits.get(this["id"]):
                    this["definition"] = edits[this["id"]]
                line = f"Not {that['name']} ({that['id']}): {_first_sentence(that['definition'])}"
                if line not in this["exclude"]:
                    this["exclude"].append(line)
            map_old(a, [a, b], proposal)
            map_old(b, [a, b], proposal)
        elif op == "split":
            old_id = change["category"]
            old = existing(old_id, proposal)
            parts = [_category(part, old.get("parent")) for part in change["into"]]
            for part in parts:
                if part["id"] in categories and part["id"] != old_id:
                    raise DraftingError(f"{proposal.id}: the new id {part['id']!r} is already a category")
            insert_after(old_id, parts)
            map_old(old_id, [p["id"] for p in parts], proposal)
            remove(old_id, proposal)
            if order is not None:
                at = order.index(old_id)
                order[at : at + 1] = [p["id"] for p in parts]
        elif op == "add":
            new = _category(change["category"], None)
            if new["id"] in categories:
                raise DraftingError(f"{proposal.id}: {new['id']!r} is already a category")
            sources = [existing(s, proposal) for s in change.get("recode_from", [])]
            parents = {s.get("parent") for s in sources}
            new["parent"] = parents.pop() if len(parents) == 1 else None
            insert_after(sources[0]["id"] if sources else None, [new])
            for source in change.get("recode_from", []):
                map_old(source, [source, new["id"]], proposal)
            if order is not None:
                order.append(new["id"])
        elif op == "retire":
            old_id = change["category"]
            existing(old_id, proposal)
            map_old(old_id, None, proposal)
            remove(old_id, proposal)
            if order is not None:
                order.remove(old_id)
        else:
            raise DraftingError(f"{proposal.id}: unknown change {op!r}")
        changes.append(f"{proposal.summary} ({proposal.id}).")

    for old, target in mapping.items():
        targets = target if isinstance(target, list) else [] if target is None else [target]
        gone = [t for t in targets if t in removed]
        if gone:
            raise DraftingError(
                f"{owner[old]} re-codes {old!r} among {', '.join(targets)}, but {removed[gone[0]]} removes {gone[0]!r}; "
                "accept only one of them"
            )
    # parents left without children are dropped (they were never assignable, so no label needs them)
    while True:
        has_children = {c.get("parent") for c in categories.values()}
        orphans = [cid for cid in categories if cid in {c.id for c in codebook.parents} and cid not in has_children]
        if not orphans:
            break
        for cid in orphans:
            del categories[cid]
    breaking = any(p.change.get("op") in REMOVING for p in proposals)
    new_version = version or next_version(codebook, breaking)
    data = codebook.model_dump(mode="json", by_alias=True)
    data.update(
        version=new_version,
        categories=list(categories.values()),
        order=order,
        migration={"from": codebook.version, "map": mapping},
        changelog=[*data.get("changelog", []), {"version": new_version, "date": when or date.today().isoformat(), "changes": changes}],
    )
    try:
        return parse_codebook(data, source=f"{codebook.name}@{new_version}")
    except ValueError as exc:
        raise DraftingError(f"the accepted proposals do not make a valid codebook: {exc}") from None


def accepted(report: SuggestionReport, accept: str | Sequence[str]) -> list[Proposal]:
    """The proposals named in ``accept`` (``"P1,P3"``, a list, or ``"all"``), in the report's order."""
    if isinstance(accept, str):
        accept = [a.strip() for a in accept.split(",") if a.strip()]
    if [a.lower() for a in accept] == ["all"]:
        return list(report.proposals)
    wanted = set(accept)
    unknown = wanted - {p.id for p in report.proposals}
    if unknown:
        raise DraftingError(f"unknown proposal(s) {', '.join(sorted(unknown))}; known: {', '.join(p.id for p in report.proposals)}")
    return [p for p in report.proposals if p.id in wanted]


# --- 2. re-code only what the migration marks -------------------------------------------------------------
@dataclass
class RecodeResult:
    """The labels table under the new version and what re-coding did, per coder."""

    frame: pd.DataFrame
    migration: Any
    marked: dict[str, list[str]] = field(default_factory=dict)
    recoded: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    pending: dict[str, list[str]] = field(default_factory=dict)
    outside_candidates: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "migration": self.migration.to_dict(),
            "marked": {k: len(v) for k, v in self.marked.items()},
            "recoded": self.recoded,
            "failed": self.failed,
            "pending": {k: len(v) for k, v in self.pending.items()},
            "outside_candidates": self.outside_candidates,
        }

    def format_text(self) -> str:
        lines = [self.migration.format_text()]
        for coder, units in self.marked.items():
            line = f"  {coder}: {len(units)} unit(s) marked, {self.recoded.get(coder, 0)} re-coded"
            if self.failed.get(coder):
                line += f", {self.failed[coder]} failed"
            if self.pending.get(coder):
                line += f", {len(self.pending[coder])} pending (no coder to re-run: re-code them by hand)"
            if self.outside_candidates.get(coder):
                line += f", {self.outside_candidates[coder]} landed outside the migration's candidates"
            lines.append(line)
        return "\n".join(lines)


def recode_revision(
    labels: pd.DataFrame,
    old: Codebook,
    new: Codebook,
    units: Sequence[Any],
    coders: Mapping[str, Any],
    *,
    assume_unstamped: bool = False,
) -> RecodeResult:
    """Migrate ``labels`` from ``old`` to ``new``; re-code the marked units with their own coder.

    ``coders`` maps the ``coder`` column's values to coder objects (the Coder protocol); rows of coders
    not in it (e.g. human reference labels) stay marked and are reported as pending. The re-coding coder
    sees the whole new codebook; labels outside the migration's candidates are kept and counted.
    """
    from thoughtcode.labels import labels_frame
    from thoughtcode.taxonomy.migrate import migrate_labels

    migrated = migrate_labels(labels, old, new, versions=[old, new], assume_unstamped=assume_unstamped)
    frame = migrated.frame
    result = RecodeResult(frame=frame, migration=migrated.report)
    marked_rows = frame.index[frame["needs_recoding"].fillna(False).astype(bool)]
    if not len(marked_rows):
        return result
    by_id = {u.unit_id: u for u in units}
    replacements: list[pd.DataFrame] = []
    drop: list[Any] = []
    for coder_name, rows in frame.loc[marked_rows].groupby(frame.loc[marked_rows, "coder"].astype(str), sort=False):
        result.marked[coder_name] = rows["unit_id"].astype(str).tolist()
        coder = coders.get(coder_name)
        todo = rows.loc[rows["unit_id"].astype(str).isin(by_id)]
        missing = rows.loc[~rows["unit_id"].astype(str).isin(by_id), "unit_id"].astype(str).tolist()
        if coder is None or todo.empty:
            result.pending[coder_name] = result.marked[coder_name]
            continue
        if missing:
            result.pending[coder_name] = missing
        for scheme, group in todo.groupby(todo["scheme"].fillna(new.name) if "scheme" in todo else pd.Series(new.name, index=todo.index)):
            records = coder.code([by_id[str(u)] for u in group["unit_id"]], new, str(scheme))
            recoded = labels_frame(records)
            recoded.index = group.index
            recoded["previous_codebook"] = group["previous_codebook"].to_numpy()
            recoded["previous_label"] = group["previous_label"].to_numpy() if "previous_label" in group else None
            recoded["recoded"] = True
            recoded["needs_recoding"] = False
            recoded["recode_candidates"] = None
            ok = recoded["status"] == "ok"
            result.recoded[coder_name] = result.recoded.get(coder_name, 0) + int(ok.sum())
            result.failed[coder_name] = result.failed.get(coder_name, 0) + int((~ok).sum())
            outside = 0
            for label, candidates in zip(recoded["label"], group["recode_candidates"], strict=True):
                if label is not None and isinstance(candidates, list) and candidates and label not in candidates:
                    outside += 1
            if outside:
                result.outside_candidates[coder_name] = result.outside_candidates.get(coder_name, 0) + outside
            replacements.append(recoded)
            drop += list(group.index)
    if replacements:
        kept = frame.drop(index=drop)
        result.frame = pd.concat([kept, *replacements]).sort_index(kind="stable").reset_index(drop=True)
    return result


# --- 3. agreement before and after on the same units --------------------------------------------------------
@dataclass
class RevisionMeasure:
    """Agreement of two coders on the same units under the old and the new version."""

    coders: tuple[str, str]
    old_ref: str
    new_ref: str
    n_units: int
    before: dict[str, dict[str, Any]]
    after: dict[str, dict[str, Any]]
    difference: dict[str, dict[str, Any]]
    bootstrap: int
    seed: int | None
    confidence: float
    excluded: dict[str, int] = field(default_factory=dict)
    n_units_total: int | None = None  # units both coders labelled under either version
    left_out: dict[str, int] = field(default_factory=dict)  # why the others are not measured
    pending_hint: str = "re-code them to measure on every unit"

    @property
    def coverage(self) -> str:
        """On how many units agreement was measured, out of how many, and why the rest are left out."""
        total = self.n_units_total if self.n_units_total is not None else self.n_units
        if self.n_units >= total:
            return f"measured on all {total} units both coders labelled"
        reasons = []
        if self.left_out.get("pending_recoding"):
            reasons.append(f"{self.left_out['pending_recoding']} marked for re-coding are pending: {self.pending_hint}")
        if self.left_out.get("failed_recoding"):
            reasons.append(f"{self.left_out['failed_recoding']} failed re-coding")
        if self.left_out.get("not_labelled_by_both_before"):
            reasons.append(f"{self.left_out['not_labelled_by_both_before']} were not labelled by both under {self.old_ref or 'the old version'}")
        if self.left_out.get("other"):
            reasons.append(f"{self.left_out['other']} lack a label from one coder under {self.new_ref or 'the new version'}")
        return f"measured on {self.n_units} of {total} units; " + "; ".join(reasons)

    def headline(self, metric: str = "cohen_kappa") -> str:
        b, a, d = self.before[metric], self.after[metric], self.difference[metric]
        name = {"cohen_kappa": "Cohen's kappa", "percent_agreement": "agreement", "krippendorff_alpha": "alpha"}[metric]
        if b["value"] is None or a["value"] is None:
            return f"{name}: undefined before or after on {self._units()}"
        ci = d.get("ci")
        interval = f", {self.confidence:.0%} CI {ci[0]:+.3f} to {ci[1]:+.3f}" if ci else ""
        verdict = ""
        if ci:
            verdict = "; raised" if ci[0] > 0 else "; lowered" if ci[1] < 0 else "; no clear change"
        return (
            f"{name} {b['value']:.3f} -> {a['value']:.3f} ({d['value']:+.3f}{interval}{verdict}) "
            f"on the same {self._units()}, {self.coders[0]} vs {self.coders[1]}"
        )

    def _units(self) -> str:
        total = self.n_units_total
        return f"{self.n_units} of {total} units" if total is not None and total > self.n_units else f"{self.n_units} units"

    def to_dict(self) -> dict[str, Any]:
        return {
            "coders": list(self.coders),
            "old": self.old_ref,
            "new": self.new_ref,
            "n_units": self.n_units,
            "n_units_total": self.n_units_total if self.n_units_total is not None else self.n_units,
            "units_left_out": self.left_out,
            "coverage": self.coverage,
            "before": self.before,
            "after": self.after,
            "difference": self.difference,
            "interval": {
                "method": "paired percentile bootstrap over units (the same resampled units for both versions)",
                "replicates": self.bootstrap,
                "seed": self.seed,
                "confidence": self.confidence,
            },
            "excluded_units": self.excluded,
            "headline": self.headline(),
        }


METRICS = ("cohen_kappa", "percent_agreement", "krippendorff_alpha")


def _pairs(frame: pd.DataFrame, coders: tuple[str, str]) -> pd.DataFrame:
    ok = frame
    if "status" in ok.columns:
        ok = ok.loc[ok["status"].astype(str).str.lower() != "failed"]
    ok = ok.loc[ok["label"].notna() & ok["coder"].astype(str).isin(coders)]
    wide = ok.assign(unit_id=ok["unit_id"].astype(str), coder=ok["coder"].astype(str)).pivot_table(
        index="unit_id", columns="coder", values="label", aggfunc="first"
    )
    return wide.reindex(columns=list(coders)).dropna()


def _onehot(wide: pd.DataFrame) -> np.ndarray:
    keys = sorted(set(wide.iloc[:, 0]) | set(wide.iloc[:, 1]))
    index = {k: i for i, k in enumerate(keys)}
    q = len(keys)
    cells = np.array([index[a] * q + index[b] for a, b in zip(wide.iloc[:, 0], wide.iloc[:, 1], strict=True)], dtype=int)
    out = np.zeros((len(wide), q * q))
    out[np.arange(len(wide)), cells] = 1.0
    return out


def _metrics(weights: np.ndarray, onehot: np.ndarray) -> dict[str, np.ndarray]:
    from thoughtcode.agreement.validation import confusion_metrics

    q = int(round(np.sqrt(onehot.shape[1])))
    matrices = (weights @ onehot).reshape(-1, q, q)
    values = confusion_metrics(matrices, np.ones(q, dtype=bool))
    return {
        "cohen_kappa": values["cohen_kappa"],
        "percent_agreement": values["accuracy"],
        "krippendorff_alpha": values["krippendorff_alpha"],
    }


def _entry(point: float, replicates: np.ndarray | None, confidence: float) -> dict[str, Any]:
    from thoughtcode.agreement.intervals import percentile_interval

    value = float(point)
    if not np.isfinite(value):
        return {"value": None, "ci": None}
    ci = percentile_interval(replicates, confidence) if replicates is not None else None
    return {"value": value, "ci": list(ci) if ci else None}


def measure_revision(
    before: pd.DataFrame,
    after: pd.DataFrame,
    coders: Sequence[str] | None = None,
    *,
    old_ref: str = "",
    new_ref: str = "",
    bootstrap: int = 1000,
    seed: int | None = 0,
    confidence: float = 0.95,
    pending_hint: str | None = None,
) -> RevisionMeasure:
    """Agreement of two coders before and after a revision, on the units both labelled under both versions.

    The measure also says how many units both coders labelled under either version and why those not measured
    are left out: marked for re-coding and still pending (``needs_recoding`` in ``after``; ``pending_hint``
    says what to do about them), re-coding failed, or a label missing under one version.
    """
    if coders is None:
        names = list(dict.fromkeys(before["coder"].astype(str)))
        if len(names) != 2:
            raise DraftingError(f"name the two coders to compare; the labels hold {len(names)}: {', '.join(names)}")
        coders = names
    pair = (str(coders[0]), str(coders[1]))
    wide_before, wide_after = _pairs(before, pair), _pairs(after, pair)
    shared = wide_before.index.intersection(wide_after.index)
    excluded = {
        "not_labelled_by_both_before": int(len(wide_after.index.difference(wide_before.index))),
        "not_labelled_by_both_after": int(len(wide_before.index.difference(wide_after.index))),
    }
    left_out = _left_out(wide_before.index, wide_after.index, after, pair)
    n_total = len(wide_before.index.union(wide_after.index))
    if len(shared) < 2:
        why = "; ".join(f"{v} {k.replace('_', ' ')}" for k, v in left_out.items() if v)
        raise DraftingError(
            f"{pair[0]} and {pair[1]} share {len(shared)} unit(s) labelled under both versions; need 2 or more"
            + (f" (left out: {why})" if why else "")
        )
    wide_before, wide_after = wide_before.loc[shared], wide_after.loc[shared]
    hot_before, hot_after = _onehot(wide_before), _onehot(wide_after)
    ones = np.ones((1, len(shared)))
    point_before, point_after = _metrics(ones, hot_before), _metrics(ones, hot_after)
    reps_before = reps_after = None
    if bootstrap > 0:
        from thoughtcode.agreement.intervals import bootstrap_weights

        weights = np.concatenate(list(bootstrap_weights(np.ones(len(shared)), bootstrap, seed)))
        reps_before, reps_after = _metrics(weights, hot_before), _metrics(weights, hot_after)
    out_before, out_after, out_diff = {}, {}, {}
    for metric in METRICS:
        out_before[metric] = _entry(point_before[metric][0], reps_before[metric] if reps_before else None, confidence)
        out_after[metric] = _entry(point_after[metric][0], reps_after[metric] if reps_after else None, confidence)
        diff_reps = reps_after[metric] - reps_before[metric] if reps_before else None
        out_diff[metric] = _entry(point_after[metric][0] - point_before[metric][0], diff_reps, confidence)
    return RevisionMeasure(
        coders=pair,
        old_ref=old_ref,
        new_ref=new_ref,
        n_units=len(shared),
        before=out_before,
        after=out_after,
        difference=out_diff,
        bootstrap=bootstrap,
        seed=seed,
        confidence=confidence,
        excluded=excluded,
        n_units_total=n_total,
        left_out=left_out,
        **({"pending_hint": pending_hint} if pending_hint else {}),
    )


def _left_out(before_units: pd.Index, after_units: pd.Index, after: pd.DataFrame, pair: tuple[str, str]) -> dict[str, int]:
    """Why units both coders labelled under one version are not measured."""
    gone = before_units.difference(after_units)
    rows = after.loc[after["coder"].astype(str).isin(pair)]
    rows = rows.assign(unit_id=rows["unit_id"].astype(str))
    rows = rows.loc[rows["unit_id"].isin(gone)]

    def flagged(column: str) -> pd.Series:
        if column not in rows.columns:
            return pd.Series(False, index=rows.index)
        return rows[column].fillna(False).astype(bool)

    pending = set(rows.loc[flagged("needs_recoding"), "unit_id"])
    failed = set(rows.loc[flagged("recoded") & (rows.get("status", pd.Series("ok", index=rows.index)).astype(str) == "failed"), "unit_id"])
    failed -= pending
    return {
        "pending_recoding": len(pending),
        "failed_recoding": len(failed),
        "not_labelled_by_both_before": int(len(after_units.difference(before_units))),
        "other": int(len(gone) - len(pending) - len(failed)),
    }


# --- all three ----------------------------------------------------------------------------------------------
@dataclass
class RevisionResult:
    codebook: Codebook
    recode: RecodeResult | None = None
    measure: RevisionMeasure | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "codebook": self.codebook.ref,
            "migration": self.codebook.migration.model_dump(by_alias=True) if self.codebook.migration else None,
            "recode": self.recode.to_dict() if self.recode else None,
            "agreement": self.measure.to_dict() if self.measure else None,
        }


def revise(
    codebook: Codebook,
    proposals: Sequence[Proposal],
    *,
    labels: pd.DataFrame | None = None,
    units: Sequence[Any] = (),
    coders: Mapping[str, Any] | None = None,
    compare: Sequence[str] | None = None,
    version: str | None = None,
    bootstrap: int = 1000,
    seed: int | None = 0,
    assume_unstamped: bool = False,
    pending_hint: str | None = None,
) -> RevisionResult:
    """Apply ``proposals``; with ``labels``, re-code the marked units and measure agreement before and after."""
    new = apply_proposals(codebook, proposals, version=version)
    result = RevisionResult(codebook=new)
    if labels is None:
        return result
    result.recode = recode_revision(labels, codebook, new, units, coders or {}, assume_unstamped=assume_unstamped)
    names = list(dict.fromkeys(labels["coder"].astype(str)))
    if compare is not None or len(names) == 2:
        before = labels.copy()
        if "codebook" in before.columns:
            before = before.loc[before["codebook"].isna() | (before["codebook"].astype(str) == codebook.ref)]
        result.measure = measure_revision(
            before, result.recode.frame, compare or names, old_ref=codebook.ref, new_ref=new.ref, bootstrap=bootstrap, seed=seed,
            pending_hint=pending_hint,
        )
    return result

