/**
 * The browser's stand-in for @connectrpc/connect-node, which the console's build puts in its place: the
 * client's gRPC transport becomes a Connect transport over fetch (binary), to the server's HTTP port
 * (--http-listen), which hands each call to the gRPC port's own handlers. Everything else of the client
 * (requests checked by protovalidate, rich errors, resumable progress) is the same code.
 */
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";

interface GrpcTransportOptions {
  readonly baseUrl: string;
  readonly interceptors?: Interceptor[];
  readonly sessionManager?: Http2SessionManager;
}

export function createGrpcTransport(options: GrpcTransportOptions): Transport {
  return createConnectTransport({ baseUrl: options.baseUrl, interceptors: options.interceptors, useBinaryFormat: true });
}

/** fetch holds no session of its own to close. */
export class Http2SessionManager {
  constructor(..._nodeOnlyOptions: unknown[]) {}

  abort(): void {}
}
