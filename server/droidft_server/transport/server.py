"""The gRPC server: the droidft service plus health checking and reflection."""

from __future__ import annotations

from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from droidft.v1 import service_pb2, service_pb2_grpc

from .auth import AuthInterceptor, TokenFile
from .interceptor import GuardInterceptor

SERVICE_NAME = service_pb2.DESCRIPTOR.services_by_name["TrainingService"].full_name
# ValidateDataset takes up to 64 MiB of inline data and GenerateSampleData returns as much.
MESSAGE_LIMIT_BYTES = 80 * 2**20


class BoundServer:
    def __init__(self, server: grpc.Server, port: int, health_servicer: health.HealthServicer):
        self.server = server
        self.port = port
        self._health = health_servicer

    def stop(self, grace: float) -> None:
        self._health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def start_server(
    servicer: service_pb2_grpc.TrainingServiceServicer,
    listen: str,
    *,
    max_workers: int,
    tokens: TokenFile | None = None,
    credentials: grpc.ServerCredentials | None = None,
) -> BoundServer:
    """Serve on `listen` (HOST:PORT, port 0 picks a free one) and return the bound port.

    With `tokens`, every call but health checks needs one of them; with `credentials`, the port speaks TLS.
    """
    # Authentication first: a caller without a token learns nothing, not even whether its request is valid.
    interceptors = ([AuthInterceptor(tokens)] if tokens is not None else []) + [GuardInterceptor()]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", MESSAGE_LIMIT_BYTES),
            ("grpc.max_send_message_length", MESSAGE_LIMIT_BYTES),
        ],
    )
    service_pb2_grpc.add_TrainingServiceServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    port = server.add_secure_port(listen, credentials) if credentials else server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    server.start()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return BoundServer(server, port, health_servicer)
