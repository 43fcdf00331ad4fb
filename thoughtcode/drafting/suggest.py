"""Suggest revisions of a codebook from how it was used: sharpen, merge, split, add or retire categories.

Evidence comes from the labels table (and optional reference labels, and the corpus for unit texts):

* **agreement**: per-category kappa (Fleiss' one-vs-rest kappa_j over all coders, from
  :func:`thoughtcode.agreement.agree`) and the pairs of categories that coders split the same units on;
* **confusions**: a pair used interchangeably (most units labelled with either got both) is a *merge*
  candidate; a pair often confused is a boundary to *sharpen*; a category with low kappa_j is *sharpened*
  against the category it is most confused with;
* **sizes**: a near-empty category is a candidate to *retire*;
* **texts** (needs the corpus): a large category whose units fall into two stable, separated groups in
  embedding space is a *split* candidate; units coded with low confidence or as "other" are clustered, and
  each coherent cluster is a candidate to *add*.

Each :class:`Proposal` carries its evidence (counts, kappa_j with its interval, example units) and a
``change`` that :func:`thoughtcode.drafting.revise.apply_proposals` turns into the next codebook version,
including the migration that marks which labels must be re-coded.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from thoughtcode.drafting.induce import (
    ClusterSummary,
    DraftingError,
    InduceConfig,
    KeywordNamer,
    class_tfidf,
    cluster_embeddings,
    resolve_embedder,
    snake_id,
)
from thoughtcode.drafting.stability import clustering_stability
from thoughtcode.taxonomy import Codebook

TWO_MEANS = InduceConfig(n_categories=2, reducer="none", stability_runs=0)
KINDS = ("merge", "sharpen", "split", "add", "retire")
#: Catch-all categories, recognised by an id or name that starts with one of these words ("other",
#: "misc_requests", "Other topics"); others can be named with ``SuggestConfig.other_ids``.
OTHER_PATTERN = re.compile(r"^(other|others|misc|miscellaneous|unclear|unknown|none)\b", re.IGNORECASE)


@dataclass(frozen=True)
class SuggestConfig:
    """Thresholds of the rules; every proposal reports the numbers it was judged on."""

    low_kappa: float = 0.4
    merge_rate: float = 0.5
    sharpen_rate: float = 0.15
    min_confused_units: int = 3
    near_empty_units: int = 3
    near_empty_share: float = 0.01
    split_min_share: float = 0.15
    split_min_part: int = 5
    split_min_silhouette: float = 0.03
    split_min_stability: float = 0.6
    low_confidence: float = 0.5
    add_min_units: int = 4
    add_min_gain: float = 0.02
    other_ids: tuple[str, ...] = ()
    examples: int = 3
    bootstrap: int = 200
    seed: int = 0


@dataclass
class Proposal:
    """One proposed change with its evidence and the machine-readable change that applies it."""

    id: str
    kind: str
    categories: list[str]
    summary: str
    rationale: str
    evidence: dict[str, Any]
    change: dict[str, Any]
    score: float = 0.0
    conflicts: list[str] = field(default_factory=list)

    def removes(self) -> set[str]:
        """Ids this proposal takes out of the codebook."""
        op = self.change.get("op")
        if op == "merge":
            return set(self.change.get("merge", []))
        if op in ("split", "retire"):
            return {self.change["category"]}
        return set()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Proposal:
        return cls(**{k: data[k] for k in ("id", "kind", "categories", "summary", "rationale", "evidence", "change")},
                   score=float(data.get("score", 0.0)), conflicts=list(data.get("conflicts", [])))


@dataclass
class SuggestionReport:
    """The proposals for one codebook and the agreement they were drawn from."""

    codebook: str
    codebook_version: str
    n_units: int
    coders: list[str]
    agreement: dict[str, Any]
    counts: dict[str, int]
    proposals: list[Proposal]
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def proposal(self, proposal_id: str) -> Proposal:
        for p in self.proposals:
            if p.id == proposal_id:
                return p
        raise DraftingError(f"no proposal {proposal_id!r}; known: {', '.join(p.id for p in self.proposals)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "thoughtcode.suggestions",
            "codebook": self.codebook,
            "codebook_version": self.codebook_version,
            "n_units": self.n_units,
            "coders": self.coders,
            "agreement": self.agreement,
            "counts": self.counts,
            "notes": self.notes,
            "settings": self.settings,
            "proposals": [p.to_dict() for p in self.proposals],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SuggestionReport:
        if data.get("kind") != "thoughtcode.suggestions":
            raise DraftingError("not a suggestions file (written by thoughtcode taxonomy suggest --out X.json)")
        return cls(
            codebook=data["codebook"],
            codebook_version=data["codebook_version"],
            n_units=data["n_units"],
            coders=list(data["coders"]),
            agreement=data.get("agreement", {}),
            counts=data.get("counts", {}),
            proposals=[Proposal.from_dict(p) for p in data["proposals"]],
            notes=list(data.get("notes", [])),
            settings=dict(data.get("settings", {})),
        )

    def to_markdown(self) -> str:
        lines = [f"# Revision proposals for {self.codebook}", ""]
        overall = self.agreement.get("overall", {})
        if overall:
            parts = [f"{k} {_fmt(v)}" for k, v in overall.items()]
            lines.append(f"Agreement over {self.n_units} units, coders {', '.join(self.coders)}: " + ", ".join(parts) + ".")
        else:
            lines.append(f"{self.n_units} units, coder(s) {', '.join(self.coders)}; no agreement (one coder, no reference).")
        lines.append("")
        for note in self.notes:
            lines.append(f"> {note}")
        if self.notes:
            lines.append("")
        if not self.proposals:
            lines.append("No proposal: every rule passed.")
        per_category = self.agreement.get("per_category", {})
        if per_category or self.counts:
            lines += ["## Categories", "", "| category | units | kappa_j | 95% CI |", "|---|---:|---:|---|"]
            for cid, count in self.counts.items():
                kj = per_category.get(cid, {})
                ci = kj.get("ci")
                ci_text = f"{ci[0]:.2f} to {ci[1]:.2f}" if ci else ""
                lines.append(f"| {cid} | {count} | {_fmt(kj.get('value'))} | {ci_text} |")
            lines.append("")
        for p in self.proposals:
            lines += [f"## {p.id}: {p.kind} {', '.join(p.categories)}", "", f"**{p.summary}**", "", p.rationale, ""]
            if p.conflicts:
                lines += [f"Conflicts with {', '.join(p.conflicts)} (they change the same categories): accept one.", ""]
            lines.append("Evidence:")
            for key, value in p.evidence.items():
                if key == "examples":
                    continue
                if key == "parts":
                    for part in value:
                        lines.append(
                            f"- part `{part['id']}` ({part['size']} units): {part['name']}; keywords "
                            f"{', '.join(part.get('keywords', []))}"
                        )
                    continue
                lines.append(f"- {key}: {_fmt(value)}")
            for example in p.evidence.get("examples", []):
                labels = example.get("labels")
                how = f" ({', '.join(f'{k}: {v}' for k, v in labels.items())})" if labels else ""
                lines.append(f"- example `{example['unit_id']}`{how}: {example.get('text') or ''}")
            lines += ["", f"Apply with: `thoughtcode taxonomy apply SUGGESTIONS.json --accept {p.id} ...`", ""]
        return "\n".join(lines).rstrip() + "\n"

    def write(self, path: str | Path) -> list[Path]:
        """``.json`` writes JSON; ``.md`` writes Markdown and the JSON beside it (what ``apply`` reads)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=_json_default) + "\n"
        if path.suffix.lower() == ".json":
            path.write_text(payload, encoding="utf-8")
            return [path]
        if path.suffix.lower() not in {".md", ".markdown"}:
            raise DraftingError(f"{path}: write suggestions as .md or .json")
        path.write_text(self.to_markdown(), encoding="utf-8")
        sidecar = path.with_suffix(".json")
        sidecar.write_text(payload, encoding="utf-8")
        return [path, sidecar]


