import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { createValidator, type Validator } from "@bufbuild/protovalidate";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { type CallOptions, type Client, Code, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  type GenerateSampleDataResponse,
  GenerateSampleDataRequestSchema,
  StreamDatasetValidationRequestSchema,
  type StreamDatasetValidationResponse,
  type ValidateDatasetResponse,
  ValidateDatasetRequestSchema,
} from "./gen/droidft/v1/data_pb.js";
import {
  type EvaluateModelResponse,
  EvaluateModelRequestSchema,
  ListEvaluationsRequestSchema,
  type ListEvaluationsResponse,
} from "./gen/droidft/v1/evaluation_pb.js";
import { ExportModelRequestSchema, type ExportModelResponse } from "./gen/droidft/v1/export_pb.js";
import {
  DeleteFileRequestSchema,
  type DeleteFileResponse,
  DownloadArtifactRequestSchema,
  type DownloadArtifactResponse,
  GetUploadStatusRequestSchema,
  ListFilesRequestSchema,
  type ListFilesResponse,
  type UploadedFile,
  type UploadFileRequest,
  UploadFileRequestSchema,
  type UploadStatus,
} from "./gen/droidft/v1/files_pb.js";
import type { TrainingJob, TrainingJobSpecSchema } from "./gen/droidft/v1/job_pb.js";
import type { TrainingProgress } from "./gen/droidft/v1/progress_pb.js";
import {
  CancelTrainingJobRequestSchema,
  CreateTrainingJobRequestSchema,
  DeleteTrainingJobRequestSchema,
  type DeleteTrainingJobResponse,
  EstimateResourcesRequestSchema,
  type EstimateResourcesResponse,
  GetTrainingJobRequestSchema,
  ListCheckpointsRequestSchema,
  type ListCheckpointsResponse,
  ListTrainingJobsRequestSchema,
  type ListTrainingJobsResponse,
  ListTrainingMethodsRequestSchema,
  type ListTrainingMethodsResponse,
  PauseTrainingJobRequestSchema,
  ResumeTrainingJobRequestSchema,
  StreamTrainingProgressRequestSchema,
  TrainingService,
} from "./gen/droidft/v1/service_pb.js";
import { type GenerateResponse, GenerateRequestSchema } from "./gen/droidft/v1/sampling_pb.js";
import { DroidftError, fromCallError, fromViolations } from "./errors.js";
import { JobHandle } from "./job.js";
import { checkKnownKeys } from "./strict.js";
import { defaultReconnectPolicy, type ReconnectPolicy, resumableProgress } from "./progress.js";
import { dropPartial, fileChunks, fileSha256, partialOffset, uploadIdFor, writeDownload } from "./transfers.js";

export type TrainingJobSpecInit = MessageInitShape<typeof TrainingJobSpecSchema>;
export type ValidateDatasetInit = MessageInitShape<typeof ValidateDatasetRequestSchema>;
export type StreamDatasetValidationInit = MessageInitShape<typeof StreamDatasetValidationRequestSchema>;
export type GenerateSampleDataInit = MessageInitShape<typeof GenerateSampleDataRequestSchema>;
export type ListTrainingJobsInit = MessageInitShape<typeof ListTrainingJobsRequestSchema>;
export type GenerateInit = MessageInitShape<typeof GenerateRequestSchema>;
export type EvaluateModelInit = MessageInitShape<typeof EvaluateModelRequestSchema>;

/** What ExportModel makes of a job's adapter (the fields of ExportModelRequest but its job). */
export interface ExportModelOptions {
  /** The checkpoint of this iteration; default 0: the final adapter. */
  readonly iteration?: number;
  /** Quantise to 4 or 8 bits; default: keep the base model's precision. */
  readonly quantizeBits?: number;
  /** Weights per quantisation group, 32, 64 or 128; default 64. */
  readonly quantizeGroupSize?: number;
  /** De-quantise a quantised base model. */
  readonly dequantize?: boolean;
  /** Also write model.gguf (llama, mistral, mixtral; unquantised). */
  readonly gguf?: boolean;
}

export interface UploadFileOptions {
  /** The name the server keeps (its extension picks the data reader); default: the local file's name. */
  readonly name?: string;
  /** Names the upload so it can be resumed; default: made from the file's SHA-256 and size. */
  readonly uploadId?: string;
}

export interface DroidftClientOptions {
  /** Check every request against the contract's protovalidate rules before sending it; default true. */
  readonly validate?: boolean;
  /** Deadline of each unary call in milliseconds; default: none. */
  readonly timeoutMs?: number;
  /** How streamProgress reconnects after a dropped connection. */
  readonly reconnect?: ReconnectPolicy;
  /** Bearer token of a server that asks for one (its --auth-token-file), sent with every call. */
  readonly token?: string;
  /** TLS: `true` trusts the system's CAs; PEM contents give a CA, and a client certificate for mutual TLS. */
  readonly tls?: true | TlsOptions;
}

