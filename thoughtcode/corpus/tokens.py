"""An offline token counter.

Token counts follow GPT-style BPE pre-tokenisation: words (with a leading space), contractions, numbers in
runs of up to three digits, and runs of punctuation each count as one token; whitespace does not. It needs no
vocabulary file, so it works offline on any machine. For English chat text it tracks BPE counts (e.g.
``cl100k``) closely from below: long or rare words that BPE splits into several pieces count once here.
"""

from __future__ import annotations

import re

TOKENIZER_NAME = "regex-bpe-pretokens"
_PRETOKEN = re.compile(r"'(?:s|t|re|ve|m|ll|d)\b| ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]+|_+", re.IGNORECASE)


def count_tokens(text: str) -> int:
    """Number of pre-tokens in ``text`` (see module docstring)."""
    return sum(1 for _ in _PRETOKEN.finditer(text))
