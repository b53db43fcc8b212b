"""Keyed hashes: how addresses, emails, accounts and devices are stored or counted, never in
the clear (HMAC-SHA-256 with the server's secret, cut to 32 hex digits)."""

from __future__ import annotations

import hashlib
import hmac


def keyed_hash(secret: str, kind: str, value: str) -> str:
    message = f"{kind}:{value}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]
