"""Who may call: bearer tokens on every RPC but health, named creators, TLS and mutual TLS, and a
server that will not serve the network unauthenticated by mistake."""

import subprocess
import sys

import grpc
import pytest
from certificates import make_certificates
from grpc_health.v1 import health_pb2, health_pb2_grpc

from droidft import Client, Reason, Tls
from droidft.errors import UnauthenticatedError, UnavailableError
from droidft_server.transport.auth import TokenFileError, parse_tokens
from droidft_server.transport.security import SecurityConfigError, is_loopback

ROOT_BIN = sys.executable.rsplit("/", 1)[0]


@pytest.fixture()
def token_file(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# who may call\nalice:secret-of-alice\n\nbare-token-on-line-4\n")
    return path


@pytest.fixture()
def guarded(make_server, token_file):
    server = make_server(auth_token_file=token_file)
    yield server
    server.stop(grace=0)


def test_token_lines_are_named_or_known_by_their_line():
    assert parse_tokens("# c\nalice:a:b\n  \nplain\n") == [("alice", "a:b"), ("line-4", "plain")]
    with pytest.raises(TokenFileError):
        parse_tokens(":nameless\n")


def test_every_call_but_health_needs_a_known_token(guarded, spec):
    target = f"127.0.0.1:{guarded.port}"
    for token in (None, "wrong"):
        with Client(target, token=token) as client, pytest.raises(UnauthenticatedError) as caught:
            client.list_training_methods()
        assert caught.value.reason == Reason.AUTHENTICATION_REQUIRED
        assert "Bearer" in caught.value.message and "secret" not in str(caught.value)
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    with Client(target, token="secret-of-alice") as alice, Client(target, token="bare-token-on-line-4") as other:
        assert alice.list_training_methods().methods
        assert alice.create_training_job(spec).creator == "alice"
        assert other.create_training_job(spec).creator == "line-4"


def test_reflection_needs_a_token_too(guarded):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    request = reflection_pb2.ServerReflectionRequest(list_services="")
    with grpc.insecure_channel(f"127.0.0.1:{guarded.port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.ServerReflectionInfo(iter([request])))
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        answers = stub.ServerReflectionInfo(iter([request]), metadata=[("authorization", "Bearer secret-of-alice")])
        assert any(s.name == "droidft.v1.TrainingService" for a in answers for s in a.list_services_response.service)


def test_reloading_the_token_file_adds_and_removes_tokens_at_once(guarded, token_file):
    target = f"127.0.0.1:{guarded.port}"
    token_file.write_text("bob:secret-of-bob\n")
    guarded.reload_tokens()
    with Client(target, token="secret-of-alice") as alice, pytest.raises(UnauthenticatedError):
        alice.list_training_methods()
    with Client(target, token="secret-of-bob") as bob:
        assert bob.list_training_methods().methods
    # A file that cannot be read keeps the tokens already loaded: one that is not UTF-8, then one that is gone.
    token_file.write_bytes(b"\xff\xfe not text")
    guarded.reload_tokens()
    with Client(target, token="secret-of-bob") as bob:
        assert bob.list_training_methods().methods
    token_file.unlink()
    guarded.reload_tokens()
    with Client(target, token="secret-of-bob") as bob:
        assert bob.list_training_methods().methods


def test_beyond_loopback_without_tokens_is_refused_unless_asked_for(make_server, tmp_path, token_file):
    assert is_loopback("127.0.0.1:1") and is_loopback("[::1]:1") and is_loopback("localhost:1")
    assert not is_loopback("0.0.0.0:1") and not is_loopback("[::]:1") and not is_loopback(":1")
    with pytest.raises(SecurityConfigError, match="--allow-unauthenticated"):
        make_server(listen="0.0.0.0:0")
    for options in ({"allow_unauthenticated": True}, {"auth_token_file": token_file}):
        server = make_server(listen="0.0.0.0:0", **options)
        server.stop(grace=0)
    refused = subprocess.run(
        [f"{ROOT_BIN}/droidft-server", "serve", "--listen", "0.0.0.0:0", "--state-dir", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "--allow-unauthenticated" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_tls_and_mutual_tls(make_server, tmp_path):
    certificates = make_certificates(tmp_path / "pki")
    server = make_server(tls_cert=certificates.server_cert, tls_key=certificates.server_key)
    target = f"localhost:{server.port}"
    try:
        with Client(target, tls=Tls(ca_file=certificates.ca)) as client:
            assert client.list_training_methods().methods
        with Client(target, timeout=10) as plaintext, pytest.raises(UnavailableError):
            plaintext.list_training_methods()
    finally:
        server.stop(grace=0)
    mutual = make_server(
        tls_cert=certificates.server_cert,
        tls_key=certificates.server_key,
        tls_client_ca=certificates.ca,
    )
    target = f"localhost:{mutual.port}"
    try:
        with (
            Client(target, tls=Tls(ca_file=certificates.ca), timeout=10) as anonymous,
            pytest.raises(UnavailableError),
        ):
            anonymous.list_training_methods()
        known = Tls(ca_file=certificates.ca, cert_file=certificates.client_cert, key_file=certificates.client_key)
        with Client(target, tls=known) as client:
            assert client.list_training_methods().methods
    finally:
        mutual.stop(grace=0)


def test_tls_options_that_cannot_serve_are_refused(make_server, tmp_path):
    certificates = make_certificates(tmp_path / "pki")
    for options in ({"tls_cert": certificates.server_cert}, {"tls_client_ca": certificates.ca}):
        with pytest.raises(SecurityConfigError):
            make_server(**options)
