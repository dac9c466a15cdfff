"""A client that knows nothing of droidft but what server reflection tells it can use the service."""

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.rpc import error_details_pb2, status_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

SERVICE = "droidft.v1.TrainingService"


class ReflectionClient:
    """Calls any unary method by name, with message types built from the server's reflection answers."""

    def __init__(self, channel: grpc.Channel):
        self.channel = channel
        self.database = ProtoReflectionDescriptorDatabase(channel)
        # A pool of its own: nothing compiled into this process is used.
        self.pool = descriptor_pool.DescriptorPool(self.database)

    def services(self) -> list[str]:
        return list(self.database.get_services())

    def call(self, service: str, method: str, **fields):
        descriptor = self.pool.FindServiceByName(service).methods_by_name[method]
        request_class = message_factory.GetMessageClass(descriptor.input_type)
        response_class = message_factory.GetMessageClass(descriptor.output_type)
        stub = self.channel.unary_unary(
            f"/{service}/{method}",
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        return stub(request_class(**fields), timeout=30)


@pytest.fixture()
def reflection_client(server_address):
    with grpc.insecure_channel(server_address) as channel:
        yield ReflectionClient(channel)


def test_reflection_lists_the_training_service(reflection_client):
    assert SERVICE in reflection_client.services()


def test_list_training_methods_through_reflection_only(reflection_client):
    response = reflection_client.call(SERVICE, "ListTrainingMethods")
    assert response.DESCRIPTOR.file.pool is reflection_client.pool
    fields = [method.config_field for method in response.methods]
    assert fields[0] == "sft"
    assert {"grpo", "dpo"} <= set(fields)
    sft = response.methods[0]
    assert any(parameter.path == "learning_rate" for parameter in sft.parameters)


def test_unknown_job_is_not_found_with_error_info(reflection_client):
    with pytest.raises(grpc.RpcError) as caught:
        reflection_client.call(SERVICE, "GetTrainingJob", job_id="no-such-job")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    trailers = dict(caught.value.trailing_metadata())
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    info = error_details_pb2.ErrorInfo()
    assert any(detail.Unpack(info) for detail in status.details)
    assert (info.domain, info.reason) == ("droidft", "JOB_NOT_FOUND")
