"""Intuit signs each webhook delivery: header `intuit-signature` is
base64(HMAC-SHA256(verifier token, raw body)). Only the raw bytes count: the body is checked
before it is parsed, and compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SIGNATURE_HEADER = "intuit-signature"


def expected(verifier: str, body: bytes) -> bytes:
    return hmac.new(verifier.encode(), body, hashlib.sha256).digest()


def verify(verifier: str, body: bytes, header: str | None) -> bool:
    """True only for a well-formed signature of exactly these bytes with this token."""
    if not verifier or not header:
        return False
    try:
        given = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, expected(verifier, body))
