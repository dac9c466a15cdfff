"""Generate and EvaluateModel against a real server, a job it really trained and its real sampler worker."""

import asyncio
import io
import json
import urllib.request

import grpc
import pytest
from fixed_device import device_profile

from droidft.v1 import evaluation_pb2, job_pb2, methods_pb2, sampling_pb2, service_pb2, service_pb2_grpc
from droidft_server.app import DroidftServer, ServerConfig

QUESTION = [sampling_pb2.ChatTurn(role="user", content="What is 2 + 3?")]
SFT_RECORDS = [
    {"messages": [{"role": "user", "content": f"What is {a} + {b}?"}, {"role": "assistant", "content": f"{a + b}"}]}
    for a in range(1, 7)
    for b in range(1, 4)
]
GRPO_RECORDS = [{"prompt": f"{a} + {b} =", "answer": str(a + b)} for a in range(3) for b in range(2)]


@pytest.fixture(scope="module")
def server(tmp_path_factory, roots):
    started = DroidftServer(
        ServerConfig(
            state_dir=tmp_path_factory.mktemp("state"),
            listen="127.0.0.1:0",
            device_profile=device_profile,
            metrics_listen="127.0.0.1:0",
            **roots,
        )
    )
    yield started
    started.stop(grace=0)


@pytest.fixture(scope="module")
def stub(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield service_pb2_grpc.TrainingServiceStub(channel)


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sft") / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in SFT_RECORDS))
    return path


@pytest.fixture(scope="module")
def job(stub, tiny_model, train_file):
    spec = job_pb2.TrainingJobSpec(
        model_path=str(tiny_model),
        train_data_path=str(train_file),
        iterations=30,
        batch_size=4,
        learning_rate=1e-4,
        checkpoint_every=10,
        eval_every=10,
        val_data_path=str(train_file),
        max_seq_length=512,
    )
    spec.sft.SetInParent()
    created = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
    events = list(stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=created.job_id)))
    assert events[-1].state_change.state == job_pb2.JOB_STATE_SUCCEEDED, events[-1]
    return stub.GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=created.job_id))


def generate(stub, job_id="", **fields):
    model = sampling_pb2.ModelSelection(job_id=job_id, **fields.pop("model", {}))
    request = sampling_pb2.GenerateRequest(model=model, **fields)
    return list(stub.Generate(request))


def side_tokens(chunks, side=sampling_pb2.GENERATION_SIDE_ADAPTED):
    return [token for chunk in chunks if chunk.side == side for token in chunk.token_ids]


def greedy_in_this_process(model_path, adapter_path, turns, max_tokens):
    import mlx.core as mx
    import mlx_lm
    from mlx_lm.generate import generate_step

    model, tokenizer = mlx_lm.load(str(model_path), adapter_path=adapter_path)
    prompt = tokenizer.apply_chat_template(
        [{"role": t.role, "content": t.content} for t in turns], add_generation_prompt=True, return_dict=False
    )
    tokens = []
    for token, _ in generate_step(mx.array(prompt), model, max_tokens=max_tokens):
        if int(token) in tokenizer.eos_token_ids:
            break
        tokens.append(int(token))
    return tokens


def test_greedy_generation_with_the_adapter_equals_mlx_lm_token_for_token(stub, job, tiny_model):
    sampling = sampling_pb2.SamplingOptions(temperature=0, max_tokens=24)
    chunks = generate(stub, job.job_id, messages=sampling_pb2.ChatTurns(turns=QUESTION), sampling=sampling)
    expected = greedy_in_this_process(tiny_model, job.output_dir, QUESTION, 24)
    assert side_tokens(chunks) == expected and expected
    assert chunks[-1].finish_reason in (sampling_pb2.FINISH_REASON_LENGTH, sampling_pb2.FINISH_REASON_END)
    assert chunks[-1].completion_tokens == len(expected)
    assert "".join(c.text for c in chunks)


def test_a_checkpoint_and_the_base_model_are_sampled_as_mlx_lm_samples_them(stub, job, tiny_model):
    sampling = sampling_pb2.SamplingOptions(max_tokens=12)
    messages = sampling_pb2.ChatTurns(turns=QUESTION)
    chunks = generate(
        stub,
        job.job_id,
        model={"adapter": sampling_pb2.ADAPTER_CHOICE_CHECKPOINT, "checkpoint_iteration": 10},
        messages=messages,
        sampling=sampling,
        side_by_side=True,
    )
    checkpoint = f"{job.output_dir}/checkpoints/{10:07d}"
    assert side_tokens(chunks) == greedy_in_this_process(tiny_model, checkpoint, QUESTION, 12)
    base = side_tokens(chunks, sampling_pb2.GENERATION_SIDE_BASE)
    assert base == greedy_in_this_process(tiny_model, None, QUESTION, 12)
    finished = [c.side for c in chunks if c.finish_reason]
    assert finished == [sampling_pb2.GENERATION_SIDE_ADAPTED, sampling_pb2.GENERATION_SIDE_BASE]


