"""What the listening port asks of callers: TLS (mutual when a client CA is given), and whether the
address is one only this machine can reach."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from pathlib import Path

import grpc


class SecurityConfigError(ValueError):
    """The server's TLS or authentication options cannot serve as given."""


def server_credentials(cert: Path | None, key: Path | None, client_ca: Path | None) -> grpc.ServerCredentials | None:
    """TLS credentials from PEM files; None without a certificate (a plaintext port)."""
    if cert is None and key is None:
        if client_ca is not None:
            raise SecurityConfigError("--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first")
        return None
    if cert is None or key is None:
        raise SecurityConfigError("give both --tls-cert and --tls-key")
    try:
        chain, private_key = cert.read_bytes(), key.read_bytes()
        roots = client_ca.read_bytes() if client_ca is not None else None
    except OSError as error:
        raise SecurityConfigError(f"cannot read {error.filename}: {error.strerror}") from None
    return grpc.ssl_server_credentials(
        [(private_key, chain)], root_certificates=roots, require_client_auth=roots is not None
    )


def is_loopback(listen: str) -> bool:
    """True when HOST of HOST:PORT names only this machine (127.0.0.0/8, ::1, or a name resolving to them)."""
    host = listen.rpartition(":")[0].strip("[]")
    if not host:
        return False  # ":50051" listens on every address
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(address.split("%")[0]).is_loopback for address in addresses)


def https_context(cert: Path | None, key: Path | None, client_ca: Path | None) -> ssl.SSLContext | None:
    """The HTTP port speaks TLS with the gRPC port's certificate (and asks for client certificates when it does);
    None without one. The files were checked when the gRPC port's credentials were made."""
    if cert is None or key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
