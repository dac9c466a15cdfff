"""The sampler worker: one long-lived process that generates text and evaluates models for every call.

It keeps the models it loaded (base model plus adapter) in a bounded least-recently-used cache, so a
second call on the same model does not load it again. Calls run one at a time in arrival order (a
queue); a Cancel stops a call at its next token, or before it starts.
"""

from __future__ import annotations

import queue
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ..domain.checkpoints import WORKER_LOG
from ..domain.sampling import CANCELLED, ModelKey, Sampling
from . import blas
from .sampler_protocol import (
    CallDone,
    CallFailed,
    Cancel,
    Chunk,
    EvaluateCall,
    EvaluationDone,
    EvaluationProgress,
    GenerateCall,
    ModelLoaded,
)

PROGRESS_REPORTS = 100  # an evaluation's progress messages, about


class Cancelled(Exception):
    """The call was cancelled by its caller."""


class ModelCache:
    """Loaded (model, tokenizer) pairs, the least recently used dropped past `capacity`."""

    def __init__(self, capacity: int, on_load: Callable[[ModelKey, tuple[ModelKey, ...]], None]) -> None:
        self._capacity = capacity
        self._loaded: OrderedDict[ModelKey, tuple[Any, Any]] = OrderedDict()
        self._on_load = on_load

    def get(self, key: ModelKey) -> tuple[Any, Any, bool]:
        """(model, tokenizer, whether it was cached)."""
        if key in self._loaded:
            self._loaded.move_to_end(key)
            return (*self._loaded[key], True)
        import mlx_lm

        model, tokenizer = mlx_lm.load(key.model_path, adapter_path=key.adapter_dir or None)
        model.eval()
        self._loaded[key] = (model, tokenizer)
        while len(self._loaded) > self._capacity:
            self._loaded.popitem(last=False)
        self._on_load(key, tuple(self._loaded))
        return model, tokenizer, False


def prompt_tokens(tokenizer: Any, messages: tuple[tuple[str, str], ...], prompt: str) -> list[int]:
    """The conversation through the model's chat template with a generation prompt, or the raw prompt."""
    if messages:
        turns = [{"role": role, "content": content} for role, content in messages]
        return list(tokenizer.apply_chat_template(turns, add_generation_prompt=True, return_dict=False))
    return list(tokenizer.encode(prompt))


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """How many characters at the end of `text` may still become a stop string."""
    longest = 0
    for stop in stops:
        for length in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:length]):
                longest = length
                break
    return longest


def generate_pieces(
    model: Any, tokenizer: Any, tokens: list[int], sampling: Sampling, should_stop: Callable[[], bool]
) -> Iterator[tuple[str, list[int], str]]:
    """(text, token ids, finish reason) pieces of one generation; the last has its finish reason."""
    import mlx.core as mx
    from mlx_lm.generate import generate_step
    from mlx_lm.sample_utils import make_sampler

    mx.random.seed(sampling.seed)
    sampler = make_sampler(temp=sampling.temperature, top_p=sampling.top_p)
    detokenizer = tokenizer.detokenizer
    detokenizer.reset()
    eos = set(tokenizer.eos_token_ids)
    emitted = 0  # characters of the text sent
    pending: list[int] = []
    count = 0
    steps = generate_step(mx.array(tokens), model, max_tokens=sampling.max_tokens, sampler=sampler)
    try:
        for token, _ in steps:
            if should_stop():
                raise Cancelled()
            token = int(token)
            if token in eos:
                detokenizer.finalize()
                yield detokenizer.text[emitted:], pending, "end"
                return
            count += 1
            pending.append(token)
            detokenizer.add_token(token)
            text = detokenizer.text
            found = [i for i in (text.find(stop, max(0, emitted - len(stop))) for stop in sampling.stop) if i >= 0]
            if found:
                yield text[emitted : min(found)], pending, "stop"
                return
            if count >= sampling.max_tokens:
                break
            safe = len(text) - _held_back(text, sampling.stop)
            if safe > emitted:
                yield text[emitted:safe], pending, ""
                emitted, pending = safe, []
        detokenizer.finalize()
        yield detokenizer.text[emitted:], pending, "length"
    finally:
        steps.close()


