import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { createValidator, type Validator } from "@bufbuild/protovalidate";
import { type CallOptions, type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  type GenerateSampleDataResponse,
  GenerateSampleDataRequestSchema,
  StreamDatasetValidationRequestSchema,
  type StreamDatasetValidationResponse,
  type ValidateDatasetResponse,
  ValidateDatasetRequestSchema,
} from "./gen/droidft/v1/data_pb.js";
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
import { fromCallError, fromViolations } from "./errors.js";
import { JobHandle } from "./job.js";
import { checkKnownKeys } from "./strict.js";
import { defaultReconnectPolicy, type ReconnectPolicy, resumableProgress } from "./progress.js";

export type TrainingJobSpecInit = MessageInitShape<typeof TrainingJobSpecSchema>;
export type ValidateDatasetInit = MessageInitShape<typeof ValidateDatasetRequestSchema>;
export type StreamDatasetValidationInit = MessageInitShape<typeof StreamDatasetValidationRequestSchema>;
export type GenerateSampleDataInit = MessageInitShape<typeof GenerateSampleDataRequestSchema>;
export type ListTrainingJobsInit = MessageInitShape<typeof ListTrainingJobsRequestSchema>;

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