def test_the_best_adapter_is_the_saved_one_with_the_lowest_validation_loss(stub, job, tiny_model):
    events = stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=job.job_id))
    val_loss = {e.eval_report.iteration: e.eval_report.val_loss for e in events if e.HasField("eval_report")}
    saved = stub.ListCheckpoints(service_pb2.ListCheckpointsRequest(job_id=job.job_id)).checkpoints
    best = min((c for c in saved if c.iteration in val_loss), key=lambda c: val_loss[c.iteration])
    sampling = sampling_pb2.SamplingOptions(max_tokens=12)
    messages = sampling_pb2.ChatTurns(turns=QUESTION)
    chunks = generate(
        stub, job.job_id, model={"adapter": sampling_pb2.ADAPTER_CHOICE_BEST}, messages=messages, sampling=sampling
    )
    best_dir = best.path.rpartition("/")[0]
    assert side_tokens(chunks) == greedy_in_this_process(tiny_model, best_dir, QUESTION, 12)


def test_a_seed_makes_sampling_repeatable(stub, job):
    def sample(seed):
        sampling = sampling_pb2.SamplingOptions(temperature=1.5, top_p=0.95, max_tokens=16, seed=seed)
        return side_tokens(generate(stub, job.job_id, prompt="What is", sampling=sampling))

    first = sample(7)
    assert sample(7) == first
    assert sample(8) != first


def test_a_second_request_reuses_the_loaded_model(stub, job, server):
    sampling = sampling_pb2.SamplingOptions(max_tokens=4)
    generate(stub, job.job_id, prompt="1 + 1", sampling=sampling)
    loads = server.sampler.loads
    chunks = generate(stub, job.job_id, prompt="2 + 2", sampling=sampling)
    assert chunks[0].model_cached
    assert server.sampler.loads == loads
    with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics") as response:
        assert f"droidft_sampler_model_loads_total {float(loads)}" in response.read().decode()


def test_stop_strings_end_the_text_before_them(stub, job):
    base = {"adapter": sampling_pb2.ADAPTER_CHOICE_NONE}  # the random base model talks on and on

    def text_of(chunks):
        return "".join(c.text for c in chunks)

    text = text_of(
        generate(stub, job.job_id, model=base, prompt="What is", sampling=sampling_pb2.SamplingOptions(max_tokens=40))
    )
    assert len(text) > 8, text
    stop = text[5:7]  # a piece of what the model says greedily
    sampling = sampling_pb2.SamplingOptions(max_tokens=40, stop=[stop])
    chunks = generate(stub, job.job_id, model=base, prompt="What is", sampling=sampling)
    assert chunks[-1].finish_reason == sampling_pb2.FINISH_REASON_STOP
    assert text_of(chunks) == text[: text.index(stop)]


def test_cancelling_the_call_stops_the_generation(stub, job, server):
    base = sampling_pb2.ModelSelection(job_id=job.job_id, adapter=sampling_pb2.ADAPTER_CHOICE_NONE)
    request = sampling_pb2.GenerateRequest(
        model=base, prompt="What is", sampling=sampling_pb2.SamplingOptions(max_tokens=1000)
    )
    # Greedy: the same 1000 tokens every time, none of them the end of the answer.
    assert list(stub.Generate(request))[-1].finish_reason == sampling_pb2.FINISH_REASON_LENGTH
    cancelled = server.sampler.cancelled
    call = stub.Generate(request)
    received = [next(call), next(call)]
    call.cancel()
    # The worker runs calls in order: this one finishes only after the cancelled one has stopped.
    after = generate(stub, job.job_id, prompt="What is", sampling=sampling_pb2.SamplingOptions(max_tokens=2))
    assert after[-1].finish_reason and not any(chunk.finish_reason for chunk in received)
    assert server.sampler.cancelled == cancelled + 1


def evaluate(stub, **fields):
    request = evaluation_pb2.EvaluateModelRequest(**fields)
    return list(stub.EvaluateModel(request))


