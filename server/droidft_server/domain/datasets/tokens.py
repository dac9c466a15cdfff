"""Record lengths in tokens, with the model directory's own tokenizer.json.

Tokenizing is what a check of a big file spends its time on (about 60 us a record here, against 2 us to
read and check one), so a file of many records is measured on a sample (TokenCounter), and the figures
that must hold for every record are kept exact or bounded from above:
- every record is counted exactly up to 2 x SAMPLE_SIZE records; past that, an evenly spread sample
  of SAMPLE_SIZE to 2 x SAMPLE_SIZE records (datasets/sample.py) gives min, mean and p95;
- too_long and over_max_seq_length stay exact: a record's training text takes no more UTF-8 bytes than
  its line (JSON quotes, keys and separators only add bytes), and a text has no more tokens than
  UTF-8 bytes plus TOKEN_BYTE_SLACK (a token covers one byte at least; a normaliser may add a prefix), so
  every line long enough to hold more than max_seq_length tokens is counted exactly. A counted record
  that breaks this bound makes every later record counted;
- max is an upper bound: the LONGEST_EXACT longest lines are counted exactly too, and a record never
  counted is bounded by its line's bytes times the most tokens per line byte any counted record had.
Lengths count the record's text without chat-template tokens.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import msgspec

from .formats import Format
from .report import TokenStatistics
from .sample import EvenSample

BATCH = 512
# A normaliser may shrink text up to this factor before tokens are cut: keeps the bound below safe.
_NORMALISATION_SLACK = 4
# Measured on generated chat files (bench/big_data.py): on 100 MB (416,574 records) the sample's mean was
# 95.80 tokens against 95.79 counting every record, p95 the same (117), max 133 against 132 (the bound);
# 13,079 records were tokenized of 416,574 (1 GB: 21,147 of 4.17 million, about 1 s).
SAMPLE_SIZE = 8192
LONGEST_EXACT = 64
TOKEN_BYTE_SLACK = 8
# Line bytes of sampled records kept waiting to be tokenized, at most (they are tokenized when more wait).
WAITING_BUDGET = 16_000_000


class TokenizerMissing(FileNotFoundError):
    pass


# The tokenizers loaded in the current `tokenizers_loaded_once` block, by file; None outside any.
_loaded_in_block: ContextVar[dict[str, object] | None] = ContextVar("droidft_loaded_tokenizers", default=None)


@contextmanager
def tokenizers_loaded_once() -> Iterator[None]:
    """Within the block (one create's checks, one estimate), each tokenizer.json is read once however many checks
    load it. A large vocabulary's tokenizer takes about 0.5 s and 100 MB to load (150,000 tokens, a 12 MB file,
    measured here), and one create read its model's three times: the model check, the data's token counts and
    the chat template's tokens. Nothing is kept after the block, so an idle server holds no tokenizer. A block
    inside another shares the outer one's."""
    if _loaded_in_block.get() is not None:
        yield
        return
    block = _loaded_in_block.set({})
    try:
        yield
    finally:
        _loaded_in_block.reset(block)


def load_tokenizer(model_path: str | Path):
    """The model directory's tokenizer.json, as a `tokenizers.Tokenizer` (shared within a
    `tokenizers_loaded_once` block: callers only read it)."""
    path = Path(model_path) / "tokenizer.json"
    loaded = _loaded_in_block.get()
    if loaded is not None and str(path) in loaded:
        return loaded[str(path)]
    tokenizer = read_tokenizer_file(path)
    if loaded is not None:
        loaded[str(path)] = tokenizer
    return tokenizer


def read_tokenizer_file(path: Path):
    from tokenizers import Tokenizer  # only needed when a model is given

    if not path.is_file():
        raise TokenizerMissing(f"{path} does not exist: token lengths need the model's tokenizer.json")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as error:  # the tokenizers library raises its own exception types for a broken file
        raise TokenizerMissing(f"{path} is not a tokenizer the tokenizers library reads ({error})") from None


