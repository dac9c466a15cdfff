"""`droidft generate`, `droidft chat` and `droidft eval`: try a trained model, talk to it, measure it."""

from __future__ import annotations

import argparse
import sys

from droidft.cli.render import message_json
from droidft.cli.session import CommandError, Session
from droidft.v1 import evaluation_pb2, methods_pb2, sampling_pb2

SIDE_NAMES = {sampling_pb2.GENERATION_SIDE_ADAPTED: "adapted", sampling_pb2.GENERATION_SIDE_BASE: "base"}
CHAT_EXIT_WORDS = ("/exit", "/quit")


def _adapter(text: str | None) -> str | int | None:
    """--adapter: final, best, none, or a checkpoint's iteration."""
    if text is None:
        return None
    return int(text) if text.isdigit() else text


def _model_arguments(parser: argparse.ArgumentParser, *, job_required: bool) -> None:
    if job_required:
        parser.add_argument("job_id", metavar="JOB", help="the job whose model and adapter to use")
    else:
        parser.add_argument("job_id", metavar="JOB", nargs="?", default="", help="the job (or give --model)")
    parser.add_argument("--model", default="", help="a model directory on the server (default: the job's base model)")
    parser.add_argument(
        "--adapter", help="final (default with a job), best, none (the base model), or a checkpoint's iteration"
    )


def _sampling_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--temperature", type=float, default=0.0, help="0: greedy (default)")
    parser.add_argument("--top-p", type=float, default=0.0, help="nucleus sampling; 0 or 1: off")
    parser.add_argument("--max-tokens", type=int, default=0, help="tokens at most (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed draws the same tokens")


def register(subparsers) -> None:
    generate = subparsers.add_parser(
        "generate",
        help="generate text from a job's model and adapter (or a model directory)",
        description="Stream text generated from a prompt (raw, or as one user turn with --chat-template).",
    )
    _model_arguments(generate, job_required=False)
    generate.add_argument("prompt", help="the prompt ('-' reads it from stdin)")
    generate.add_argument("--chat-template", action="store_true", help="send the prompt as a user turn")
    generate.add_argument("--stop", action="append", default=[], help="a string that ends the text (repeatable)")
    generate.add_argument("--side-by-side", action="store_true", help="also generate from the base model alone")
    _sampling_arguments(generate)
    generate.set_defaults(handler=run_generate)

    chat = subparsers.add_parser(
        "chat",
        help="talk to a job's model: each stdin line is a user turn, the history is kept",
        description="Interactive chat: each line read is a user turn; the model answers with the whole conversation "
        f"so far. {' or '.join(CHAT_EXIT_WORDS)} or end of input ends it.",
    )
    _model_arguments(chat, job_required=True)
    chat.add_argument("--system", default="", help="a system prompt")
    _sampling_arguments(chat)
    chat.set_defaults(handler=run_chat)

    evaluate = subparsers.add_parser(
        "eval",
        help="measure a job's model on a data set (default: its test split), or list its evaluations",
        description="SFT: loss, perplexity, token accuracy; DPO/ORPO/CPO: reward accuracy and margin; the GRPO "
        "family: mean reward per reward function and pass@k.",
    )
    _model_arguments(evaluate, job_required=False)
    evaluate.add_argument("--data", default="", help="a data file on the server (default: the job's test split)")
    evaluate.add_argument("--method", help="how to score the data (default: the job's method; sft without a job)")
    evaluate.add_argument("--max-records", type=int, default=0, help="records evaluated at most (default: all)")
    evaluate.add_argument("--samples", type=int, default=0, help="GRPO family: completions per prompt (default 4)")
    evaluate.add_argument("--list", action="store_true", help="list the job's stored evaluations instead")
    evaluate.add_argument("--json", action="store_true")
    _sampling_arguments(evaluate)
    evaluate.set_defaults(handler=run_eval)


