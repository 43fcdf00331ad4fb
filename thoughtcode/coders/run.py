"""The coding runner: corpus in, labels table out, resumable, with a summary.

Why it works this way:

* **Append as you go.** Each record is written as one JSON line and flushed as soon as its unit is
  finished (fsynced at least every half second and at the end), so a kill or Ctrl-C loses at most the
  units in flight.
* **Resume by re-running.** Units that already have a row in OUT (ok or failed) are skipped, so re-running
  the same command after a kill finishes the job without losing or duplicating labels. A line cut short
  by a kill is removed before resuming. ``retry_failed`` re-codes only the failed units and rewrites OUT
  atomically with one row per unit.
* **No silent mixing.** OUT must not already hold labels of the same scheme made by another coder, with
  another codebook version or by another model (a retrained ``local:PATH`` model, a new shipped model):
  published data sets have mixed such labels without noticing. The model is checked before coding (from the
  coder's ``model_for(codebook)`` or ``model``) and again on every ok record before it is written.
* **One writer.** An advisory lock on OUT keeps two runs from appending to the same file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from thoughtcode.coders.base import Coder
from thoughtcode.coders.client import run_sync
from thoughtcode.coders.summary import agreement_summary
from thoughtcode.corpus.units import Unit, reference_labels, units_for
from thoughtcode.labels import LabelRecord
from thoughtcode.taxonomy import Codebook, load_codebook

SCHEME_CODEBOOKS = {"reasons": "reasons", "reactions": "reactions", "relations": "relations", "topics": "topics"}
SCHEME_UNITS = {"reasons": "reason", "reactions": "reaction", "relations": "user_turn", "topics": "conversation"}
LOCAL_CHUNK = 256


class RunError(ValueError):
    """A run that cannot start as asked (the message says why and what to do)."""


def resolve_codebook(scheme: str, codebook: str | Path | Codebook | None = None) -> Codebook:
    """The codebook given, or the built-in one of the scheme."""
    if isinstance(codebook, Codebook):
        return codebook
    if codebook is not None:
        return load_codebook(codebook)
    if scheme not in SCHEME_CODEBOOKS:
        raise RunError(f"scheme {scheme!r} has no built-in codebook; pass --codebook REF|PATH")
    return load_codebook(SCHEME_CODEBOOKS[scheme])


# --- the output file -------------------------------------------------------------------------------------
def read_out(path: Path, repair: bool = True) -> list[dict[str, Any]]:
    """Rows of an existing output file. A last line cut short by a kill is dropped (and removed from the
    file when ``repair``); any other broken line is an error."""
    if not path.exists():
        return []
    data = path.read_bytes()
    if not data:
        return []
    rows: list[dict[str, Any]] = []
    lines = data.split(b"\n")
    complete = data.endswith(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        last = number == len(lines) or (number == len(lines) - 1 and complete)
        try:
            rows.append(json.loads(raw))
        except json.JSONDecodeError:
            if last and not complete:
                if repair:
                    with path.open("r+b") as handle:
                        handle.truncate(len(data) - len(raw))
                break
            raise RunError(f"{path}:{number}: not a JSON line; is this a labels file written by thoughtcode code?") from None
    else:
        if not complete and repair:
            with path.open("ab") as handle:
                handle.write(b"\n")
    return rows


def _latest(rows: Iterable[dict[str, Any]], scheme: str) -> dict[str, dict[str, Any]]:
    """The row that counts for each unit of ``scheme``: the last ok row, else the last row."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("scheme") != scheme:
            continue
        unit_id = str(row.get("unit_id"))
        previous = latest.get(unit_id)
        if previous is None or row.get("status") == "ok" or previous.get("status") != "ok":
            latest[unit_id] = row
    return latest


