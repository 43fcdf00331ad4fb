"""The versions of a codebook: what changed in each, how labels migrate, and agreement where labels exist.

Labels are matched to a version by the exact reference they carry (``name@version#hash8``), so labels made
with an edited copy of a version (another hash) are never counted as that version's; they are reported
apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from thoughtcode.taxonomy import Codebook, codebook_versions, load_codebook_file


@dataclass
class VersionEntry:
    """One version of a codebook and, where labels made with it exist, their agreement."""

    ref: str
    version: str
    date: str | None
    changes: list[str]
    n_categories: int
    n_assignable: int
    migration_from: str | None
    migration_map: dict[str, Any] | None
    label_rows: int = 0
    coders: list[str] = field(default_factory=list)
    agreement: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class History:
    name: str
    versions: list[VersionEntry]
    unmatched: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "versions": [v.to_dict() for v in self.versions], "unmatched_labels": self.unmatched}

    def format_text(self) -> str:
        lines = [f"{self.name}: {len(self.versions)} version(s)"]
        for v in self.versions:
            head = f"{v.ref}  {v.date or 'no date'}  {v.n_assignable} codes"
            if v.migration_from:
                head += f"  (migrates from {v.migration_from}"
                head += f": {len(v.migration_map or {})} mapped id(s))" if v.migration_map else ")"
            lines.append(head)
            for change in v.changes:
                lines.append(f"    - {change}")
            if v.agreement:
                a = v.agreement
                parts = [f"{k} {val:.3f}" for k, val in a["coefficients"].items() if val is not None]
                lines.append(f"    agreement on {a['n_units']} units, {len(v.coders)} coders: " + ", ".join(parts))
            elif v.label_rows:
                lines.append(f"    {v.label_rows} label rows from {len(v.coders)} coder(s): agreement needs two or more coders")
        for ref, rows in self.unmatched.items():
            lines.append(f"labels stamped {ref}: {rows} rows, no known codebook text with that reference")
        return "\n".join(lines)


def _agreement(rows: pd.DataFrame, codebook: Codebook) -> dict[str, Any] | None:
    from thoughtcode.agreement import agree

    column = "labels" if codebook.multi_label and "labels" in rows.columns else "label"
    ok = rows.loc[rows[column].notna()]
    if "status" in ok.columns:
        ok = ok.loc[ok["status"].astype(str).str.lower() != "failed"]
    if ok["coder"].nunique() < 2:
        return None
    result = agree(ok[["unit_id", "coder", column]], label_col=column, order=codebook.order)
    wanted = ("cohen_kappa", "fleiss_kappa", "krippendorff_alpha", "percent_agreement")
    return {
        "n_units": result.n_pairable_units,
        "coefficients": {k: result.coefficients[k].value for k in wanted if k in result.coefficients},
    }


def codebook_history(
    name: str | Path,
    search_dirs: Sequence[str | Path] = (),
    labels: Sequence[pd.DataFrame] = (),
) -> History:
    """Every known version of a codebook (built-in, and files in ``search_dirs``), oldest first.

    ``name`` may be a codebook file: its name is used and its folder searched. ``labels`` are labels tables;
    rows stamped with one of the versions' references give that version's agreement.
    """
    dirs = [Path(d) for d in search_dirs]
    path = Path(str(name))
    if path.suffix.lower() in {".yaml", ".yml", ".json"} or path.is_file():
        codebook = load_codebook_file(path)
        name, dirs = codebook.name, [path.parent, *dirs]
    versions = codebook_versions(str(name), dirs)
    if not versions:
        raise ValueError(f"no codebook named {name!r}: not built in and not in {', '.join(map(str, dirs)) or 'any folder given'}")
    table = pd.concat([f for f in labels if not f.empty], ignore_index=True) if labels else pd.DataFrame()
    stamped = table.loc[table["codebook"].notna()] if "codebook" in table.columns else pd.DataFrame(columns=["codebook"])
    entries = []
    for cb in versions:
        latest = next((c for c in reversed(cb.changelog) if c.version == cb.version), None)
        rows = stamped.loc[stamped["codebook"].astype(str) == cb.ref] if len(stamped) else stamped
        entry = VersionEntry(
            ref=cb.ref,
            version=cb.version,
            date=latest.date if latest else None,
            changes=list(latest.changes) if latest else [],
            n_categories=len(cb.categories),
            n_assignable=len(cb.label_ids),
            migration_from=cb.migration.from_version if cb.migration else None,
            migration_map=dict(cb.migration.map) if cb.migration else None,
            label_rows=len(rows),
            coders=sorted(map(str, rows["coder"].dropna().unique())) if len(rows) and "coder" in rows else [],
        )
        if len(rows):
            entry.agreement = _agreement(rows, cb)
        entries.append(entry)
    known = {cb.ref for cb in versions}
    unmatched: dict[str, int] = {}
    if len(stamped):
        refs = stamped["codebook"].astype(str)
        for ref, count in refs.loc[refs.str.split("@").str[0] == str(name)].value_counts().items():
            if ref not in known:
                unmatched[str(ref)] = int(count)
    return History(name=str(name), versions=entries, unmatched=unmatched)
