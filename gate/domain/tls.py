"""What is wrong with a kubernetes.io/tls Secret's key pair, read with `cryptography` (never printed).

Only Secrets of the render are read here: a cluster's Secrets reach the gate as metadata only.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import warnings
from typing import Any

from gate.domain.kube import as_dict

MAX_PEM_BYTES = 256 * 1024  # a chain of a few certificates; anything larger is not read


def _field(body: dict[str, Any], key: str) -> bytes | None:
    """`data[key]` (base64) or `stringData[key]`, as bytes; None when absent or not decodable."""
    string_data = as_dict(body.get("stringData")).get(key)
    if isinstance(string_data, str):
        return string_data.encode("utf-8", "replace")
    data = as_dict(body.get("data")).get(key)
    if not isinstance(data, str) or len(data) > MAX_PEM_BYTES * 2:
        return None
    try:
        return base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return b""


def key_pair_problem(body: dict[str, Any], now: dt.datetime | None = None) -> str | None:
    """Why the Secret's tls.crt / tls.key cannot serve TLS, or None. Messages name fields, never contents."""
    crt, key = _field(body, "tls.crt"), _field(body, "tls.key")
    if crt is None and key is None:
        return None  # no data in the render (created elsewhere): nothing to judge
    if not crt:
        return "tls.crt is missing or not base64"
    if not key:
        return "tls.key is missing or not base64"
    if len(crt) > MAX_PEM_BYTES or len(key) > MAX_PEM_BYTES:
        return "tls.crt or tls.key is larger than a key pair can be"
    # Only a render that carries a key pair pays for `cryptography` (tens of milliseconds of start-up)
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        with warnings.catch_warnings():  # e.g. a non-positive serial number: still servable today
            warnings.simplefilter("ignore")
            certificate = x509.load_pem_x509_certificates(crt)[0]
    except (ValueError, IndexError, TypeError):
        return "tls.crt is not a PEM certificate"
    try:
        # OpenSSL's RSA key check (primality tests) costs ~50 ms per key: 39 TLS Secrets of a real render
        # took 1.9 s. It is skipped here, and the consistency Go checks when a controller loads the
        # pair (crypto/rsa Validate: the primes multiply to the modulus, d inverts e) is done instead.
        private_key = serialization.load_pem_private_key(key, password=None, unsafe_skip_rsa_key_validation=True)
        if not _rsa_consistent(private_key):
            raise ValueError("inconsistent RSA key")
    except (ValueError, TypeError):
        return "tls.key is not an unencrypted PEM private key"
    except Exception:  # noqa: BLE001 - an unsupported algorithm: not servable either
        return "tls.key uses a key type that cannot be read"
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    try:
        matches = (certificate.public_key().public_bytes(encoding, public)
                   == private_key.public_key().public_bytes(encoding, public))
    except (ValueError, TypeError):
        matches = False
    if not matches:
        return "tls.key does not belong to the certificate in tls.crt"
    now = now or dt.datetime.now(dt.UTC)
    if certificate.not_valid_after_utc <= now:
        return f"the certificate in tls.crt expired on {certificate.not_valid_after_utc:%Y-%m-%d}"
    return None


def _rsa_consistent(private_key: Any) -> bool:
    """For an RSA key, what Go's rsa.PrivateKey.Validate checks; other key types are checked on load."""
    numbers_of = getattr(private_key, "private_numbers", None)
    numbers = numbers_of() if numbers_of is not None else None
    if numbers is None or not hasattr(numbers, "p"):
        return True
    n, e = numbers.public_numbers.n, numbers.public_numbers.e
    p, q, d = numbers.p, numbers.q, numbers.d
    if p <= 1 or q <= 1 or p * q != n:
        return False
    return all((d * e) % (prime - 1) == 1 for prime in (p, q))
