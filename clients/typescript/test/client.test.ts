import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import {
  DroidftClient,
  FinishReason,
  GenerationSide,
  DroidftError,
  ErrorReason,
  fileSha256,
  JobState,
  TrainingMethod,
  type TrainingJobSpecInit,
  type TrainingProgress,
} from "../src/index.js";
import { type CuttableProxy, startProxy } from "./proxy.js";
import { buildTinyModel, type RunningServer, startServer, writeSftData } from "./server.js";

async function rejection(promise: Promise<unknown>): Promise<DroidftError> {
  const error = await promise.then(
    () => assert.fail("the call should have failed"),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof DroidftError, `expected a DroidftError, got ${String(error)}`);
  return error;
}

async function collect<T>(events: AsyncIterable<T>, onEvent: (event: T) => void = () => {}) {
  const seen: T[] = [];
  for await (const event of events) {
    seen.push(event);
    onEvent(event);
  }
  return seen;
}

function finalState(events: TrainingProgress[]): JobState | undefined {
  const last = events.at(-1)?.event;
  return last?.case === "stateChange" ? last.value.state : undefined;
}

describe("droidft TypeScript client against a real server", () => {
  let dir: string;
  let server: RunningServer;
  let proxy: CuttableProxy;
  let client: DroidftClient;
  let spec: TrainingJobSpecInit;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "droidft-ts-"));
    const [started, modelPath, trainDataPath] = await Promise.all([
      startServer(join(dir, "server"), dir),
      buildTinyModel(join(dir, "tiny")),
      writeSftData(join(dir, "train.jsonl")),
    ]);
    server = started;
    proxy = await startProxy(server.address);
    client = new DroidftClient(proxy.address, { reconnect: { maxAttempts: 20, delayMs: () => 50 } });
    spec = { modelPath, trainDataPath, iterations: 10, batchSize: 2, method: { case: "sft", value: {} } };
  });

  after(async () => {
    client?.close();
    await proxy?.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("lists the training methods", async () => {
    const { methods } = await client.listTrainingMethods();
    const sft = methods.find((method) => method.method === TrainingMethod.SFT);
    assert.ok(sft, "SFT is listed");
    assert.equal(sft.configField, "sft");
    assert.ok(sft.parameters.some((parameter) => parameter.path === "learning_rate"));
  });

  test("generates sample data and validates it", async () => {
    const sample = await client.generateSampleData({ format: "chat_messages", count: 3, seed: 7n });
    assert.equal(sample.recordCount, 3n);
    const report = await client.validateDataset({
      source: { case: "content", value: sample.content },
      method: TrainingMethod.SFT,
    });
    assert.equal(report.valid, true, JSON.stringify(report.issues));
    const progress = [];
    for await (const message of client.streamDatasetValidation({
      check: { source: { case: "content", value: sample.content }, method: TrainingMethod.SFT },
    })) {
      progress.push(message);
    }
    assert.equal(progress.at(-1)?.result?.valid, true);
    assert.equal(progress.at(-1)?.recordsRead, 3n);
  });

  test("estimates the resources of a job", async () => {
    const { estimate } = await client.estimateResources(spec);
    assert.ok(estimate && estimate.peakMemoryBytes > 0n);
  });

  test("rejects an out-of-range spec before sending it, naming the field", async () => {
    const error = await rejection(client.createTrainingJob({ ...spec, learningRate: 1.0 }));
    assert.equal(error.code, Code.InvalidArgument);
    assert.equal(error.local, true);
    assert.deepEqual(error.fieldViolations.map((v) => [v.field, v.reason]), [["spec.learning_rate", "double.gt_lte"]]);
  });

  test("refuses a key that names no field, from plain JavaScript, with the closest names", async () => {
    const plain = { ...spec, learning_rate: 2e-4 } as unknown as typeof spec;
    const error = await rejection(client.createTrainingJob(plain));
    assert.equal(error.code, Code.InvalidArgument);
    assert.equal(error.local, true);
    assert.deepEqual(error.fieldViolations.map((v) => [v.field, v.reason]), [["spec.learning_rate", "field.known"]]);
    assert.match(error.fieldViolations[0].description, /did you mean learningRate\?/);
    const nested = { ...spec, adapter: { rnak: 4 } } as unknown as typeof spec;
    assert.match((await rejection(client.createTrainingJob(nested))).message, /spec\.adapter\.rnak: .*did you mean rank/);
  });

  test("decodes the server's BadRequest details for the same spec", async () => {
    const unchecked = new DroidftClient(server.address, { validate: false });
    try {
      const error = await rejection(unchecked.createTrainingJob({ ...spec, learningRate: 1.0 }));
      assert.equal(error.code, Code.InvalidArgument);
      assert.equal(error.local, false);
      assert.deepEqual(error.fieldViolations.map((v) => v.field), ["spec.learning_rate"]);
    } finally {
      unchecked.close();
    }
  });

  test("reports an unknown job as NOT_FOUND with its ErrorInfo reason", async () => {
    const error = await rejection(client.getTrainingJob("no-such-job"));
    assert.equal(error.code, Code.NotFound);
    assert.equal(error.domain, "droidft");
    assert.equal(error.reason, "JOB_NOT_FOUND");
    assert.equal(error.errorReason, ErrorReason.JOB_NOT_FOUND);
  });

  test("reports a missing model as FAILED_PRECONDITION with its reason", async () => {
    const error = await rejection(client.createTrainingJob({ ...spec, modelPath: join(dir, "no-model") }));
    assert.equal(error.code, Code.FailedPrecondition);
    assert.equal(error.reason, "MODEL_NOT_FOUND");
    assert.equal(error.metadata.field, "spec.model_path");
  });

  test("follows an SFT job to success across a dropped connection", async () => {
    const job = await client.createTrainingJob(spec);
    assert.equal(job.method, TrainingMethod.SFT);
    const connectionsBefore = proxy.connections();
    let cut = false;
    const events = await collect(client.streamProgress(job.jobId), () => {
      if (!cut) {
        cut = true;
        proxy.cut();
      }
    });

    assert.ok(proxy.connections() > connectionsBefore, "the stream reconnected after the cut");
    assert.deepEqual(
      events.map((event) => event.sequence),
      events.map((_, index) => BigInt(index + 1)),
      "every event once, in order",
    );
    assert.equal(finalState(events), JobState.SUCCEEDED);
    const reports = events.flatMap((event) => (event.event.case === "trainReport" ? [event.event.value] : []));
    assert.equal(reports.at(-1)?.iteration, 10);

    const finished = await client.getTrainingJob(job.jobId);
    assert.equal(finished.state, JobState.SUCCEEDED);
    assert.equal(finished.lastSequence, events.at(-1)?.sequence);
    const tail = await collect(client.streamProgress(job.jobId, { afterSequence: 3n }));
    assert.deepEqual(tail, events.slice(3), "resuming after sequence 3 replays the rest");
    assert.deepEqual(await collect(client.streamProgress(job.jobId, { afterSequence: finished.lastSequence })), []);

    const { checkpoints } = await client.listCheckpoints(job.jobId);
    assert.ok(checkpoints.some((checkpoint) => checkpoint.final));
    const { jobs } = await client.listTrainingJobs({ states: [JobState.SUCCEEDED] });
    assert.ok(jobs.some((listed) => listed.jobId === job.jobId));

    const deleted = await client.deleteTrainingJob(job.jobId);
    assert.equal(deleted.jobId, job.jobId);
    assert.ok(deleted.bytesFreed > 0n, "its adapter and checkpoints were removed");
    assert.equal((await rejection(client.getTrainingJob(job.jobId))).code, Code.NotFound);
  });

  test("a job handle waits for its job and lists its checkpoints", async () => {
    const job = await client.startTrainingJob({ ...spec, iterations: 4 });
    const finished = await job.wait();
    assert.equal(finished.jobId, job.id);
    assert.equal(finished.state, JobState.SUCCEEDED);
    assert.ok((await job.checkpoints()).some((checkpoint) => checkpoint.final));
    assert.ok((await job.delete()) > 0n);
  });

  test("uploads data, trains on it, downloads the adapter byte-identical and exports the model", async () => {
    const local = join(dir, "client-side.jsonl");
    await writeSftData(local);
    const uploaded = await client.uploadFile(local, { name: "chat.jsonl" });
    assert.equal(uploaded.sha256, await fileSha256(local));
    assert.equal(uploaded.dataPath, `file:${uploaded.fileId}`);
    assert.ok((await client.listFiles()).files.some((file) => file.fileId === uploaded.fileId));
    const job = await client.startTrainingJob({ ...spec, trainDataPath: uploaded.dataPath, iterations: 2 });
    const finished = await job.wait();
    assert.equal(finished.state, JobState.SUCCEEDED);
    const destination = join(dir, "adapters.safetensors");
    await writeFile(destination + ".partial", (await readFile(finished.adapterPath)).subarray(0, 100));
    await job.download("adapters.safetensors", destination); // resumes after the 100 bytes already here
    assert.deepEqual(await readFile(destination), await readFile(finished.adapterPath));
    const escape = await rejection(job.download("../../droidft.sqlite3", join(dir, "stolen")));
    assert.equal(escape.reason, "PATH_OUTSIDE_ROOTS");
    const stages: string[] = [];
    const exported = await job.export({}, { destination: join(dir, "exported"), onProgress: (p) => stages.push(p.stage) });
    assert.deepEqual(stages, ["loading", "fusing", "saving"]);
    assert.ok(exported.files.some((file) => file.path.endsWith("model.safetensors")));
    assert.ok((await readFile(join(dir, "exported", "config.json"), "utf8")).includes("llama"));
    const missing = await rejection(job.export({ iteration: 99 }));
    assert.equal(missing.reason, "CHECKPOINT_NOT_FOUND");
    assert.equal((await client.deleteFile(uploaded.fileId)).fileId, uploaded.fileId);
  });

  test("samples a trained job side by side with its base model, and evaluates it", async () => {
    const job = await client.startTrainingJob({ ...spec, iterations: 4 });
    await job.wait();
    const chunks = [];
    for await (const chunk of job.generate({
      input: { case: "prompt", value: "What is" },
      sampling: { maxTokens: 6 },
      sideBySide: true,
    })) {
      chunks.push(chunk);
    }
    const ends = chunks.filter((chunk) => chunk.finishReason !== FinishReason.UNSPECIFIED).map((chunk) => chunk.side);
    assert.deepEqual(ends, [GenerationSide.ADAPTED, GenerationSide.BASE]);
    assert.ok(chunks.some((chunk) => chunk.side === GenerationSide.BASE && chunk.tokenIds.length > 0));
    const evaluation = await job.evaluate({ dataPath: spec.trainDataPath, maxRecords: 3 });
    assert.equal(evaluation?.records, 3);
    assert.ok((evaluation?.loss ?? 0) > 0);
    assert.deepEqual(
      (await job.evaluations()).map((stored) => stored.evaluationId),
      [evaluation?.evaluationId],
    );
    const unknown = await rejection(collect(client.generate({ model: { jobId: "nope" }, input: { case: "prompt", value: "Hi" } })));
    assert.equal(unknown.errorReason, ErrorReason.JOB_NOT_FOUND);
  });

  test("pauses a running job, which then resumes under the same id and succeeds", async () => {
    const job = await client.startTrainingJob({ ...spec, iterations: 8, reportEvery: 1 });
    let pausing: Promise<unknown> | undefined;
    const events = await collect(job.progress(), (event) => {
      if (event.event.case === "trainReport" && !pausing) pausing = job.pause();
    });
    await pausing;
    assert.equal(finalState(events), JobState.PAUSED);
    const paused = await job.get();
    assert.ok(paused.resumeIteration > 0);
    assert.ok((await job.checkpoints()).some((checkpoint) => checkpoint.resumable));
    const refused = await rejection(job.pause());
    assert.equal(refused.reason, "JOB_STATE_CONFLICT");
    const resumed = await job.resume();
    assert.equal(resumed.jobId, job.id);
    assert.equal((await job.wait()).state, JobState.SUCCEEDED);
  });

  test("cancels a job, whose progress then ends with CANCELLED", async () => {
    const job = await client.createTrainingJob({ ...spec, iterations: 100_000 });
    const cancelled = await client.cancelTrainingJob(job.jobId);
    assert.equal(cancelled.jobId, job.jobId);
    const events = await collect(client.streamProgress(job.jobId));
    assert.equal(finalState(events), JobState.CANCELLED);
    assert.equal((await client.getTrainingJob(job.jobId)).state, JobState.CANCELLED);
  });
});

describe("droidft TypeScript client against a server that asks for a token", () => {
  let dir: string;
  let server: RunningServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "droidft-ts-auth-"));
    await writeFile(join(dir, "tokens"), "ts:token-of-the-ts-test\n");
    server = await startServer(join(dir, "server"), dir, ["--auth-token-file", join(dir, "tokens")]);
  });

  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("is refused without its token and served with it", async () => {
    const anonymous = new DroidftClient(server.address);
    const error = await rejection(anonymous.listTrainingMethods());
    anonymous.close();
    assert.equal(error.code, Code.Unauthenticated);
    assert.equal(error.errorReason, ErrorReason.AUTHENTICATION_REQUIRED);
    const client = new DroidftClient(server.address, { token: "token-of-the-ts-test" });
    try {
      assert.ok((await client.listTrainingMethods()).methods.length > 0);
    } finally {
      client.close();
    }
  });
});