def test_the_sft_loss_on_the_training_file_is_lower_after_training(stub, job, train_file):
    trained = evaluate(stub, model=sampling_pb2.ModelSelection(job_id=job.job_id), data_path=str(train_file))
    base = evaluate(
        stub,
        model=sampling_pb2.ModelSelection(job_id=job.job_id, adapter=sampling_pb2.ADAPTER_CHOICE_NONE),
        data_path=str(train_file),
    )
    assert trained[-1].records_done == trained[-1].records_total == 18
    assert trained[0].records_total == 18 and len(trained) > 2  # progress before the result
    after, before = trained[-1].evaluation, base[-1].evaluation
    assert after.loss < before.loss
    assert after.perplexity == pytest.approx(2.718281828459045**after.loss)
    assert 0 <= before.token_accuracy <= after.token_accuracy <= 1
    listed = stub.ListEvaluations(evaluation_pb2.ListEvaluationsRequest(job_id=job.job_id)).evaluations
    assert [e.evaluation_id for e in listed][-2:] == [after.evaluation_id, before.evaluation_id]
    assert listed[-1].adapter_path == "" and listed[-2].adapter_path.endswith("adapters.safetensors")


def test_grpo_pass_at_k_is_reported_within_0_and_1(stub, job, tmp_path):
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in GRPO_RECORDS))
    responses = evaluate(
        stub,
        model=sampling_pb2.ModelSelection(job_id=job.job_id),
        data_path=str(data),
        method=methods_pb2.TRAINING_METHOD_GRPO,
        samples_per_prompt=3,
        sampling=sampling_pb2.SamplingOptions(max_tokens=8, seed=1),
    )
    evaluation = responses[-1].evaluation
    assert evaluation.HasField("pass_at_k") and 0 <= evaluation.pass_at_k <= 1
    assert evaluation.samples_per_prompt == 3 and evaluation.records == len(GRPO_RECORDS)
    assert evaluation.mean_rewards and all(0 <= v <= 1 for v in evaluation.mean_rewards.values())
    assert evaluation.method == methods_pb2.TRAINING_METHOD_GRPO


def test_an_online_method_scores_held_out_prompts_by_its_rewards(stub, job, tmp_path):
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in GRPO_RECORDS))
    responses = evaluate(
        stub,
        model=sampling_pb2.ModelSelection(job_id=job.job_id),
        data_path=str(data),
        method=methods_pb2.TRAINING_METHOD_PPO,
        samples_per_prompt=2,
        sampling=sampling_pb2.SamplingOptions(max_tokens=8, seed=1),
    )
    evaluation = responses[-1].evaluation
    assert evaluation.HasField("pass_at_k") and 0 <= evaluation.pass_at_k <= 1
    assert set(evaluation.mean_rewards) == {"exact_answer"}
    assert evaluation.method == methods_pb2.TRAINING_METHOD_PPO


def test_the_python_clients_generate_and_evaluate_through_a_job_handle(server, job, train_file):
    from droidft import AsyncClient, Client

    with Client(f"127.0.0.1:{server.port}") as client:
        handle = client.job(job.job_id)
        chunks = list(handle.generate(messages=[{"role": "user", "content": "What is 2 + 3?"}], max_tokens=24))
        evaluation = handle.evaluate(data_path=str(train_file), max_records=4)
        assert evaluation.records == 4 and evaluation.HasField("loss")
        assert handle.evaluations()[-1].evaluation_id == evaluation.evaluation_id

    async def scenario():
        async with AsyncClient(f"127.0.0.1:{server.port}") as client:
            handle = client.job(job.job_id)
            tokens = [
                t async for c in handle.generate(prompt="What is", adapter="none", max_tokens=4) for t in c.token_ids
            ]
            return tokens, await handle.evaluations()

    tokens, evaluations = asyncio.run(scenario())
    assert side_tokens(chunks) and tokens and evaluations[-1].evaluation_id == evaluation.evaluation_id