def _rewrite(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Replace OUT atomically (write a temporary file, fsync, rename)."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _compacted(rows: list[dict[str, Any]], scheme: str) -> list[dict[str, Any]] | None:
    """Rows with one row per unit of ``scheme`` (others untouched), or ``None`` if already so."""
    latest = _latest(rows, scheme)
    keep_ids = {id(row) for row in latest.values()}
    compact = [row for row in rows if row.get("scheme") != scheme or id(row) in keep_ids]
    return compact if len(compact) != len(rows) else None


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Hold an advisory lock on OUT itself for the whole run (released by the kernel if we are killed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    try:
        try:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # not POSIX: no lock
            pass
        except OSError:
            raise RunError(f"{path} is being written by another thoughtcode code run; wait for it or use another --out") from None
        yield
    finally:
        handle.close()


class _Appender:
    """Writes each record as a JSON line and hands it to the operating system at once.

    ``flush`` after every record is what makes a killed or interrupted process lose nothing (the kernel
    holds the data). ``fsync``, which protects against a power loss or an OS crash, costs ~5 ms on common
    disks and would stall the event loop for every record, so it runs at most every ``sync_every`` seconds
    and at the end; anything an OS crash could take is re-coded, mostly from the cache, by a re-run.
    """

    def __init__(self, path: Path, sync_every: float = 0.5):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = path.open("a", encoding="utf-8")
        self.sync_every = sync_every
        self._last_sync = time.monotonic()

    def write(self, record: LabelRecord) -> dict[str, Any]:
        row = record.model_dump(mode="json")
        self.handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.handle.flush()
        if time.monotonic() - self._last_sync >= self.sync_every:
            os.fsync(self.handle.fileno())
            self._last_sync = time.monotonic()
        return row

    def close(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()


# --- the run ---------------------------------------------------------------------------------------------
def _check_provenance(latest: dict[str, dict[str, Any]], coder: Coder, codebook: Codebook, out: Path) -> None:
    coders = {row.get("coder") for row in latest.values()}
    codebooks = {row.get("codebook") for row in latest.values()}
    if coders - {coder.name}:
        raise RunError(
            f"{out} already holds labels of this scheme from coder {sorted(str(c) for c in coders - {coder.name})[0]!r}; "
            f"resuming with {coder.name!r} would mix coders in one table: use another --out"
        )
    if codebooks - {codebook.ref}:
        raise RunError(
            f"{out} already holds labels made with codebook {sorted(str(c) for c in codebooks - {codebook.ref})[0]}; "
            f"this run uses {codebook.ref}: use another --out (or migrate the old labels)"
        )


_UNKNOWN = object()


def _model_in_use(coder: Coder, codebook: Codebook) -> str | None:
    """The model the coder's labels of ``codebook`` will carry, as far as it can tell before coding."""
    model_for = getattr(coder, "model_for", None)
    return model_for(codebook) if callable(model_for) else coder.model


def _model_error(out: Path, found: Any, now: Any) -> RunError:
    return RunError(
        f"{out} already holds labels of this scheme made by model {found!r}, but this run's coder uses model {now!r}; "
        "resuming would mix two models' labels under one coder name: write to a new --out file, "
        "or delete the file to start over"
    )


def _expected_model(latest: dict[str, dict[str, Any]], model: str | None, out: Path) -> Any:
    """The model every ok record of this run must carry (``_UNKNOWN``: the first one sets it); raises if
    OUT already holds ok labels of another model."""
    in_file = {row.get("model") for row in latest.values() if row.get("status") == "ok"}
    if model is not None:
        if in_file - {model}:
            raise _model_error(out, sorted(map(str, in_file - {model}))[0], model)
        return model
    if len(in_file) > 1:  # the coder cannot tell its model yet, and OUT already mixes models
        found = sorted(map(str, in_file))
        raise _model_error(out, found[0], f"unknown (the file also holds {found[1]!r})")
    return next(iter(in_file)) if in_file else _UNKNOWN


def run_coding(
    source: str | Path | Iterable[Any],
    scheme: str,
    coder: Coder,
    out: str | Path,
    *,
    codebook: str | Path | Codebook | None = None,
    format: str | None = None,
    skip_invalid: bool = False,
    limit: int | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    price_in: float | None = None,
    price_out: float | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Code the units of a corpus with ``coder`` into ``out`` (JSONL) and return the run's summary."""
    from thoughtcode.corpus import read_corpus

    started = time.perf_counter()
    codebook = resolve_codebook(scheme, codebook)
    if scheme in SCHEME_UNITS and codebook.unit != SCHEME_UNITS[scheme]:
        raise RunError(
            f"scheme {scheme} codes {SCHEME_UNITS[scheme]} units, but codebook {codebook.ref} is for {codebook.unit} units"
        )
    conversations = read_corpus(source, format=format, skip_invalid=skip_invalid) if isinstance(source, (str, Path)) else source
    units: list[Unit] = []
    seen: set[str] = set()
    duplicates = 0
    for unit in units_for(conversations, codebook.unit):
        if unit.unit_id in seen:
            duplicates += 1
            continue
        seen.add(unit.unit_id)
        units.append(unit)
        if limit is not None and len(units) >= limit:
            break
    out = Path(out)
    if out.suffix.lower() not in {".jsonl", ".ndjson"}:
        raise RunError(f"{out}: the output is a JSON-lines labels table; name it .jsonl")
    model = _model_in_use(coder, codebook)

    summary: dict[str, Any] = {
        "out": str(out),
        "scheme": scheme,
        "codebook": codebook.ref,
        "coder": coder.name,
        "model": model,
        "unit_kind": codebook.unit,
        "units_total": len(units),
        "duplicate_unit_ids_skipped": duplicates,
    }
    with _lock(out):
        rows = read_out(out)
        compact = _compacted(rows, scheme)
        if compact is not None:  # a retry run was killed before it could compact
            _rewrite(out, compact)
            rows = compact
        latest = _latest(rows, scheme)
        _check_provenance(latest, coder, codebook, out)
        expected_model = _expected_model(latest, model, out)
        if retry_failed:
            todo = [u for u in units if latest.get(u.unit_id, {}).get("status") == "failed"]
        else:
            todo = [u for u in units if u.unit_id not in latest]
        summary["already_done"] = len(units) - len(todo)
        summary["to_code"] = len(todo)

        counts = {"coded": 0, "failed": 0, "cached": 0, "tokens_in": 0, "tokens_out": 0}
        failed_examples: list[dict[str, str]] = []
        appender = _Appender(out) if todo else None
        bar = None
        if todo:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc=f"coding {scheme}", unit="unit", file=sys.stderr, disable=not progress, dynamic_ncols=True)

        def on_record(record: LabelRecord, cached: bool = False) -> None:
            nonlocal expected_model
            assert appender is not None
            if record.status == "ok":  # the last guard: nothing of another model is ever written
                if expected_model is _UNKNOWN:
                    expected_model = record.model
                elif record.model != expected_model:
                    if any(row.get("status") == "ok" and row.get("model") == expected_model for row in latest.values()):
                        raise _model_error(out, expected_model, record.model)
                    raise RunError(
                        f"coder {coder.name!r} produced a label of model {record.model!r} after one of model "
                        f"{expected_model!r}; {out} keeps one model per coder: write to a new --out file"
                    )
            row = appender.write(record)
            latest[record.unit_id] = row
            counts["coded" if record.status == "ok" else "failed"] += 1
            if cached:
                counts["cached"] += 1
            else:
                counts["tokens_in"] += record.tokens_in
                counts["tokens_out"] += record.tokens_out
            if record.status == "failed" and len(failed_examples) < 5:
                failed_examples.append({"unit_id": record.unit_id, "error": record.error or ""})
            if bar is not None:
                bar.update(1)
                if counts["failed"]:
                    bar.set_postfix(failed=counts["failed"], refresh=False)

        try:
            if todo:
                acode = getattr(coder, "acode", None)
                if acode is not None:
                    conversations_seen = {getattr(u, "conversation_id", u.unit_id) for u in units}
                    extra: dict[str, Any] = {}
                    if getattr(getattr(coder, "options", None), "batch", False):  # a provider batch: its id is kept next to OUT
                        from thoughtcode.coders.batch import batch_state_path

                        extra["batch_state"] = batch_state_path(out)
                    run_sync(lambda: acode(todo, codebook, scheme, on_record=on_record, exclude_conversations=conversations_seen, **extra))
                else:
                    for start in range(0, len(todo), LOCAL_CHUNK):
                        for record in coder.code(todo[start : start + LOCAL_CHUNK], codebook, scheme):
                            on_record(record, False)
        finally:
            if bar is not None:
                bar.close()
            if appender is not None:
                appender.close()
        if retry_failed and todo:
            rows = read_out(out)
            compact = _compacted(rows, scheme)
            if compact is not None:
                _rewrite(out, compact)

    summary.update(counts)
    summary["failed_examples"] = failed_examples
    stats = getattr(coder, "stats", None) or {}
    summary["requests"] = int(stats.get("http_attempts", 0))
    summary["coder_stats"] = dict(stats)
    summary["time_s"] = round(time.perf_counter() - started, 3)
    summary["cost"] = None
    if price_in is not None or price_out is not None:
        cost_in = counts["tokens_in"] / 1e6 * (price_in or 0.0)
        cost_out = counts["tokens_out"] / 1e6 * (price_out or 0.0)
        summary["cost"] = {"input": round(cost_in, 6), "output": round(cost_out, 6), "total": round(cost_in + cost_out, 6)}
    ids = {u.unit_id for u in units}
    in_file = [row for unit_id, row in latest.items() if unit_id in ids]
    summary["ok_in_file"] = sum(1 for row in in_file if row.get("status") == "ok")
    summary["failed_in_file"] = sum(1 for row in in_file if row.get("status") == "failed")
    summary["agreement"] = None
    reference = reference_labels([u for u in units if hasattr(u, "label")], scheme)  # type: ignore[arg-type]
    if not reference.empty and in_file:
        coded = pd.DataFrame([{"unit_id": r["unit_id"], "label": r.get("label"), "status": r.get("status")} for r in in_file])
        summary["agreement"] = agreement_summary(coded, reference, codebook, bootstrap=bootstrap, seed=seed)
    return summary