def read_suggestions(path: str | Path) -> SuggestionReport:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such suggestions file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DraftingError(f"{path}: not JSON ({exc.msg}); pass the .json written by taxonomy suggest") from None
    return SuggestionReport.from_dict(data)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


# --- inputs -------------------------------------------------------------------------------------------------
def _single_labels(frame: pd.DataFrame, codebook: Codebook, what: str) -> pd.DataFrame:
    """Rows of ``frame`` made with ``codebook`` (when stamped), status ok, label normalised to ids."""
    if frame is None or frame.empty:
        raise DraftingError(f"{what}: no rows")
    if codebook.multi_label:
        raise DraftingError("suggest handles single-label codebooks; this one is multi-label")
    if "label" not in frame.columns:
        raise DraftingError(f"{what}: no 'label' column")
    out = frame
    if "codebook" in out.columns:
        stamped = out["codebook"].notna()
        same = out["codebook"].astype(str) == codebook.ref
        other = stamped & ~same
        if other.any() and not (stamped & same).any():
            refs = ", ".join(sorted(set(out.loc[other, "codebook"].astype(str)))[:3])
            raise DraftingError(f"{what}: rows were made with {refs}, not {codebook.ref}; migrate them first")
        out = out.loc[~other]
    if "status" in out.columns:
        out = out.loc[out["status"].astype(str).str.lower() != "failed"]
    out = out.loc[out["label"].notna() & (out["label"].astype(str).str.strip() != "")]
    if "coder" not in out.columns:
        out = out.assign(coder=what)
    labels = []
    for value in out["label"].astype(str):
        try:
            labels.append(codebook.normalise_label(value))
        except ValueError:
            raise DraftingError(f"{what}: label {value!r} is not a category of {codebook.ref}") from None
    columns = ["unit_id", "coder"] + (["confidence"] if "confidence" in out.columns else [])
    result = out[columns].copy()
    result["unit_id"] = result["unit_id"].astype(str)
    result["coder"] = result["coder"].astype(str)
    result["label"] = labels
    return result.reset_index(drop=True)


