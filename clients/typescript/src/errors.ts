import { Code, ConnectError } from "@connectrpc/connect";
import type { Violation } from "@bufbuild/protovalidate";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";

/** One invalid field of a request, as the server's google.rpc.BadRequest (or the local check) names it. */
export interface FieldViolation {
  /** Path inside the request, e.g. "spec.learning_rate". */
  readonly field: string;
  /** What is wrong, for a person. */
  readonly description: string;
  /** The protovalidate rule that failed, e.g. "double.gte_lte", when known. */
  readonly reason: string;
}

/**
 * An error answered by the droidft service (or found before sending), with the
 * google.rpc details decoded from the `grpc-status-details-bin` trailer.
 */
export class DroidftError extends Error {
  override readonly name = "DroidftError";

  constructor(
    message: string,
    /** The gRPC status code. */
    readonly code: Code,
    /** ErrorInfo.reason, a stable machine-readable reason; empty when the server sent none. */
    readonly reason: string,
    /** ErrorInfo.domain ("droidft"); empty when the server sent none. */
    readonly domain: string,
    /** ErrorInfo.metadata. */
    readonly metadata: Readonly<Record<string, string>>,
    /** BadRequest field violations of an INVALID_ARGUMENT error. */
    readonly fieldViolations: readonly FieldViolation[],
    /** True when the request never left this process because it broke a validation rule. */
    readonly local: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The gRPC code's name, e.g. "invalid_argument", as Connect spells it. */
  get codeName(): string {
    return Code[this.code];
  }
}

/** Turns whatever a call threw into a DroidftError when it is a gRPC error; anything else is returned as is. */
export function fromCallError(error: unknown): unknown {
  if (!(error instanceof ConnectError)) {
    return error;
  }
  const info = error.findDetails(ErrorInfoSchema)[0];
  const violations = error.findDetails(BadRequestSchema).flatMap((badRequest) => badRequest.fieldViolations);
  return new DroidftError(
    error.rawMessage,
    error.code,
    info?.reason ?? "",
    info?.domain ?? "",
    { ...info?.metadata },
    violations.map(({ field, description, reason }) => ({ field, description, reason })),
    false,
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
  return new DroidftError(summary, Code.InvalidArgument, "", "", {}, fieldViolations, true);
}
