"""gate.domain.tls: a key pair is judged as a controller's Go TLS stack would load it."""
from __future__ import annotations

import base64
import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from gate.domain.tls import key_pair_problem


def _certificate(key) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pay.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _secret(crt: bytes, key: bytes) -> dict:
    return {"type": "kubernetes.io/tls", "data": {"tls.crt": base64.b64encode(crt).decode(),
                                                  "tls.key": base64.b64encode(key).decode()}}


def test_matching_rsa_and_ec_pairs_serve() -> None:
    for key in (rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(ec.SECP256R1())):
        assert key_pair_problem(_secret(_certificate(key), _pem(key))) is None


def test_an_rsa_key_whose_numbers_do_not_add_up_is_refused() -> None:
    # The public part matches the certificate, but d does not invert e: Go's rsa Validate refuses the key
    # when the controller loads the pair, so the listener cannot serve.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = key.private_numbers()
    broken = rsa.RSAPrivateNumbers(n.p, n.q, n.d + 2, n.dmp1, n.dmq1, n.iqmp, n.public_numbers) \
        .private_key(unsafe_skip_rsa_key_validation=True)
    assert key_pair_problem(_secret(_certificate(key), _pem(broken))) == "tls.key is not an unencrypted PEM private key"


def test_a_key_of_another_pair_does_not_belong() -> None:
    key, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    assert key_pair_problem(_secret(_certificate(key), _pem(other))) == \
        "tls.key does not belong to the certificate in tls.crt"
