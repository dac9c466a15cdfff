import { Code, ConnectError } from "@connectrpc/connect";
import type { Violation } from "@bufbuild/protovalidate";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { ErrorReason } from "./gen/droidft/v1/errors_pb.js";
import { BadRequestSchema, ErrorInfoSchema, PreconditionFailureSchema } from "./gen/google/rpc/error_details_pb.js";

/** One invalid field of a request, as the server's google.rpc.BadRequest (or the local check) names it. */
export interface FieldViolation {
  /** Path inside the request, e.g. "spec.learning_rate". */
  readonly field: string;
  /** What is wrong, for a person. */
  readonly description: string;
  /** The protovalidate rule that failed, e.g. "double.gte_lte", when known. */
  readonly reason: string;
}

/** One unmet precondition, from google.rpc.PreconditionFailure (e.g. a missing model directory). */
export interface PreconditionViolation {
  readonly type: string;
  readonly subject: string;
  readonly description: string;
}

export interface DroidftErrorDetails {
  /** The gRPC status code. */
  readonly code: Code;
  /** ErrorInfo.reason, a stable machine-readable reason (e.g. "JOB_NOT_FOUND"); empty when none was sent. */
  readonly reason?: string;
  /** ErrorInfo.domain ("droidft"); empty when none was sent. */
  readonly domain?: string;
  /** ErrorInfo.metadata. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** BadRequest field violations of an INVALID_ARGUMENT error. */
  readonly fieldViolations?: readonly FieldViolation[];
  /** PreconditionFailure violations of a FAILED_PRECONDITION error. */
  readonly preconditionViolations?: readonly PreconditionViolation[];
  /** True when the request never left this process because it broke a validation rule. */
  readonly local?: boolean;
}

/**
 * An error answered by the droidft service (or found before sending), with the google.rpc
 * details that Connect decodes from the `grpc-status-details-bin` trailer.
 */
export class DroidftError extends Error {
  override readonly name = "DroidftError";
  readonly code: Code;
  readonly reason: string;
  readonly domain: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];
  readonly preconditionViolations: readonly PreconditionViolation[];
  readonly local: boolean;

  constructor(message: string, details: DroidftErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.code = details.code;
    this.reason = details.reason ?? "";
    this.domain = details.domain ?? "";
    this.metadata = details.metadata ?? {};
    this.fieldViolations = details.fieldViolations ?? [];
    this.preconditionViolations = details.preconditionViolations ?? [];
    this.local = details.local ?? false;
  }

  /** The gRPC code's name as Connect spells it, e.g. "InvalidArgument". */
  get codeName(): string {
    return Code[this.code];
  }

  /** The contract's reason (droidft.v1.ErrorReason), or ERROR_REASON_UNSPECIFIED when none or an unknown one was sent. */
  get errorReason(): ErrorReason {
    const value = (ErrorReason as unknown as Record<string, ErrorReason | undefined>)[this.reason];
    return typeof value === "number" ? value : ErrorReason.ERROR_REASON_UNSPECIFIED;
  }
}

/** Turns whatever a call threw into a DroidftError when it is a gRPC error; anything else is returned as is. */
export function fromCallError(error: unknown): unknown {
  if (!(error instanceof ConnectError)) {
    return error;
  }
  const info = error.findDetails(ErrorInfoSchema)[0];
  return new DroidftError(
    error.rawMessage,
    {
      code: error.code,
      reason: info?.reason,
      domain: info?.domain,
      metadata: { ...info?.metadata },
      fieldViolations: error
        .findDetails(BadRequestSchema)
        .flatMap((badRequest) => badRequest.fieldViolations)
        .map(({ field, description, reason }) => ({ field, description, reason })),
      preconditionViolations: error
        .findDetails(PreconditionFailureSchema)
        .flatMap((failure) => failure.violations)
        .map(({ type, subject, description }) => ({ type, subject, description })),
    },
    { cause: error },
  );
}

/** The error of a request that broke the contract's protovalidate rules, shaped like the server's answer. */
export function fromViolations(violations: readonly Violation[]): DroidftError {
  const fieldViolations = violations.map((violation) => ({
    field: pathToString(violation.field),
    description: violation.message,
    reason: violation.ruleId,
  }));
  const summary = fieldViolations.map((v) => `${v.field}: ${v.description}`).join("; ");
  return new DroidftError(summary, { code: Code.InvalidArgument, fieldViolations, local: true });
}