def _options(args: argparse.Namespace) -> dict:
    return {
        "model_path": args.model,
        "adapter": _adapter(args.adapter),
        "temperature": args.temperature,
        "top_p": args.top_p,
        "max_tokens": args.max_tokens,
        "seed": args.seed,
    }


def _stream(session: Session, chunks) -> str:
    """Write the text as it comes (a side's heading when two sides stream); returns the text of the first side."""
    text, side = [], None
    for chunk in chunks:
        if chunk.side != side and (side is not None or chunk.side == sampling_pb2.GENERATION_SIDE_BASE):
            session.out.write(f"\n[{SIDE_NAMES[chunk.side]}]\n")
        side = chunk.side
        if side != sampling_pb2.GENERATION_SIDE_BASE:
            text.append(chunk.text)
        session.out.write(chunk.text)
        session.out.flush()
    session.out.write("\n")
    return "".join(text)


def run_generate(args: argparse.Namespace, session: Session) -> int:
    if not args.job_id and not args.model:
        raise CommandError("give a job, or a model directory with --model")
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if args.side_by_side:
        session.out.write(f"[{SIDE_NAMES[sampling_pb2.GENERATION_SIDE_ADAPTED]}]\n")
    source = {"messages": [{"role": "user", "content": prompt}]} if args.chat_template else {"prompt": prompt}
    chunks = session.client.generate(
        args.job_id, **source, stop=args.stop, side_by_side=args.side_by_side, **_options(args)
    )
    _stream(session, chunks)
    return 0


def run_chat(args: argparse.Namespace, session: Session) -> int:
    history = [{"role": "system", "content": args.system}] if args.system else []
    for line in sys.stdin:
        said = line.strip()
        if said in CHAT_EXIT_WORDS:
            break
        if not said:
            continue
        history.append({"role": "user", "content": said})
        answer = _stream(session, session.client.generate(args.job_id, messages=history, **_options(args)))
        history.append({"role": "assistant", "content": answer})
    return 0


def evaluation_report(evaluation: evaluation_pb2.Evaluation) -> str:
    method = methods_pb2.TrainingMethod.Name(evaluation.method).removeprefix("TRAINING_METHOD_").lower()
    lines = [
        f"evaluation {evaluation.evaluation_id}: {method} on {evaluation.data_path} ({evaluation.records} records, "
        f"{evaluation.seconds:.1f} s)",
        f"  model {evaluation.model_path}" + (f" + {evaluation.adapter_path}" if evaluation.adapter_path else ""),
    ]
    figures = ["loss", "perplexity", "token_accuracy", "reward_accuracy", "reward_margin", "pass_at_k"]
    for name in figures:
        if evaluation.HasField(name):
            label = f"pass@{evaluation.samples_per_prompt}" if name == "pass_at_k" else name.replace("_", " ")
            lines.append(f"  {label}: {getattr(evaluation, name):.4f}")
    for name, value in sorted(evaluation.mean_rewards.items()):
        lines.append(f"  mean reward {name}: {value:.4f}")
    return "\n".join(lines)


def run_eval(args: argparse.Namespace, session: Session) -> int:
    if args.list:
        if not args.job_id:
            raise CommandError("--list needs a job")
        evaluations = session.client.list_evaluations(args.job_id).evaluations
        for evaluation in evaluations:
            session.print(message_json(evaluation) if args.json else evaluation_report(evaluation))
        return 0
    if not args.job_id and not args.model:
        raise CommandError("give a job, or a model directory with --model")
    messages = session.client.evaluate_model(
        args.job_id,
        data_path=args.data,
        method=args.method,
        max_records=args.max_records,
        samples_per_prompt=args.samples,
        **_options(args),
    )
    for message in messages:
        if message.HasField("evaluation"):
            result = message.evaluation
            session.print(message_json(result) if args.json else evaluation_report(result))
        elif session.interactive:
            session.out.write(f"\r{message.records_done}/{message.records_total} records")
            session.out.flush()
    return 0