export interface TlsOptions {
  /** PEM of the CA that signed the server's certificate; default: the system's trusted roots. */
  readonly ca?: string | Buffer;
  /** PEM of this client's certificate chain, for a server that asks for one (mutual TLS). */
  readonly cert?: string | Buffer;
  /** PEM of that certificate's private key. */
  readonly key?: string | Buffer;
  /** Name to check the server's certificate for, when it is not the address's host. */
  readonly serverName?: string;
}

export interface CreateTrainingJobOptions {
  /** Idempotency key: a retry with the same key and spec returns the first job. */
  readonly requestId?: string;
  /** Check everything and answer as if created, without creating anything. */
  readonly validateOnly?: boolean;
}

export interface StreamOptions {
  /** Stops the stream; for generate and evaluateModel it also stops the work on the server. */
  readonly signal?: AbortSignal;
}

export interface StreamProgressOptions {
  /** Start after this sequence number; default 0 (from the first event). */
  readonly afterSequence?: bigint;
  /** Stops the stream (the iterator then throws the abort reason). */
  readonly signal?: AbortSignal;
}

/** A typed client of droidft.v1.TrainingService over gRPC (HTTP/2, plaintext or TLS). */
export class DroidftClient {
  private readonly sessions: Http2SessionManager;
  private readonly service: Client<typeof TrainingService>;
  private readonly validator: Validator | undefined;
  private readonly timeoutMs: number | undefined;
  private readonly reconnect: ReconnectPolicy;

