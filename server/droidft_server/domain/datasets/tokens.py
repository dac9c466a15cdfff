"""Record lengths in tokens, with the model directory's own tokenizer.json.

Lengths are kept as a histogram (length -> records), so memory does not grow with the file and
the 95th percentile is exact. Lengths count the record's text without chat-template tokens.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from .report import TokenStatistics

BATCH = 512
# A normaliser may shrink text up to this factor before tokens are cut: keeps the bound below safe.
_NORMALISATION_SLACK = 4


class TokenizerMissing(FileNotFoundError):
    pass


def load_tokenizer(model_path: str | Path):
    """The model directory's tokenizer.json, as a `tokenizers.Tokenizer`."""
    from tokenizers import Tokenizer  # only needed when a model is given

    path = Path(model_path) / "tokenizer.json"
    if not path.is_file():
        raise TokenizerMissing(f"{path} does not exist: token lengths need the model's tokenizer.json")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as error:  # the tokenizers library raises its own exception types for a broken file
        raise TokenizerMissing(f"{path} is not a tokenizer the tokenizers library reads ({error})") from None


class TokenCounter:
    def __init__(self, tokenizer, max_seq_length: int):
        self._tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        longest = max((len(token.encode("utf-8")) for token in tokenizer.get_vocab()), default=1)
        # A record of more characters than this has more than max_seq_length tokens whatever it says,
        # which spares tokenizing a 50 MB line (minutes) to learn it.
        self._max_chars_per_token = longest * _NORMALISATION_SLACK
        self._certainly_too_long = max_seq_length * self._max_chars_per_token
        self._pending: list[tuple[int, str]] = []
        self._lengths: Counter[int] = Counter()

    def add(self, texts: Iterable[tuple[int, str]]) -> None:
        """(line, text) pairs, measured at the next flush."""
        self._pending.extend(texts)

    def flush(self) -> list[tuple[int, int, bool]]:
        """Measure the pending records; (line, tokens, exact) of those over max_seq_length."""
        over = []
        for start in range(0, len(self._pending), BATCH):
            batch = self._pending[start : start + BATCH]
            huge = [(line, text) for line, text in batch if len(text) > self._certainly_too_long]
            normal = [(line, text) for line, text in batch if len(text) <= self._certainly_too_long]
            encodings = self._tokenizer.encode_batch_fast([text for _, text in normal], add_special_tokens=False)
            measured = [(line, len(encoding.ids), True) for (line, _), encoding in zip(normal, encodings)]
            bounded = [(line, math.ceil(len(text) / self._max_chars_per_token), False) for line, text in huge]
            for line, length, exact in sorted(measured + bounded):
                self._lengths[length] += 1
                if length > self.max_seq_length:
                    over.append((line, length, exact))
        self._pending.clear()
        return over

    def statistics(self) -> TokenStatistics | None:
        if not self._lengths:
            return None
        total = sum(self._lengths.values())
        lengths = sorted(self._lengths)
        rank, seen, p95 = math.ceil(0.95 * total), 0, lengths[-1]
        for length in lengths:
            seen += self._lengths[length]
            if seen >= rank:
                p95 = length
                break
        return TokenStatistics(
            min=lengths[0],
            mean=sum(length * n for length, n in self._lengths.items()) / total,
            p95=p95,
            max=lengths[-1],
            over_max_seq_length=sum(n for length, n in self._lengths.items() if length > self.max_seq_length),
        )
