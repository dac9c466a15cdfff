import { Code, ConnectError } from "@connectrpc/connect";
import { setTimeout as delay } from "node:timers/promises";
import { JobState, type TrainingJob } from "./gen/droidft/v1/job_pb.js";
import type { TrainingProgress } from "./gen/droidft/v1/progress_pb.js";
import { fromCallError } from "./errors.js";

/** How a progress stream reconnects after its connection drops. */
export interface ReconnectPolicy {
  /** Reconnections in a row without a new event before giving up. */
  readonly maxAttempts: number;
  /** Wait before the given attempt (1-based), in milliseconds. */
  readonly delayMs: (attempt: number) => number;
}

export const defaultReconnectPolicy: ReconnectPolicy = {
  maxAttempts: 8,
  delayMs: (attempt) => Math.min(100 * 2 ** (attempt - 1), 5_000),
};

// At rest: no worker runs until a client resumes the job (PAUSED, and FAILED or CANCELLED with a checkpoint).
const TERMINAL_STATES = new Set([JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.PAUSED]);

/** True for the event that ends a job's progress: its change to a terminal state. */
export function isTerminal(event: TrainingProgress): boolean {
  return event.event.case === "stateChange" && TERMINAL_STATES.has(event.event.value.state);
}

// Codes a transport gives when the connection, not the server's logic, ended the call (a reset
// connection surfaces as "[canceled] http/2 stream closed"); the server's own errors carry details.
const DROPPED_CODES = new Set([Code.Unavailable, Code.Canceled, Code.Internal, Code.Unknown]);

function isDropped(error: unknown, signal: AbortSignal | undefined): boolean {
  return !signal?.aborted && error instanceof ConnectError && DROPPED_CODES.has(error.code) && error.details.length === 0;
}

/** True when the job has ended and its terminal event is at or before `sequence`. */
async function endedBefore(sequence: bigint, fetchJob: () => Promise<TrainingJob>): Promise<boolean> {
  const job = await fetchJob();
  return TERMINAL_STATES.has(job.state) && job.lastSequence <= sequence;
}

export interface ResumableProgressArgs {
  readonly afterSequence: bigint;
  readonly policy: ReconnectPolicy;
  readonly signal: AbortSignal | undefined;
  /** Opens one server stream of the events after the given sequence. */
  readonly open: (afterSequence: bigint) => AsyncIterable<TrainingProgress>;
  /** The job as it is now: tells a stream that ended early from one that started after the end. */
  readonly fetchJob: () => Promise<TrainingJob>;
}

/** Yields each event once, in order, across reconnections, until the terminal state change. */
export async function* resumableProgress(args: ResumableProgressArgs): AsyncGenerator<TrainingProgress> {
  let lastSequence = args.afterSequence;
  let attempt = 0;
  for (;;) {
    let cause: unknown = new ConnectError("progress stream ended before the job's terminal event", Code.Unavailable);
    try {
      // The server ends the stream after the job's last event: a resumed job's log goes on past the pause,
      // failure or cancel it was resumed from, so a terminal event ends the stream only when the server does.
      let atRest = false;
      for await (const event of args.open(lastSequence)) {
        if (event.sequence <= lastSequence) {
          continue;
        }
        lastSequence = event.sequence;
        attempt = 0;
        atRest = isTerminal(event);
        yield event;
      }
      if (atRest || (await endedBefore(lastSequence, args.fetchJob))) {
        return;
      }
    } catch (error) {
      if (!isDropped(error, args.signal)) {
        throw fromCallError(error);
      }
      cause = error;
    }
    attempt += 1;
    if (attempt > args.policy.maxAttempts) {
      throw fromCallError(cause);
    }
    await delay(args.policy.delayMs(attempt), undefined, { signal: args.signal });
  }
}