def unit_texts(corpus: str | Path, unit_kind: str) -> dict[str, str]:
    """Unit id -> text of the corpus's units of one kind."""
    from thoughtcode.corpus import load_corpus, units_for

    return {u.unit_id: u.text for u in units_for(load_corpus(corpus), unit_kind)}


def _example(unit_id: str, texts: Mapping[str, str] | None, ratings: Mapping[str, str] | None = None) -> dict[str, Any]:
    text = (texts or {}).get(unit_id)
    entry: dict[str, Any] = {"unit_id": unit_id, "text": " ".join(text.split())[:240] if text else None}
    if ratings:
        entry["labels"] = dict(ratings)
    return entry


# --- the rules ----------------------------------------------------------------------------------------------
def suggest_revisions(
    codebook: Codebook,
    labels: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    *,
    texts: Mapping[str, str] | None = None,
    embedder: Any = None,
    config: SuggestConfig | None = None,
) -> SuggestionReport:
    """Proposals to sharpen, merge, split, add or retire categories, each with its evidence."""
    from thoughtcode.agreement import agree

    config = config or SuggestConfig()
    coded = _single_labels(labels, codebook, "labels")
    frames = [coded]
    if reference is not None:
        ref = _single_labels(reference, codebook, "reference")
        taken = set(coded["coder"])
        ref["coder"] = [c if c not in taken else f"reference:{c}" for c in ref["coder"]]
        frames.append(ref)
    table = pd.concat(frames, ignore_index=True)
    duplicated = table.duplicated(["unit_id", "coder"], keep=False)
    if duplicated.any():
        first = table.loc[duplicated].iloc[0]
        raise DraftingError(f"unit {first['unit_id']!r} has several labels from coder {first['coder']!r}")
    coders = list(dict.fromkeys(table["coder"]))
    wide = table.pivot(index="unit_id", columns="coder", values="label")
    units = list(wide.index)
    n_units = len(units)
    ids = codebook.label_ids
    names = {c.id: c.name for c in codebook.categories}
    given_sets = [{v for v in row if isinstance(v, str)} for row in wide.itertuples(index=False)]
    touched = {cid: 0 for cid in ids}
    for given in given_sets:
        for cid in given:
            touched[cid] += 1
    notes: list[str] = []
    proposals: list[Proposal] = []

    # agreement: per-category kappa and the units coders split on
    agreement: dict[str, Any] = {}
    kappa: dict[str, dict[str, Any]] = {}
    pair_units: Counter[tuple[str, str]] = Counter()
    pair_examples: dict[tuple[str, str], list[str]] = {}
    if len(coders) >= 2:
        result = agree(table[["unit_id", "coder", "label"]], bootstrap=config.bootstrap, seed=config.seed)
        overall = {k: result.coefficients[k].value for k in ("percent_agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha") if k in result.coefficients}
        kappa = {k: v["fleiss_kappa"] for k, v in result.per_category.items()}
        agreement = {
            "overall": overall,
            "per_category": kappa,
            "confused_pairs": result.confused_pairs,
            "n_pairable_units": result.n_pairable_units,
            "interval": result.interval.get("description"),
        }
        for unit, given in zip(units, given_sets, strict=True):
            for a, b in combinations(sorted(given), 2):
                pair_units[(a, b)] += 1
                pair_examples.setdefault((a, b), []).append(unit)
    else:
        notes.append("one coder and no reference: no agreement, so no sharpen or merge proposals")

    def ratings_of(unit: str) -> dict[str, str]:
        row = wide.loc[unit]
        return {c: v for c, v in row.items() if isinstance(v, str)}

    def kj(cid: str) -> float | None:
        return kappa.get(cid, {}).get("value")

    def kj_ci(cid: str) -> Any:
        return kappa.get(cid, {}).get("ci")

    def rated(examples: Sequence[str]) -> list[dict[str, Any]]:
        """Example units with every coder's label, the evidence of merge, sharpen and retire."""
        return [_example(u, texts, ratings_of(u)) for u in examples]

    def sharpen(categories: list[str], pair: tuple[str, str]) -> dict[str, Any]:
        """The change of a sharpened boundary: definitions to edit, with the pair's units as near misses."""
        return {"op": "sharpen", "categories": categories, "definitions": {}, "near_misses": _near_misses(pair_examples[pair], texts, config)}

    # merge / sharpen from confused pairs
    involved: set[str] = set()
    for (a, b), count in pair_units.most_common():
        either = sum(1 for given in given_sets if a in given or b in given)
        rate = count / either if either else 0.0
        if count < config.min_confused_units:
            continue
        evidence = {
            "units_with_both": count,
            "units_with_either": either,
            "confusion_rate": round(rate, 3),
            "kappa_j": {a: kj(a), b: kj(b)},
            "kappa_j_ci": {a: kj_ci(a), b: kj_ci(b)},
            "units": {a: touched[a], b: touched[b]},
            "examples": rated(pair_examples[(a, b)][: config.examples]),
        }
        if rate >= config.merge_rate:
            into, other = (a, b) if touched[a] >= touched[b] else (b, a)
            proposals.append(
                Proposal(
                    id="",
                    kind="merge",
                    categories=[into, other],
                    summary=f"Merge {names[other]} into {names[into]}",
                    rationale=(
                        f"Coders used the two interchangeably: {count} of the {either} units labelled with either got "
                        f"both ({rate:.0%}, threshold {config.merge_rate:.0%})."
                    ),
                    evidence=evidence,
                    change={"op": "merge", "into": into, "merge": [other], "name": None, "definition": None},
                    score=2 + rate,
                )
            )
            involved |= {a, b}
        elif rate >= config.sharpen_rate:
            proposals.append(
                Proposal(
                    id="",
                    kind="sharpen",
                    categories=[a, b],
                    summary=f"Sharpen the boundary between {names[a]} and {names[b]}",
                    rationale=(
                        f"{count} of the {either} units labelled with either got both ({rate:.0%}): the definitions do "
                        "not say where one ends and the other begins. Units of both are re-coded after the edit."
                    ),
                    evidence=evidence,
                    change=sharpen([a, b], (a, b)),
                    score=1 + rate,
                )
            )
            involved |= {a, b}
    for cid in ids:
        value = kj(cid)
        if value is None or value >= config.low_kappa or cid in involved or touched[cid] < config.min_confused_units:
            continue
        partners = [(n, pair) for pair, n in pair_units.items() if cid in pair]
        if not partners:
            continue
        _, pair = max(partners)
        partner = pair[0] if pair[1] == cid else pair[1]
        proposals.append(
            Proposal(
                id="",
                kind="sharpen",
                categories=[cid, partner],
                summary=f"Sharpen {names[cid]} (kappa_j {value:.2f})",
                rationale=(
                    f"Per-category agreement of {names[cid]} is low (kappa_j {value:.2f} < {config.low_kappa}); it is most "
                    f"often confused with {names[partner]}. Units of both are re-coded after the edit."
                ),
                evidence={
                    "kappa_j": value,
                    "kappa_j_ci": kj_ci(cid),
                    "units": touched[cid],
                    "most_confused_with": partner,
                    "units_with_both": pair_units[pair],
                    "examples": rated(pair_examples[pair][: config.examples]),
                },
                change=sharpen([cid, partner], pair),
                score=1 + (config.low_kappa - value),
            )
        )
        involved.add(cid)

    # retire near-empty categories
    floor = max(config.near_empty_units, int(np.ceil(config.near_empty_share * n_units)))
    for cid in ids:
        if touched[cid] >= floor:
            continue
        examples = [u for u in units if cid in ratings_of(u).values()][: config.examples]
        proposals.append(
            Proposal(
                id="",
                kind="retire",
                categories=[cid],
                summary=f"Retire {names[cid]} ({touched[cid]} of {n_units} units)",
                rationale=(
                    f"{names[cid]} was used on {touched[cid]} unit(s), fewer than {floor} (max of {config.near_empty_units} "
                    f"and {config.near_empty_share:.0%} of units); its units are re-coded with the other categories."
                ),
                evidence={"units": touched[cid], "threshold": floor, "kappa_j": kj(cid), "examples": rated(examples)},
                change={"op": "retire", "category": cid},
                score=1 - touched[cid] / max(floor, 1),
            )
        )

    # split and add need the unit texts
    if texts:
        missing = [u for u in units if u not in texts]
        if missing:
            notes.append(f"{len(missing)} labelled unit(s) are not in the corpus: left out of split and add")
        embedder = resolve_embedder(embedder)
        main_coder = coders[0]
        main = coded.loc[coded["coder"] == main_coder].set_index("unit_id")
        proposals += _split_proposals(codebook, main["label"], texts, embedder, kj, config, n_units, proposals)
        proposals += _add_proposals(codebook, main, texts, embedder, config, n_units)
    else:
        notes.append("no corpus given: split and add proposals need the unit texts (--corpus)")

    order = {k: i for i, k in enumerate(KINDS)}
    proposals.sort(key=lambda p: (order[p.kind], -p.score))
    for i, p in enumerate(proposals, start=1):
        p.id = f"P{i}"
    for p, q in combinations(proposals, 2):
        if p.removes() & set(q.categories) or q.removes() & set(p.categories):
            p.conflicts.append(q.id)
            q.conflicts.append(p.id)
    return SuggestionReport(
        codebook=codebook.ref,
        codebook_version=codebook.version,
        n_units=n_units,
        coders=coders,
        agreement=agreement,
        counts=dict(touched),
        proposals=proposals,
        notes=notes,
        settings=asdict(config),
    )