class Sampler:
    """Runs the calls, in order, in one thread; the pipe is read by another, which files cancels at once."""

    def __init__(self, connection: Connection, cache_capacity: int) -> None:
        self._connection = connection
        self._send_lock = threading.Lock()
        self._calls: queue.Queue = queue.Queue()
        self._cancelled: set[int] = set()
        self._cache = ModelCache(cache_capacity, lambda key, cached: self._send(ModelLoaded(key, cached)))

    def _send(self, message: Any) -> None:
        with self._send_lock:
            self._connection.send(message)

    def read(self) -> None:
        """Read calls until the supervisor closes the pipe."""
        try:
            while True:
                message = self._connection.recv()
                if isinstance(message, Cancel):
                    self._cancelled.add(message.call_id)
                else:
                    self._calls.put(message)
        except (EOFError, OSError):
            self._calls.put(None)

    def run(self) -> None:
        while (call := self._calls.get()) is not None:
            should_stop = lambda call_id=call.call_id: call_id in self._cancelled  # noqa: E731
            try:
                if should_stop():
                    raise Cancelled()
                if isinstance(call, GenerateCall):
                    self._generate(call, should_stop)
                else:
                    self._evaluate(call, should_stop)
                self._send(CallDone(call.call_id))
            except Cancelled:
                self._send(CallFailed(call.call_id, CANCELLED))
            except Exception as error:
                print(traceback.format_exc(), file=sys.stderr)
                self._send(CallFailed(call.call_id, f"{type(error).__name__}: {error}"))
            finally:
                self._cancelled.discard(call.call_id)

    def _generate(self, call: GenerateCall, should_stop: Callable[[], bool]) -> None:
        model, tokenizer, cached = self._cache.get(call.model)
        tokens = prompt_tokens(tokenizer, call.messages, call.prompt)
        self._send(Chunk(call.call_id, "", (), model_cached=cached, prompt_tokens=len(tokens), first=True))
        generated = 0
        for text, ids, finish in generate_pieces(model, tokenizer, tokens, call.sampling, should_stop):
            generated += len(ids)
            done = {"prompt_tokens": len(tokens), "completion_tokens": generated} if finish else {}
            self._send(Chunk(call.call_id, text, tuple(ids), finish, **done))

    def _evaluate(self, call: EvaluateCall, should_stop: Callable[[], bool]) -> None:
        from .evaluation import evaluate

        def progress(done: int, total: int) -> None:
            if should_stop():
                raise Cancelled()
            if done in (0, total) or done % max(total // PROGRESS_REPORTS, 1) == 0:
                self._send(EvaluationProgress(call.call_id, done, total))

        request = call.request
        model, tokenizer, _ = self._cache.get(request.model)
        base = lambda: self._cache.get(request.base)[0]  # noqa: E731  (loaded only when a method needs it)
        result = evaluate(request, model, tokenizer, base, progress, should_stop)
        self._send(EvaluationDone(call.call_id, result.records, result.figures, result.mean_rewards))


def run_sampler(connection: Connection, log_dir: str, blas_threads: int, cache_capacity: int) -> None:
    """Process entry point of the sampler worker."""
    from .process import die_with_the_server, quiet_mlx_lm, redirect_output

    die_with_the_server()
    redirect_output(Path(log_dir) / WORKER_LOG)
    blas.load(blas_threads)  # before MLX is imported
    quiet_mlx_lm()
    sampler = Sampler(connection, cache_capacity)
    threading.Thread(target=sampler.read, name="droidft-sampler-read", daemon=True).start()
    sampler.run()