def test_the_cli_generates_chats_and_evaluates(server, job, train_file, capsys, monkeypatch):
    from droidft.cli.main import main as droidft

    address = ["--server", f"127.0.0.1:{server.port}"]
    assert droidft([*address, "generate", job.job_id, "What is", "--max-tokens", "8", "--side-by-side"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[adapted]\n") and "\n[base]\n" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("What is 2 + 3?\nAnd 1 + 1?\n/exit\nnever read\n"))
    assert droidft([*address, "chat", job.job_id, "--max-tokens", "6"]) == 0
    assert capsys.readouterr().out.count("\n") == 2  # one answer per turn
    assert droidft([*address, "eval", job.job_id, "--data", str(train_file), "--max-records", "3"]) == 0
    report = capsys.readouterr().out
    assert "loss:" in report and "perplexity:" in report and "token accuracy:" in report
    assert droidft([*address, "eval", job.job_id, "--list", "--json"]) == 0
    assert '"evaluation_id"' in capsys.readouterr().out


def test_a_job_asking_for_a_final_evaluation_has_one_on_its_test_split(stub, tiny_model, tmp_path):
    for name, records in (("train.jsonl", SFT_RECORDS), ("test.jsonl", SFT_RECORDS[:5])):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    spec = job_pb2.TrainingJobSpec(
        model_path=str(tiny_model), train_data_path=str(tmp_path), iterations=2, batch_size=2, final_evaluation=True
    )
    spec.sft.SetInParent()
    created = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
    events = list(stub.StreamTrainingProgress(service_pb2.StreamTrainingProgressRequest(job_id=created.job_id)))
    assert events[-1].state_change.state == job_pb2.JOB_STATE_SUCCEEDED
    (evaluation,) = stub.ListEvaluations(evaluation_pb2.ListEvaluationsRequest(job_id=created.job_id)).evaluations
    assert evaluation.data_path == str(tmp_path / "test.jsonl") and evaluation.records == 5
    assert evaluation.HasField("loss") and evaluation.adapter_path
    logged = [e.log.message for e in events if e.HasField("log") and "final evaluation" in e.log.message]
    assert logged == [f"final evaluation {evaluation.evaluation_id} on {evaluation.data_path} (5 records): "
                      f"loss {evaluation.loss:.4f}, perplexity {evaluation.perplexity:.4f}, "
                      f"token_accuracy {evaluation.token_accuracy:.4f}"]  # fmt: skip


def test_preference_evaluation_reports_reward_accuracy_and_margin(stub, job, tmp_path):
    data = tmp_path / "pairs.jsonl"
    pairs = [{"prompt": f"What is {a} + 1?", "chosen": str(a + 1), "rejected": str(a + 7)} for a in range(4)]
    data.write_text("".join(json.dumps(r) + "\n" for r in pairs))
    responses = evaluate(
        stub,
        model=sampling_pb2.ModelSelection(job_id=job.job_id),
        data_path=str(data),
        method=methods_pb2.TRAINING_METHOD_DPO,
    )
    evaluation = responses[-1].evaluation
    assert evaluation.records == 4 and 0 <= evaluation.reward_accuracy <= 1
    assert evaluation.HasField("reward_margin") and not evaluation.HasField("loss")


def test_concurrent_requests_to_one_model_are_queued_and_each_answered_in_full(stub, job):
    from concurrent.futures import ThreadPoolExecutor

    sampling = sampling_pb2.SamplingOptions(max_tokens=16)
    base = {"adapter": sampling_pb2.ADAPTER_CHOICE_NONE}
    alone = side_tokens(generate(stub, job.job_id, model=base, prompt="What is", sampling=sampling))
    with ThreadPoolExecutor(4) as pool:
        calls = [
            pool.submit(generate, stub, job.job_id, model=base, prompt="What is", sampling=sampling) for _ in range(4)
        ]
        answers = [side_tokens(call.result()) for call in calls]
    assert answers == [alone] * 4


def test_a_sampler_that_dies_fails_its_call_with_a_reason_and_the_next_call_starts_another(stub, job, server):
    import os
    import signal

    request = sampling_pb2.GenerateRequest(
        model=sampling_pb2.ModelSelection(job_id=job.job_id, adapter=sampling_pb2.ADAPTER_CHOICE_NONE),
        prompt="What is",
        sampling=sampling_pb2.SamplingOptions(max_tokens=1000),
    )
    call = stub.Generate(request)
    next(call)
    os.kill(server.sampler.pid, signal.SIGKILL)
    with pytest.raises(grpc.RpcError) as caught:
        list(call)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "the sampler process exited" in caught.value.details()
    after = generate(stub, job.job_id, prompt="What is", sampling=sampling_pb2.SamplingOptions(max_tokens=2))
    assert after[-1].finish_reason and not after[0].model_cached  # a new worker, which loaded the model again


def test_cancelling_an_evaluation_stops_it_within_a_generation(stub, job, server, tmp_path):
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in GRPO_RECORDS))
    request = evaluation_pb2.EvaluateModelRequest(
        model=sampling_pb2.ModelSelection(job_id=job.job_id, adapter=sampling_pb2.ADAPTER_CHOICE_NONE),
        data_path=str(data),
        method=methods_pb2.TRAINING_METHOD_GRPO,
        samples_per_prompt=64,
        sampling=sampling_pb2.SamplingOptions(temperature=0.01, max_tokens=4000),
    )

    def stored():
        return len(stub.ListEvaluations(evaluation_pb2.ListEvaluationsRequest(job_id=job.job_id)).evaluations)

    cancelled, evaluations = server.sampler.cancelled, stored()
    call = stub.EvaluateModel(request)
    assert next(call).records_done == 0
    call.cancel()
    after = generate(stub, job.job_id, prompt="What is", sampling=sampling_pb2.SamplingOptions(max_tokens=2))
    assert after[-1].finish_reason
    assert server.sampler.cancelled == cancelled + 1
    assert stored() == evaluations  # nothing stored for it
