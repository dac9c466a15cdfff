import type { Checkpoint, TrainingJob } from "./gen/droidft/v1/job_pb.js";
import { JobState } from "./gen/droidft/v1/job_pb.js";
import type { TrainingProgress } from "./gen/droidft/v1/progress_pb.js";
import { join, relative } from "node:path";
import type { ExportedModel, ExportProgress } from "./gen/droidft/v1/export_pb.js";
import type { Evaluation } from "./gen/droidft/v1/evaluation_pb.js";
import type { GenerateResponse } from "./gen/droidft/v1/sampling_pb.js";
import type {
  DroidftClient,
  EvaluateModelInit,
  ExportModelOptions,
  GenerateInit,
  StreamOptions,
  StreamProgressOptions,
} from "./client.js";

export interface ExportOptions {
  /** Download the exported model into this local directory. */
  readonly destination?: string;
  /** Called with each progress message. */
  readonly onProgress?: (progress: ExportProgress) => void;
}

const FINISHED = new Set([JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED]);

/** One job, by id: what the client can do with it, as the Python client's JobHandle. */
export class JobHandle {
  constructor(
    private readonly client: DroidftClient,
    readonly id: string,
  ) {}

  /** The job as it is now. */
  get(): Promise<TrainingJob> {
    return this.client.getTrainingJob(this.id);
  }

  /** Stops the job if it is queued or running (the adapter trained so far is kept). */
  cancel(): Promise<TrainingJob> {
    return this.client.cancelTrainingJob(this.id);
  }

  /** Checkpoints the running job after its current iteration and frees its worker. */
  pause(): Promise<TrainingJob> {
    return this.client.pauseTrainingJob(this.id);
  }

  /** Goes on from the last resumable checkpoint (or the one of `fromIteration`). */
  resume(fromIteration?: number): Promise<TrainingJob> {
    return this.client.resumeTrainingJob(this.id, fromIteration);
  }

  /** Deletes the finished job with its files on the server; resolves to the bytes freed. */
  async delete(): Promise<bigint> {
    return (await this.client.deleteTrainingJob(this.id)).bytesFreed;
  }

  /** The job's saved adapter checkpoints, by iteration, the final adapter last. */
  async checkpoints(): Promise<Checkpoint[]> {
    return (await this.client.listCheckpoints(this.id)).checkpoints;
  }

  /** The job's events, resuming across dropped connections, until its terminal state change. */
  progress(options: StreamProgressOptions = {}): AsyncGenerator<TrainingProgress> {
    return this.client.streamProgress(this.id, options);
  }

  /** Downloads a file of the job (relative to its directory) into `destination`: atomic, checked, resumable. */
  download(path: string, destination: string): Promise<string> {
    return this.client.download(this.id, path, destination);
  }

  /** Fuses the job's adapter into a full model on the server, and downloads it when `destination` is given. */
  async export(what: ExportModelOptions = {}, options: ExportOptions = {}): Promise<ExportedModel> {
    let result: ExportedModel | undefined;
    for await (const update of this.client.exportModel(this.id, what)) {
      if (update.update.case === "progress") {
        options.onProgress?.(update.update.value);
      } else if (update.update.case === "result") {
        result = update.update.value;
      }
    }
    if (result === undefined) {
      throw new Error("the export stream ended without a result");
    }
    if (options.destination !== undefined) {
      for (const file of result.files) {
        await this.download(file.path, join(options.destination, relative(result.path, file.path)));
      }
    }
    return result;
  }

  /** Text from the job's model with its adapter (`model.adapter` picks another), as DroidftClient.generate. */
  generate(init: GenerateInit, options: StreamOptions = {}): AsyncGenerator<GenerateResponse> {
    return this.client.generate({ ...init, model: { ...init.model, jobId: this.id } } as GenerateInit, options);
  }

  /** Measures the job's model on its test split (or `dataPath`); resolves to the stored evaluation. */
  async evaluate(init: EvaluateModelInit = {}, options: StreamOptions = {}): Promise<Evaluation | undefined> {
    const request = { ...init, model: { ...init.model, jobId: this.id } } as EvaluateModelInit;
    let evaluation: Evaluation | undefined;
    for await (const message of this.client.evaluateModel(request, options)) {
      evaluation = message.evaluation ?? evaluation;
    }
    return evaluation;
  }

  /** The job's stored evaluations, oldest first. */
  async evaluations(): Promise<Evaluation[]> {
    return (await this.client.listEvaluations(this.id)).evaluations;
  }

  /** Follows the job until it ends and resolves to the final job (SUCCEEDED, FAILED or CANCELLED). */
  async wait(options: { signal?: AbortSignal } = {}): Promise<TrainingJob> {
    const now = await this.get();
    if (FINISHED.has(now.state)) {
      return now;
    }
    for await (const _ of this.progress({ afterSequence: now.lastSequence, signal: options.signal })) {
      // The stream ends after the terminal event.
    }
    return this.get();
  }
}
