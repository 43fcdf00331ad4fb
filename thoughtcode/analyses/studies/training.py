"""DPO training on the preference pairs with TRL (optional extra: ``pip install 'thoughtcode[train]'``).

The defaults are the paper's: an effective batch of 64 pairs, learning rate 1e-6, up to 20 epochs, early
stopping on the validation loss (a 10% split by conversation when no validation file is given). LoRA is
optional. Meant for a GPU machine; nothing here is imported until :func:`train_dpo` runs.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thoughtcode.analyses.studies._common import write_json
from thoughtcode.analyses.studies.preference import PAIR_KEYS, split_pairs, validate_dpo_file
from thoughtcode.textio import read_jsonl

EXTRA_HINT = "DPO training needs the train extra: pip install 'thoughtcode[train]' (torch, transformers, trl, peft, datasets)"


class MissingExtraError(ImportError):
    """An optional dependency of the train extra is not installed."""


def require_train_extra(modules: tuple[str, ...] = ("torch", "transformers", "trl", "datasets")) -> dict[str, Any]:
    """Import the modules training needs, or raise :class:`MissingExtraError` naming the missing ones."""
    loaded, missing = {}, []
    for name in modules:
        try:
            loaded[name] = importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingExtraError(f"{EXTRA_HINT}; missing: {', '.join(missing)}")
    return loaded


@dataclass
class DPOSettings:
    """Training settings (paper defaults). ``batch_size`` is the effective batch: per-device batch times
    gradient accumulation steps."""

    batch_size: int = 64
    per_device_batch_size: int = 8
    learning_rate: float = 1e-6
    epochs: float = 20
    max_steps: int = -1
    beta: float = 0.1
    early_stopping_patience: int = 2
    validation_fraction: float = 0.1
    seed: int = 0
    max_length: int | None = 2048
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    bf16: bool = False
    logging_steps: int = 10
    extra_args: dict[str, Any] = field(default_factory=dict)

    @property
    def gradient_accumulation_steps(self) -> int:
        per_device = max(1, min(self.per_device_batch_size, self.batch_size))
        return max(1, self.batch_size // per_device)


def _load_pairs(path: Path) -> list[dict[str, Any]]:
    validate_dpo_file(path)
    return read_jsonl(path)


def _dataset(rows: list[dict[str, Any]]):
    from datasets import Dataset

    return Dataset.from_list([{k: r[k] for k in PAIR_KEYS} for r in rows])


def _supported(cls: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Keep the options a (version-dependent) config class accepts."""
    if dataclasses.is_dataclass(cls):
        names = {f.name for f in dataclasses.fields(cls)}
    else:
        names = set(inspect.signature(cls.__init__).parameters)
    return {k: v for k, v in options.items() if k in names}


def train_dpo(
    train_file: Path | str,
    model: str | Any,
    output_dir: Path | str,
    validation_file: Path | str | None = None,
    settings: DPOSettings | None = None,
    tokenizer: Any = None,
) -> dict[str, Any]:
    """Train ``model`` (a local path / hub name, or a loaded ``transformers`` model) with DPO on the pairs.

    Only ``prompt``, ``chosen`` and ``rejected`` are given to TRL. Returns a summary (steps, final losses,
    best checkpoint) that is also written to ``output_dir/training_summary.json``; the trained model (or
    LoRA adapter) and tokenizer are saved in ``output_dir/final``.
    """
    s = settings or DPOSettings()
    mods = require_train_extra(("torch", "transformers", "trl", "datasets") + (("peft",) if s.lora else ()))
    transformers, trl = mods["transformers"], mods["trl"]
    output = Path(output_dir)
    train_rows = _load_pairs(Path(train_file))
    if validation_file is not None:
        val_rows = _load_pairs(Path(validation_file))
    else:
        train_rows, val_rows = split_pairs(train_rows, s.validation_fraction, s.seed)
    if not train_rows:
        raise ValueError("no training pairs")
    if isinstance(model, str):
        tokenizer = tokenizer or transformers.AutoTokenizer.from_pretrained(model)
        model = transformers.AutoModelForCausalLM.from_pretrained(model)
    if tokenizer is None:
        raise ValueError("a loaded model needs its tokenizer")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    has_eval = bool(val_rows)
    options: dict[str, Any] = {
        "output_dir": str(output),
        "per_device_train_batch_size": min(s.per_device_batch_size, s.batch_size),
        "per_device_eval_batch_size": min(s.per_device_batch_size, s.batch_size),
        "gradient_accumulation_steps": s.gradient_accumulation_steps,
        "learning_rate": s.learning_rate,
        "num_train_epochs": s.epochs,
        "max_steps": s.max_steps,
        "beta": s.beta,
        "seed": s.seed,
        "logging_steps": s.logging_steps,
        "bf16": s.bf16,
        "report_to": [],
        "save_strategy": "epoch" if has_eval else "no",
        "eval_strategy": "epoch" if has_eval else "no",
        "load_best_model_at_end": has_eval,
        "metric_for_best_model": "eval_loss",
        "greater_is_better": False,
        "save_total_limit": 2,
        "max_length": s.max_length,
        **s.extra_args,
    }
    if s.max_steps > 0 and has_eval:  # step-limited runs (smoke tests) evaluate and save per step
        options.update(save_strategy="steps", eval_strategy="steps", save_steps=1, eval_steps=1)
    config = trl.DPOConfig(**_supported(trl.DPOConfig, options))
    callbacks = [transformers.EarlyStoppingCallback(early_stopping_patience=s.early_stopping_patience)] if has_eval else []
    peft_config = None
    if s.lora:
        peft = mods["peft"]
        peft_config = peft.LoraConfig(r=s.lora_r, lora_alpha=s.lora_alpha, lora_dropout=s.lora_dropout, task_type="CAUSAL_LM")
    # The frozen reference policy: a copy of the starting model (TRL would otherwise reload it from the model's
    # path, which a model built in memory does not have). With LoRA, disabling the adapter gives the reference.
    ref_model = None if s.lora else copy.deepcopy(model)
    trainer_kwargs: dict[str, Any] = {
        "model": model,
        "ref_model": ref_model,
        "args": config,
        "train_dataset": _dataset(train_rows),
        "eval_dataset": _dataset(val_rows) if has_eval else None,
        "callbacks": callbacks,
        "peft_config": peft_config,
    }
    params = inspect.signature(trl.DPOTrainer.__init__).parameters
    trainer_kwargs["processing_class" if "processing_class" in params else "tokenizer"] = tokenizer
    trainer = trl.DPOTrainer(**trainer_kwargs)
    result = trainer.train()
    final = output / "final"
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    history = trainer.state.log_history
    summary = {
        "train_pairs": len(train_rows),
        "validation_pairs": len(val_rows),
        "global_steps": int(trainer.state.global_step),
        "train_loss": float(result.training_loss),
        "eval_losses": [h["eval_loss"] for h in history if "eval_loss" in h],
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "settings": {**asdict(s), "gradient_accumulation_steps": s.gradient_accumulation_steps},
        "versions": {name: getattr(mods[name], "__version__", "?") for name in mods},
        "final_dir": str(final),
    }
    write_json(summary, output / "training_summary.json")
    return json.loads(json.dumps(summary, default=str))
