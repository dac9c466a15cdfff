"""The HTTP port speaks Connect and gRPC-Web with the gRPC port's handlers: the same answers, the same rich
errors and the same tokens, checked here with a plain HTTP client (the browser tests drive the console)."""

import base64
import http.client
import json
import ssl
import struct

import pytest
from certificates import make_certificates
from google.rpc import error_details_pb2, status_pb2

from droidft.v1 import data_pb2, job_pb2, progress_pb2, service_pb2
from droidft_server.domain import states

SERVICE = "/droidft.v1.TrainingService/"
CONNECT = {"connect-protocol-version": "1"}


@pytest.fixture()
def http_server(make_server, fake_runner):
    server = make_server(fake_runner, http_listen="127.0.0.1:0")
    yield server
    server.stop(grace=0)


def post(port: int, method: str, body: bytes, content_type: str, headers=None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", SERVICE + method, body, {"content-type": content_type, **CONNECT, **(headers or {})})
    return connection.getresponse()


def envelope(message) -> bytes:
    data = message.SerializeToString()
    return struct.pack(">BI", 0, len(data)) + data


def read_envelope(response) -> tuple[int, bytes]:
    flags, length = struct.unpack(">BI", response.read(5))
    return flags, response.read(length)


def unpadded_b64decode(value: str) -> bytes:
    return base64.b64decode(value + "=" * (-len(value) % 4))


def error_info(error: dict) -> error_details_pb2.ErrorInfo:
    (detail,) = [d for d in error["details"] if d["type"] == "google.rpc.ErrorInfo"]
    return error_details_pb2.ErrorInfo.FromString(unpadded_b64decode(detail["value"]))


def test_unary_calls_answer_in_proto_and_json(http_server):
    response = post(http_server.http_port, "ListTrainingMethods", b"", "application/proto")
    assert response.status == 200 and response.getheader("content-type") == "application/proto"
    methods = service_pb2.ListTrainingMethodsResponse.FromString(response.read()).methods
    assert "gspo" in {m.config_field for m in methods}

    response = post(http_server.http_port, "ListTrainingMethods", b"{}", "application/json")
    assert response.status == 200
    assert {m["configField"] for m in json.loads(response.read())["methods"]} == {m.config_field for m in methods}


def test_a_refused_request_answers_connect_error_json_with_the_grpc_details(http_server, spec):
    spec.learning_rate = 5.0  # the contract allows at most 1
    request = service_pb2.CreateTrainingJobRequest(spec=spec)
    response = post(http_server.http_port, "CreateTrainingJob", request.SerializeToString(), "application/proto")
    assert response.status == 400
    error = json.loads(response.read())
    assert error["code"] == "invalid_argument" and "learning_rate" in error["message"]
    assert error_info(error).reason == "INVALID_REQUEST" and error_info(error).domain == "droidft"
    (bad,) = [d for d in error["details"] if d["type"] == "google.rpc.BadRequest"]
    fields = error_details_pb2.BadRequest.FromString(unpadded_b64decode(bad["value"])).field_violations
    assert [f.field for f in fields] == ["spec.learning_rate"]

    response = post(http_server.http_port, "GetTrainingJob", b'{"jobId": "nope"}', "application/json")
    assert response.status == 404 and error_info(json.loads(response.read())).reason == "JOB_NOT_FOUND"
    response = post(http_server.http_port, "GetTrainingJob", b"{not json", "application/json")
    assert response.status == 400 and json.loads(response.read())["code"] == "invalid_argument"


def test_server_streams_reach_the_client_as_they_happen(http_server, fake_runner, spec):
    job = service_pb2.CreateTrainingJobRequest(spec=spec)
    created = post(http_server.http_port, "CreateTrainingJob", job.SerializeToString(), "application/proto")
    job_id = job_pb2.TrainingJob.FromString(created.read()).job_id
    fake_runner.wait_started(job_id)

    request = service_pb2.StreamTrainingProgressRequest(job_id=job_id)
    stream = post(http_server.http_port, "StreamTrainingProgress", envelope(request), "application/connect+proto")
    assert stream.status == 200
    seen = []
    # Each event is read before the next happens: the stream is not buffered until the job ends.
    while not any(e.WhichOneof("event") == "train_report" for e in seen):
        if len(seen) == 2:
            fake_runner.report(job_id, iteration=1, loss=2.5)
        flags, data = read_envelope(stream)
        assert flags == 0
        seen.append(progress_pb2.TrainingProgress.FromString(data))
    fake_runner.finish(job_id)
    while (envelope_read := read_envelope(stream))[0] == 0:
        seen.append(progress_pb2.TrainingProgress.FromString(envelope_read[1]))
    assert envelope_read == (0x02, b"{}")
    assert seen[-1].state_change.state == states.SUCCEEDED
    assert [e.sequence for e in seen] == list(range(1, len(seen) + 1))


def test_a_stream_that_fails_ends_with_the_error_in_its_last_envelope(http_server):
    check = data_pb2.ValidateDatasetRequest(path="/etc/hostname")
    request = data_pb2.StreamDatasetValidationRequest(check=check)
    stream = post(http_server.http_port, "StreamDatasetValidation", envelope(request), "application/connect+proto")
    flags, data = read_envelope(stream)
    assert flags == 0x02
    error = json.loads(data)["error"]
    assert error["code"] == "permission_denied" and error_info(error).reason == "PATH_OUTSIDE_ROOTS"


def test_the_token_file_guards_the_http_port_too(make_server, tmp_path, spec):
    token_file = tmp_path / "tokens"
    token_file.write_text("alice:secret-of-alice\n")
    server = make_server(auth_token_file=token_file, http_listen="127.0.0.1:0")
    try:
        refused = post(server.http_port, "ListTrainingJobs", b"", "application/proto")
        assert refused.status == 401
        assert error_info(json.loads(refused.read())).reason == "AUTHENTICATION_REQUIRED"
        watch = envelope(service_pb2.StreamTrainingProgressRequest(job_id="any"))
        refused = post(server.http_port, "StreamTrainingProgress", watch, "application/connect+proto")
        flags, data = read_envelope(refused)
        assert flags == 0x02 and error_info(json.loads(data)["error"]).reason == "AUTHENTICATION_REQUIRED"
        request = service_pb2.CreateTrainingJobRequest(spec=spec).SerializeToString()
        accepted = post(
            server.http_port,
            "CreateTrainingJob",
            request,
            "application/proto",
            {"authorization": "Bearer secret-of-alice"},
        )
        assert accepted.status == 200
        assert job_pb2.TrainingJob.FromString(accepted.read()).creator == "alice"
    finally:
        server.stop(grace=0)


def test_grpc_web_carries_messages_and_the_status_in_a_trailer_frame(http_server):
    empty = struct.pack(">BI", 0, 0)
    response = post(http_server.http_port, "ListTrainingMethods", empty, "application/grpc-web+proto")
    flags, data = read_envelope(response)
    assert flags == 0 and service_pb2.ListTrainingMethodsResponse.FromString(data).methods
    flags, trailers = read_envelope(response)
    assert flags == 0x80 and trailers == b"grpc-status: 0\r\n"

    request = envelope(service_pb2.GetTrainingJobRequest(job_id="nope"))
    response = post(http_server.http_port, "GetTrainingJob", request, "application/grpc-web+proto")
    flags, trailers = read_envelope(response)
    fields = dict(line.split(": ", 1) for line in trailers.decode().split("\r\n") if line)
    assert flags == 0x80 and fields["grpc-status"] == "5"
    status = status_pb2.Status.FromString(base64.b64decode(fields["grpc-status-details-bin"]))
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert info.reason == "JOB_NOT_FOUND"


def test_the_console_page_is_served_at_the_root(http_server):
    connection = http.client.HTTPConnection("127.0.0.1", http_server.http_port, timeout=30)
    connection.request("GET", "/")
    response = connection.getresponse()
    assert response.status == 200 and b"console.js" in response.read()


def test_a_client_that_closes_its_stream_frees_it(http_server, fake_runner, spec):
    created = post(
        http_server.http_port,
        "CreateTrainingJob",
        service_pb2.CreateTrainingJobRequest(spec=spec).SerializeToString(),
        "application/proto",
    )
    job_id = job_pb2.TrainingJob.FromString(created.read()).job_id
    request = service_pb2.StreamTrainingProgressRequest(job_id=job_id)
    connection = http.client.HTTPConnection("127.0.0.1", http_server.http_port, timeout=30)
    headers = {"content-type": "application/connect+proto", **CONNECT}
    connection.request("POST", SERVICE + "StreamTrainingProgress", envelope(request), headers)
    stream = connection.getresponse()
    assert read_envelope(stream)[0] == 0
    assert http_server.open_streams.value == 1
    stream.close()
    connection.close()  # the browser goes away mid-stream, as a closed tab does
    assert http_server.open_streams.wait_for(lambda open_streams: open_streams == 0, timeout=10)


def test_with_a_certificate_the_http_port_speaks_https_and_asks_for_client_certificates(make_server, tmp_path):
    certificates = make_certificates(tmp_path / "pki")
    server = make_server(
        tls_cert=certificates.server_cert,
        tls_key=certificates.server_key,
        tls_client_ca=certificates.ca,
        http_listen="127.0.0.1:0",
    )
    try:
        known = ssl.create_default_context(cafile=str(certificates.ca))
        known.load_cert_chain(certificates.client_cert, certificates.client_key)
        connection = http.client.HTTPSConnection("localhost", server.http_port, context=known, timeout=30)
        connection.request("POST", SERVICE + "ListTrainingMethods", b"", {"content-type": "application/proto"})
        assert connection.getresponse().status == 200
        anonymous = ssl.create_default_context(cafile=str(certificates.ca))
        with pytest.raises((ssl.SSLError, ConnectionError)):
            connection = http.client.HTTPSConnection("localhost", server.http_port, context=anonymous, timeout=30)
            connection.request("POST", SERVICE + "ListTrainingMethods", b"", {"content-type": "application/proto"})
            connection.getresponse()
    finally:
        server.stop(grace=0)