  /** @param address "host:port", or a URL such as "http://host:port" (with `tls`: "https://"). */
  constructor(address: string, options: DroidftClientOptions = {}) {
    const scheme = options.tls ? "https" : "http";
    const baseUrl = address.includes("://") ? address : `${scheme}://${address}`;
    const tls = options.tls === true ? {} : options.tls;
    const nodeOptions = tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.serverName } : undefined;
    // Keepalive: a ping every 30 s (the server allows one every 10 s), the connection given up 10 s after
    // an unanswered one, so a quiet progress stream notices a vanished server.
    this.sessions = new Http2SessionManager(baseUrl, { pingIntervalMs: 30_000, pingTimeoutMs: 10_000 }, nodeOptions);
    const interceptors: Interceptor[] = options.token ? [bearer(options.token)] : [];
    this.service = createClient(
      TrainingService,
      createGrpcTransport({ baseUrl, sessionManager: this.sessions, interceptors }),
    );
    this.validator = (options.validate ?? true) ? createValidator() : undefined;
    this.timeoutMs = options.timeoutMs;
    this.reconnect = options.reconnect ?? defaultReconnectPolicy;
  }

  /** The handle of a job: get, cancel, delete, checkpoints, progress and wait. */
  job(jobId: string): JobHandle {
    return new JobHandle(this, jobId);
  }

  /** Submits a job like createTrainingJob, resolving to its handle. */
  async startTrainingJob(spec: TrainingJobSpecInit, options: CreateTrainingJobOptions = {}): Promise<JobHandle> {
    return this.job((await this.createTrainingJob(spec, options)).jobId);
  }

  /** Closes the connection; calls in flight fail. */
  close(): void {
    this.sessions.abort();
  }

  listTrainingMethods(): Promise<ListTrainingMethodsResponse> {
    return this.unary(ListTrainingMethodsRequestSchema, {}, (request, call) =>
      this.service.listTrainingMethods(request, call),
    );
  }

  validateDataset(init: ValidateDatasetInit): Promise<ValidateDatasetResponse> {
    return this.unary(ValidateDatasetRequestSchema, init, (request, call) =>
      this.service.validateDataset(request, call),
    );
  }

  /** Like validateDataset, with progress messages while the server reads; the last one holds the result. */
  async *streamDatasetValidation(init: StreamDatasetValidationInit): AsyncGenerator<StreamDatasetValidationResponse> {
    const request = this.request(StreamDatasetValidationRequestSchema, init);
    try {
      yield* this.service.streamDatasetValidation(request);
    } catch (error) {
      throw fromCallError(error);
    }
  }

  generateSampleData(init: GenerateSampleDataInit): Promise<GenerateSampleDataResponse> {
    return this.unary(GenerateSampleDataRequestSchema, init, (request, call) =>
      this.service.generateSampleData(request, call),
    );
  }

  estimateResources(spec: TrainingJobSpecInit): Promise<EstimateResourcesResponse> {
    return this.unary(EstimateResourcesRequestSchema, { spec }, (request, call) =>
      this.service.estimateResources(request, call),
    );
  }

  createTrainingJob(spec: TrainingJobSpecInit, options: CreateTrainingJobOptions = {}): Promise<TrainingJob> {
    return this.unary(CreateTrainingJobRequestSchema, { spec, ...options }, (request, call) =>
      this.service.createTrainingJob(request, call),
    );
  }

  getTrainingJob(jobId: string): Promise<TrainingJob> {
    return this.unary(GetTrainingJobRequestSchema, { jobId }, (request, call) =>
      this.service.getTrainingJob(request, call),
    );
  }

  listTrainingJobs(init: ListTrainingJobsInit = {}): Promise<ListTrainingJobsResponse> {
    return this.unary(ListTrainingJobsRequestSchema, init, (request, call) =>
      this.service.listTrainingJobs(request, call),
    );
  }

  cancelTrainingJob(jobId: string): Promise<TrainingJob> {
    return this.unary(CancelTrainingJobRequestSchema, { jobId }, (request, call) =>
      this.service.cancelTrainingJob(request, call),
    );
  }

  /** Pauses a running job: it checkpoints after its current iteration and its worker exits (PAUSING, then PAUSED). */
  pauseTrainingJob(jobId: string): Promise<TrainingJob> {
    return this.unary(PauseTrainingJobRequestSchema, { jobId }, (request, call) =>
      this.service.pauseTrainingJob(request, call),
    );
  }

  /**
   * Resumes a paused job, or a failed or cancelled one with a resumable checkpoint, from its last resumable
   * checkpoint or the one of `fromIteration`; the job keeps its id and goes on as if never interrupted.
   */
  resumeTrainingJob(jobId: string, fromIteration?: number): Promise<TrainingJob> {
    return this.unary(ResumeTrainingJobRequestSchema, { jobId, fromIteration }, (request, call) =>
      this.service.resumeTrainingJob(request, call),
    );
  }

  /** Deletes a finished job with its files on the server; a queued or running one must be cancelled first. */
  deleteTrainingJob(jobId: string): Promise<DeleteTrainingJobResponse> {
    return this.unary(DeleteTrainingJobRequestSchema, { jobId }, (request, call) =>
      this.service.deleteTrainingJob(request, call),
    );
  }

  listCheckpoints(jobId: string): Promise<ListCheckpointsResponse> {
    return this.unary(ListCheckpointsRequestSchema, { jobId }, (request, call) =>
      this.service.listCheckpoints(request, call),
    );
  }

  /**
   * A job's progress events in sequence order: the stored ones after `afterSequence`, then live ones.
   * After a dropped connection it reconnects and resumes after the last sequence seen; it ends after
   * the job's terminal state change.
   */
  async *streamProgress(jobId: string, options: StreamProgressOptions = {}): AsyncGenerator<TrainingProgress> {
    const first = this.request(StreamTrainingProgressRequestSchema, {
      jobId,
      afterSequence: options.afterSequence ?? 0n,
    });
    yield* resumableProgress({
      afterSequence: first.afterSequence,
      policy: this.reconnect,
      signal: options.signal,
      open: (afterSequence) =>
        this.service.streamTrainingProgress({ ...first, afterSequence }, { signal: options.signal }),
      fetchJob: () => this.service.getTrainingJob({ jobId }, { signal: options.signal, timeoutMs: this.timeoutMs }),
    });
  }

  /**
   * Uploads a local file into the server's files area, resuming an earlier interrupted upload of it (the
   * server says what it holds, the rest is sent); resolves to the file, whose `dataPath` ("file:<id>")
   * a spec takes as data.
   */
  async uploadFile(path: string, options: UploadFileOptions = {}): Promise<UploadedFile> {
    const size = BigInt((await stat(path)).size);
    const sha256 = await fileSha256(path);
    const uploadId = options.uploadId ?? uploadIdFor(sha256, size);
    const name = options.name ?? basename(path);
    let offset = 0n;
    try {
      const held = await this.getUploadStatus(uploadId);
      if (held.name === name && held.sizeBytes === size && held.sha256 === sha256) {
        offset = held.receivedBytes;
      }
    } catch (error) {
      if (!(error instanceof DroidftError && error.code === Code.NotFound)) {
        throw error;
      }
    }
    const start = this.request(UploadFileRequestSchema, {
      message: { case: "start", value: { uploadId, name, sizeBytes: size, sha256, offset } },
    });
    async function* messages(): AsyncGenerator<UploadFileRequest> {
      yield start;
      for await (const chunk of fileChunks(path, offset)) {
        yield create(UploadFileRequestSchema, { message: { case: "chunk", value: chunk } });
      }
    }
    try {
      return await this.service.uploadFile(messages());
    } catch (error) {
      throw fromCallError(error);
    }
  }

  /** What the server holds of an upload that has not completed (NOT_FOUND, UPLOAD_NOT_FOUND: nothing). */
  getUploadStatus(uploadId: string): Promise<UploadStatus> {
    return this.unary(GetUploadStatusRequestSchema, { uploadId }, (request, call) =>
      this.service.getUploadStatus(request, call),
    );
  }

  listFiles(): Promise<ListFilesResponse> {
    return this.unary(ListFilesRequestSchema, {}, (request, call) => this.service.listFiles(request, call));
  }

  deleteFile(fileId: string): Promise<DeleteFileResponse> {
    return this.unary(DeleteFileRequestSchema, { fileId }, (request, call) => this.service.deleteFile(request, call));
  }

  /** The bytes of a file of a job from `offset` on; the first message's `info` has the whole file's SHA-256. */
  async *downloadArtifact(jobId: string, path: string, offset = 0n): AsyncGenerator<DownloadArtifactResponse> {
    const request = this.request(DownloadArtifactRequestSchema, { jobId, path, offset });
    try {
      yield* this.service.downloadArtifact(request);
    } catch (error) {
      throw fromCallError(error);
    }
  }

  /**
   * Downloads a file of a job into `destination`: written to `<destination>.partial` (which a later call
   * resumes from) and renamed into place once its SHA-256 matches the server's.
   */
  async download(jobId: string, path: string, destination: string): Promise<string> {
    const offset = await partialOffset(destination);
    try {
      return await writeDownload(destination, this.downloadArtifact(jobId, path, offset));
    } catch (error) {
      if (!(offset > 0n && error instanceof DroidftError && error.code === Code.OutOfRange)) {
        throw error;
      }
      await dropPartial(destination); // longer than the server's file: not a prefix of it
      return writeDownload(destination, this.downloadArtifact(jobId, path));
    }
  }

  /** Fuses a job's adapter into a full model on the server: progress messages, then the result. */
  async *exportModel(jobId: string, options: ExportModelOptions = {}): AsyncGenerator<ExportModelResponse> {
    const request = this.request(ExportModelRequestSchema, { jobId, ...options });
    try {
      yield* this.service.exportModel(request);
    } catch (error) {
      throw fromCallError(error);
    }
  }

  /**
   * Generated text, streamed as it comes, from a job's model and adapter or a model directory; with
   * `sideBySide` also from the base model (each chunk's `side` says which). Aborting stops the generation.
   */
  async *generate(init: GenerateInit, options: StreamOptions = {}): AsyncGenerator<GenerateResponse> {
    const request = this.request(GenerateRequestSchema, init);
    try {
      yield* this.service.generate(request, { signal: options.signal });
    } catch (error) {
      throw fromCallError(error);
    }
  }

  /** Measures a model on a data set (a job's test split by default): progress, then the `evaluation`. */
  async *evaluateModel(init: EvaluateModelInit, options: StreamOptions = {}): AsyncGenerator<EvaluateModelResponse> {
    const request = this.request(EvaluateModelRequestSchema, init);
    try {
      yield* this.service.evaluateModel(request, { signal: options.signal });
    } catch (error) {
      throw fromCallError(error);
    }
  }

  /** A job's stored evaluations, oldest first. */
  listEvaluations(jobId: string): Promise<ListEvaluationsResponse> {
    return this.unary(ListEvaluationsRequestSchema, { jobId }, (request, call) =>
      this.service.listEvaluations(request, call),
    );
  }

  /** Builds a request and checks it against the contract's rules, as the server would. */
  private request<Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): MessageShape<Desc> {
    checkKnownKeys(schema, init);
    const message = create(schema, init);
    if (this.validator) {
      const result = this.validator.validate(schema, message);
      if (result.kind === "invalid") {
        throw fromViolations(result.violations);
      }
      if (result.kind === "error") {
        throw result.error;
      }
    }
    return message;
  }

  /** Checks the request (a broken rule rejects the returned promise), then calls the server. */
  private async unary<Desc extends DescMessage, Response>(
    schema: Desc,
    init: MessageInitShape<Desc>,
    call: (request: MessageShape<Desc>, options: CallOptions) => Promise<Response>,
  ): Promise<Response> {
    const request = this.request(schema, init);
    try {
      return await call(request, { timeoutMs: this.timeoutMs });
    } catch (error) {
      throw fromCallError(error);
    }
  }
}

/** Sends `authorization: Bearer <token>` with every call. */
function bearer(token: string): Interceptor {
  return (next) => async (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}
