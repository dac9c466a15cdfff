import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { DroidftError, JobState, TrainingJobSchema, TrainingProgressSchema, type TrainingProgress } from "../src/index.js";
import { resumableProgress } from "../src/progress.js";

const policy = { maxAttempts: 2, delayMs: () => 0 };
const runningJob = async () => create(TrainingJobSchema, { state: JobState.RUNNING });

function log(sequence: number): TrainingProgress {
  return create(TrainingProgressSchema, {
    sequence: BigInt(sequence),
    event: { case: "log", value: { message: `event ${sequence}` } },
  });
}

async function drain(events: AsyncIterable<TrainingProgress>): Promise<bigint[]> {
  const sequences = [];
  for await (const event of events) {
    sequences.push(event.sequence);
  }
  return sequences;
}

test("gives up with UNAVAILABLE after maxAttempts reconnections that bring nothing new", async () => {
  let opened = 0;
  const events = resumableProgress({
    afterSequence: 0n,
    policy,
    signal: undefined,
    fetchJob: runningJob,
    open: async function* () {
      opened += 1;
      throw new ConnectError("connection refused", Code.Unavailable);
    },
  });
  await assert.rejects(drain(events), (error) => error instanceof DroidftError && error.code === Code.Unavailable);
  assert.equal(opened, policy.maxAttempts + 1);
});

test("an error of the server's logic (NOT_FOUND) ends the stream at once", async () => {
  let opened = 0;
  const events = resumableProgress({
    afterSequence: 5n,
    policy,
    signal: undefined,
    fetchJob: runningJob,
    open: async function* (after) {
      opened += 1;
      yield log(Number(after) + 1);
      throw new ConnectError("no such job", Code.NotFound);
    },
  });
  await assert.rejects(drain(events), (error) => error instanceof DroidftError && error.code === Code.NotFound);
  assert.equal(opened, 1);
});

test("events a reconnection repeats are skipped", async () => {
  const connections = [
    [1, 2],
    [2, 3],
  ];
  const events = resumableProgress({
    afterSequence: 0n,
    policy,
    signal: undefined,
    fetchJob: async () => create(TrainingJobSchema, { state: JobState.SUCCEEDED, lastSequence: 3n }),
    open: async function* () {
      yield* (connections.shift() ?? []).map(log);
    },
  });
  assert.deepEqual(await drain(events), [1n, 2n, 3n]);
});
