"""A card with a signing key and its certificate, built on the softcard_card fixture.

`softcard enroll` creates a P-256 key in PIV slot 9A and writes a certificate request
signed by the card; openssl issues the certificate from a throw-away CA; `softcard cert
import` puts it on the card, where OpenSC's PKCS#11 module finds the key through it.
"""

import subprocess

import pytest

from softcard import run


@pytest.fixture
def signing_card(softcard_card, tmp_path):
    card = softcard_card
    request = tmp_path / "request.pem"
    run("enroll", card.image, "--pin", card.pin, "--container", "9A", "--key", "p256",
        "--format", "pkcs10", "--hash", "sha256", "--subject", "CN=pytest", "--out", request)
    openssl = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=pytest CA", "-days", "1")
    openssl("x509", "-req", "-in", "request.pem", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-out", "cert.pem", "-days", "1")
    run("cert", "import", card.image, "--pin", card.pin, "--container", "9A", tmp_path / "cert.pem")
    card.certificate = (tmp_path / "cert.pem").read_bytes()
    return card
