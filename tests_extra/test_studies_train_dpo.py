"""DPO training through TRL on pairs written by the studies (needs ``pip install 'thoughtcode[train]'``).

Not part of ``make test``: run ``python -m pytest tests_extra/test_studies_train_dpo.py`` where the extra is
installed. Nothing is downloaded: the model is a tiny randomly initialised Llama and the tokenizer a
word-level tokenizer trained here on the pairs' own text, with a chat template.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

for module in ("torch", "transformers", "trl", "datasets"):
    pytest.importorskip(module, reason="needs the train extra: pip install 'thoughtcode[train]'")

from thoughtcode.analyses.studies._common import chat_messages  # noqa: E402
from thoughtcode.analyses.studies.preference import load_with_datasets, make_pair, write_preference_data  # noqa: E402
from thoughtcode.analyses.studies.rewrites import rewrite_candidates  # noqa: E402
from thoughtcode.analyses.studies.training import DPOSettings, train_dpo  # noqa: E402
from thoughtcode.corpus import load_corpus  # noqa: E402

DEV = Path(__file__).parent.parent / "tests" / "data" / "thoughttrace_dev.jsonl"
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|> {{ message['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)


@pytest.fixture(scope="module")
def pair_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("dpo")
    pairs = []
    for c in rewrite_candidates(load_corpus(DEV))[:24]:
        record = {"candidate_id": c.candidate_id, "arm": "thought", "conversation_id": c.conversation_id,
                  "message_id": c.message_id, "context": chat_messages(c.context)[-2:], "reply": c.reply[:300],
                  "rewrite": "A shorter reply: " + c.reply[:120], "labels": list(c.labels), "guidance": list(c.guidance)}
        pairs.append(make_pair(record, source="dev"))
    write_preference_data(pairs, out, validation_fraction=0.2, seed=0)
    return out


def tiny_model_and_tokenizer(texts):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<pad>", "<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]
    raw = Tokenizer(models.WordLevel(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(texts, trainers.WordLevelTrainer(vocab_size=2000, special_tokens=specials))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="<pad>", unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    return LlamaForCausalLM(config), tokenizer


def test_pairs_load_the_way_trl_reads_them(pair_dir):
    from trl.data_utils import is_conversational

    train = load_with_datasets(pair_dir / "train.jsonl")
    assert {"prompt", "chosen", "rejected"} <= set(train.column_names)
    assert is_conversational(train[0])
    assert train[0]["chosen"][0]["role"] == "assistant"


def test_two_dpo_steps_on_a_tiny_random_model(pair_dir, tmp_path):
    rows = [json.loads(line) for name in ("train.jsonl", "validation.jsonl") for line in (pair_dir / name).read_text().splitlines()]
    texts = [t["content"] for r in rows for key in ("prompt", "chosen", "rejected") for t in r[key]]
    model, tokenizer = tiny_model_and_tokenizer(texts)
    settings = DPOSettings(batch_size=4, per_device_batch_size=2, max_steps=2, max_length=128, logging_steps=1)
    summary = train_dpo(pair_dir / "train.jsonl", model, tmp_path / "run", validation_file=pair_dir / "validation.jsonl",
                        settings=settings, tokenizer=tokenizer)
    assert summary["global_steps"] == 2
    assert summary["settings"]["gradient_accumulation_steps"] == 2
    assert summary["eval_losses"]  # evaluated on the validation split (early stopping watches it)
    assert (tmp_path / "run" / "final").is_dir()
    assert json.loads((tmp_path / "run" / "training_summary.json").read_text())["train_pairs"] == summary["train_pairs"]


def test_cli_trains_a_saved_model_with_lora(pair_dir, tmp_path, capsys):
    pytest.importorskip("peft", reason="LoRA needs peft (part of the train extra)")
    from thoughtcode.cli import main

    rows = [json.loads(line) for line in (pair_dir / "train.jsonl").read_text().splitlines()]
    model, tokenizer = tiny_model_and_tokenizer([t["content"] for r in rows for k in ("prompt", "chosen", "rejected") for t in r[k]])
    model.save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    code = main(["study", "train-dpo", str(pair_dir / "train.jsonl"), "--model", str(tmp_path / "base"), "--out", str(tmp_path / "lora"),
                 "--lora", "--lora-r", "4", "--max-steps", "2", "--batch-size", "4", "--per-device-batch-size", "2", "--max-length", "128"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "trained 2 steps" in printed
    assert (tmp_path / "lora" / "final" / "adapter_config.json").exists()
