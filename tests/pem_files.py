"""Throwaway TLS files for unit tests of the settings and connections, made with openssl.

The real local CA (scripts/secure.sh) belongs to the running servers; these need nothing
running: a CA, a client certificate it signed with its key, that key encrypted, and a
self-signed certificate and key the CA never saw.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PemFiles:
    ca: Path
    cert: Path
    key: Path
    encrypted_key: Path
    """``key`` under a passphrase: the clients have no way to give one."""
    rogue_cert: Path
    rogue_key: Path
    """Self-signed, not by ``ca``: a broker that requires client certificates refuses it."""


def make_pem_files(directory: Path) -> PemFiles:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    files = PemFiles(*(directory / name for name in (
        "ca.pem", "client.pem", "client.key", "client-encrypted.key", "rogue.pem", "rogue.key",
    )))  # fmt: skip
    ca_key = directory / "ca.key"
    csr = directory / "client.csr"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
            "-out", str(files.ca), "-days", "2", "-subj", "/CN=test CA",
            "-addext", "basicConstraints=critical,CA:TRUE")  # fmt: skip
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(files.key),
            "-out", str(csr), "-subj", "/CN=client")  # fmt: skip
    openssl("x509", "-req", "-in", str(csr), "-CA", str(files.ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "2", "-out", str(files.cert))  # fmt: skip
    openssl("pkey", "-in", str(files.key), "-aes256", "-passout", "pass:not-given",
            "-out", str(files.encrypted_key))  # fmt: skip
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(files.rogue_key),
            "-out", str(files.rogue_cert), "-days", "2", "-subj", "/CN=rogue")  # fmt: skip
    return files