class TokenCounter:
    """Token lengths of one file's records, given as they are read (add) and measured batch by batch (flush).

    A sampled record waits in the sample and is tokenized only if it is still there at the end (or when the
    records waiting pass WAITING_BUDGET line bytes): most records a growing stride drops are never
    tokenized. A line that may be too long is tokenized at its batch's flush, for its too_long issue.
    """

    def __init__(self, tokenizer, max_seq_length: int, fmt: Format):
        self._tokenizer = tokenizer
        decode, training_text = msgspec.json.Decoder(fmt.record_type).decode, fmt.training_text
        # Lines are kept, not records (kept records would wake the garbage collector): decoded again to measure.
        self._text: Callable[[bytes], str] = lambda line: training_text(decode(line))
        self.max_seq_length = max_seq_length
        longest = max((len(token.encode("utf-8")) for token in tokenizer.get_vocab()), default=1)
        # A record of more characters than this has more than max_seq_length tokens whatever it says,
        # which spares tokenizing a 50 MB line (minutes) to learn it.
        self._max_chars_per_token = longest * _NORMALISATION_SLACK
        self._certainly_too_long = max_seq_length * self._max_chars_per_token
        # A line of fewer bytes cannot hold more than max_seq_length tokens (the module's docstring).
        self._may_be_too_long = max_seq_length - TOKEN_BYTE_SLACK
        # (line, tokens), or (line, (its bytes, their length)) until measured.
        self._sample: EvenSample[int | tuple[bytes, int]] = EvenSample(SAMPLE_SIZE)
        self._waiting_bytes = 0  # at most: line bytes of the records waiting in the sample
        self._pending: list[tuple[int, str, int]] = []  # (line, text, line bytes) to measure at the next flush
        self._longest: list[tuple[int, int, bytes]] = []  # min-heap: (length, line, its bytes) of the longest lines
        self._uncounted_bytes = 0  # the longest line that left (or never entered) self._longest: maybe never counted
        self._counted = 0
        self._over = 0
        self._max = 0
        self._tokens_per_byte = 0.0  # the most tokens per line byte of a counted record

    def add(self, first: int, lines: Sequence[bytes]) -> None:
        """Consecutive lines (from line `first`) whose records decoded; each is measured at
        the next flush, at the end, or not at all. Which records need a look is picked for the whole run at once
        (most need none); the heap's smallest line only grows, so picking by its value at the start is safe."""
        import numpy as np

        sample, pending, longest = self._sample, self._pending, self._longest
        sizes = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
        picked = sample.wanted(first, len(lines)) | (sizes >= self._may_be_too_long)
        if len(longest) < LONGEST_EXACT:
            picked[:] = True
        else:
            picked |= sizes > longest[0][0]
        rest = sizes[~picked]
        if rest.size:
            self._uncounted_bytes = max(self._uncounted_bytes, int(rest.max()))
        for index in np.flatnonzero(picked).tolist():
            line, content, size = first + index, lines[index], int(sizes[index])
            if size >= self._may_be_too_long:
                pending.append((line, self._text(content), size))
                continue
            if sample.wants(line):  # the sample may drop it later, unmeasured: it is a candidate for longest too
                self._waiting_bytes += size
                sample.add(line, (content, size))
            if len(longest) < LONGEST_EXACT:
                heapq.heappush(longest, (size, line, content))
            elif size > longest[0][0]:
                dropped = heapq.heappushpop(longest, (size, line, content))[0]
                self._uncounted_bytes = max(self._uncounted_bytes, dropped)
            else:
                self._uncounted_bytes = max(self._uncounted_bytes, size)

    def flush(self) -> list[tuple[int, int, bool]]:
        """Measure the lines that may be too long; (line, tokens, exact) of those over max_seq_length."""
        over = []
        for line, length, exact in self._measure(self._pending):
            if self._sample.wants(line):
                self._sample.add(line, length)
            if length > self.max_seq_length:
                self._over += 1
                over.append((line, length, exact))
        self._pending.clear()
        if self._waiting_bytes > WAITING_BUDGET:
            self._measure_sample()
        return over

    def _measure_sample(self) -> None:
        """Tokenize the records waiting in the sample."""
        items = self._sample.items
        waiting = [(index, line, *value) for index, (line, value) in enumerate(items) if not isinstance(value, int)]
        measured = self._measure([(line, self._text(content), size) for _, line, content, size in waiting])
        for (index, line, _, _), (_, length, _) in zip(waiting, measured):
            items[index] = (line, length)
        self._waiting_bytes = 0

    def _measure(self, pending: list[tuple[int, str, int]]) -> list[tuple[int, int, bool]]:
        """(line, tokens, exact) of each, in the given (line) order; a certainly too long text gets a lower bound,
        untokenized."""
        measured = []
        for start in range(0, len(pending), BATCH):
            batch = pending[start : start + BATCH]
            normal = [text for _, text, _ in batch if len(text) <= self._certainly_too_long]
            encodings = iter(self._tokenizer.encode_batch_fast(normal, add_special_tokens=False))
            for line, text, size in batch:
                if len(text) <= self._certainly_too_long:
                    measured.append((line, len(next(encodings).ids), True))
                else:
                    measured.append((line, math.ceil(len(text) / self._max_chars_per_token), False))
                self._seen(measured[-1][1], size)
        self._counted += len(measured)
        return measured

    def _seen(self, length: int, size: int) -> None:
        self._max = max(self._max, length)
        self._tokens_per_byte = max(self._tokens_per_byte, length / max(size, 1))
        if length > size + TOKEN_BYTE_SLACK:  # the bytes bound fails for this tokenizer: count every later line
            self._may_be_too_long = 0

    def statistics(self) -> TokenStatistics | None:
        if not self._sample.items:
            return None
        self._measure_sample()
        in_sample = {line for line, _ in self._sample.items}
        longest = self._measure(
            [(line, self._text(content), size) for size, line, content in self._longest if line not in in_sample]
        )
        self._over += sum(length > self.max_seq_length for _, length, _ in longest)  # only if the bytes bound failed
        self._longest.clear()
        lengths = sorted(length for _, length in self._sample.items)
        sampled = self._sample.stride > 1
        bound = math.ceil(self._uncounted_bytes * self._tokens_per_byte) if sampled else 0
        return TokenStatistics(
            min=lengths[0],
            mean=sum(lengths) / len(lengths),
            p95=lengths[min(len(lengths) - 1, math.ceil(0.95 * len(lengths)) - 1)],
            max=max(self._max, bound),
            over_max_seq_length=self._over,
            sampled=sampled,
            records_counted=self._counted,
        )
