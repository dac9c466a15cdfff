/**
 * The browser's stand-in for @connectrpc/connect-node, which the console's build puts in its place: the
 * client's gRPC transport becomes a Connect transport over fetch (binary), to the server's HTTP port
 * (--http-listen), which hands each call to the gRPC port's own handlers. Everything else of the client
 * (requests checked by protovalidate, rich errors, resumable progress) is the same code.
 *
 * It is Connect's own transport with an HTTP client that sends each request body whole: fetch cannot stream
 * a request body over HTTP/1.1, so a client-streaming call (UploadFile) sends every message of its stream
 * in one body, which the HTTP port reads as the stream. Responses still stream as they come.
 */
import type { Interceptor, Transport } from "@connectrpc/connect";
import { readAllBytes, type UniversalClientFn, universalClientResponseFromFetch } from "@connectrpc/connect/protocol";
import { createTransport } from "@connectrpc/connect/protocol-connect";

interface GrpcTransportOptions {
  readonly baseUrl: string;
  readonly interceptors?: Interceptor[];
  readonly sessionManager?: Http2SessionManager;
}

const NO_LIMIT = 0xffffffff; // the server holds each request to its own limit

const wholeBodyFetch: UniversalClientFn = async (request) => {
  const body = request.body === undefined ? undefined : await readAllBytes(request.body, NO_LIMIT);
  const response = await fetch(request.url, {
    method: request.method,
    headers: request.header,
    signal: request.signal,
    body: body as BodyInit | undefined,
  });
  return universalClientResponseFromFetch(response);
};

export function createGrpcTransport(options: GrpcTransportOptions): Transport {
  return createTransport({
    httpClient: wholeBodyFetch,
    baseUrl: options.baseUrl,
    useBinaryFormat: true,
    interceptors: options.interceptors ?? [],
    acceptCompression: [],
    sendCompression: null,
    compressMinBytes: NO_LIMIT,
    readMaxBytes: NO_LIMIT,
    writeMaxBytes: NO_LIMIT,
  });
}

/** fetch holds no session of its own to close. */
export class Http2SessionManager {
  constructor(..._nodeOnlyOptions: unknown[]) {}

  abort(): void {}
}