def _near_misses(units: Sequence[str], texts: Mapping[str, str] | None, config: SuggestConfig) -> list[dict[str, Any]]:
    """The first example units that have a text (a near miss without one shows nothing)."""
    return [e for e in (_example(u, texts) for u in units[: config.examples]) if e["text"]]


def _embed_units(embedder: Any, unit_ids: Sequence[str], texts: Mapping[str, str]) -> tuple[list[str], np.ndarray]:
    kept = [u for u in unit_ids if (texts.get(u) or "").strip()]
    if not kept:
        return [], np.zeros((0, 1), dtype=np.float32)
    vectors = np.asarray(embedder.encode([texts[u] for u in kept]), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    good = norms > 0
    return [u for u, g in zip(kept, good, strict=True) if g], vectors[good] / norms[good, None]


def _describe(unit_kind: str, texts: list[str], labels: np.ndarray, k: int, n_total: int) -> list[tuple[str, str, list[str]]]:
    """(name, definition, keywords) for clusters 0..k-1 from their keywords."""
    keywords = class_tfidf(texts, labels, n_keywords=8)
    namer = KeywordNamer()
    out = []
    for c in range(k):
        words = [w for w, _ in keywords.get(c, [])]
        size = int((labels == c).sum())
        naming = namer.describe(ClusterSummary(unit_kind, size, size / max(n_total, 1), words, []))
        out.append((naming.name, naming.definition, words))
    return out


def _silhouette(vectors: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import silhouette_score

    return float(silhouette_score(vectors, labels, metric="cosine"))


def _split_proposals(
    codebook: Codebook,
    labels: pd.Series,
    texts: Mapping[str, str],
    embedder: Any,
    kj: Any,
    config: SuggestConfig,
    n_units: int,
    earlier: list[Proposal],
) -> list[Proposal]:
    busy = {c for p in earlier if p.kind in ("merge", "retire") for c in p.categories}
    names = {c.id: c.name for c in codebook.categories}
    taken = {c.id for c in codebook.categories}
    out = []
    for cid in codebook.label_ids:
        members = [u for u, label in labels.items() if label == cid]
        share = len(members) / max(n_units, 1)
        low = kj(cid) is not None and kj(cid) < config.low_kappa
        if cid in busy or len(members) < 2 * config.split_min_part or (share < config.split_min_share and not low):
            continue
        kept, vectors = _embed_units(embedder, members, texts)
        if len(kept) < 2 * config.split_min_part:
            continue
        parts = cluster_embeddings(vectors, TWO_MEANS, seed=config.seed)
        sizes = np.bincount(parts, minlength=2)
        if sizes.min() < config.split_min_part:
            continue
        silhouette = _silhouette(vectors, parts)
        stability = clustering_stability(vectors, lambda x, s: cluster_embeddings(x, TWO_MEANS, s), seeds=range(config.seed, config.seed + 4), subsample=0.8)
        if silhouette < config.split_min_silhouette or (stability.mean_ari or 0) < config.split_min_stability:
            continue
        part_texts = [texts[u] for u in kept]
        described = _describe(codebook.unit, part_texts, parts, 2, len(kept))
        new = []
        for c, (name, definition, words) in enumerate(described):
            base = f"{cid}_{snake_id(words[0]) if words else c + 1}"
            new_id = base
            k = 2
            while new_id in taken:
                new_id, k = f"{base}_{k}", k + 1
            taken.add(new_id)
            centre = vectors[parts == c].mean(axis=0)
            order = np.argsort(-(vectors[parts == c] @ centre))
            members_c = [kept[i] for i in np.flatnonzero(parts == c)]
            examples = [_example(members_c[i], texts) for i in order[: config.examples]]
            new.append({
                "id": new_id,
                "name": f"{names[cid]}: {name}",
                "definition": f"{codebook.category(cid).definition} This part: {definition[0].lower()}{definition[1:]}",
                "size": int(sizes[c]),
                "keywords": words,
                "examples": examples,
            })  # fmt: skip
        out.append(
            Proposal(
                id="",
                kind="split",
                categories=[cid],
                summary=f"Split {names[cid]} into {new[0]['name']} and {new[1]['name']}",
                rationale=(
                    f"{names[cid]} holds {len(members)} units ({share:.0%}); they fall into two groups of {sizes[0]} and "
                    f"{sizes[1]} units (silhouette {silhouette:.2f}, stability ARI {stability.mean_ari:.2f} over "
                    f"{len(stability.seeds)} subsamples). Its labels are re-coded among the two new categories."
                ),
                evidence={
                    "units": len(members),
                    "share": round(share, 3),
                    "kappa_j": kj(cid),
                    "parts": [{k: v for k, v in n.items() if k != "examples"} for n in new],
                    "silhouette": round(silhouette, 3),
                    "stability_ari": round(stability.mean_ari or 0, 3),
                    "examples": [e for n in new for e in n["examples"][:2]],
                },
                change={"op": "split", "category": cid, "into": new},
                score=silhouette + (stability.mean_ari or 0),
            )
        )
    return out


def _add_proposals(
    codebook: Codebook,
    main: pd.DataFrame,
    texts: Mapping[str, str],
    embedder: Any,
    config: SuggestConfig,
    n_units: int,
) -> list[Proposal]:
    other_ids = set(config.other_ids) | {
        c.id for c in codebook.leaves if OTHER_PATTERN.match(c.id.replace("_", " ")) or OTHER_PATTERN.match(c.name)
    }
    pool = main.index[main["label"].isin(other_ids)].tolist()
    why = {u: "coded as other" for u in pool}
    if "confidence" in main.columns:
        confidence = pd.to_numeric(main["confidence"], errors="coerce")
        for u in main.index[confidence < config.low_confidence]:
            if u not in why:
                pool.append(u)
                why[u] = "low confidence"
    if len(pool) < 2 * config.add_min_units:
        return []
    kept, vectors = _embed_units(embedder, pool, texts)
    if len(kept) < 2 * config.add_min_units:
        return []
    # how well each pooled unit fits the category it was coded as: cosine to the centre of that category's
    # other (confident, not "other") units
    fit_of: dict[str, float] = {}
    outside = main.index.difference(pool)
    for cid in set(main.loc[kept, "label"]):
        if cid in other_ids:
            continue
        ref_ids, ref_vectors = _embed_units(embedder, [u for u in outside if main.loc[u, "label"] == cid], texts)
        if len(ref_ids) < 2:
            continue
        centre = ref_vectors.mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        for u, v in zip(kept, vectors, strict=True):
            if main.loc[u, "label"] == cid:
                fit_of[u] = float(v @ centre)
    best = None
    for k in range(2, min(6, len(kept) // config.add_min_units) + 1):
        parts = cluster_embeddings(vectors, InduceConfig(n_categories=k, reducer="none", stability_runs=0), seed=config.seed)
        if np.bincount(parts).min() < 2:
            continue
        score = _silhouette(vectors, parts)
        if best is None or score > best[0]:
            best = (score, k, parts)
    if best is None:
        return []
    silhouette, k, parts = best
    described = _describe(codebook.unit, [texts[u] for u in kept], parts, k, len(kept))
    taken = {c.id for c in codebook.categories}
    taken_names = {c.name.casefold() for c in codebook.categories}
    out = []
    for c, (name, definition, words) in enumerate(described):
        members = [kept[i] for i in np.flatnonzero(parts == c)]
        if len(members) < config.add_min_units:
            continue
        new_id = snake_id(name)
        while new_id in taken:
            new_id += "_new"
        while name.casefold() in taken_names:
            name += " (new)"
        taken.add(new_id)
        taken_names.add(name.casefold())
        centre = vectors[parts == c].mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        similarity = vectors[parts == c] @ centre
        cohesion = float(similarity.mean())
        fits = [fit_of[u] for u in members if u in fit_of]
        fit = float(np.mean(fits)) if fits else None
        if fit is not None and cohesion < fit + config.add_min_gain:
            continue  # the units sit as well in the categories they were coded as: nothing new
        sources = Counter(main.loc[members, "label"])
        source_ids = [cid for cid, n in sources.most_common() if n >= max(2, 0.2 * len(members))]
        order = np.argsort(-similarity)
        examples = [_example(members[i], texts, {"coded": main.loc[members[i], "label"], "why": why[members[i]]}) for i in order[: config.examples]]
        out.append(
            Proposal(
                id="",
                kind="add",
                categories=source_ids,
                summary=f"Add {name} ({len(members)} units now coded {', '.join(sources)})",
                rationale=(
                    f"{len(members)} of the {len(kept)} units coded as other or with low confidence form one group "
                    f"(k-means with k={k}, silhouette {silhouette:.2f}); they are closer to their own centre (mean "
                    f"cosine {cohesion:.2f}) than to the categories they were coded as ("
                    + (f"{fit:.2f}" if fit is not None else "no coded category to compare")
                    + f"). Labels of {', '.join(source_ids) or 'no single category'} are re-coded with the new category "
                    "available."
                ),
                evidence={
                    "units": len(members),
                    "share": round(len(members) / max(n_units, 1), 3),
                    "coded_as": dict(sources),
                    "keywords": words,
                    "silhouette": round(silhouette, 3),
                    "cohesion": round(cohesion, 3),
                    "fit_to_coded_categories": round(fit, 3) if fit is not None else None,
                    "examples": examples,
                },
                change={
                    "op": "add",
                    "category": {"id": new_id, "name": name, "definition": definition, "examples": [_example(members[i], texts) for i in order[: config.examples]]},
                    "recode_from": source_ids,
                },
                score=len(members) / len(kept),
            )
        )
    return out

