"""VOD HTTP-callback authentication: X-VOD-SIGNATURE = md5("<callback URL>|<timestamp>|<auth key>")."""

from __future__ import annotations

import hashlib


def callback_signature(callback_url: str, timestamp: str, auth_key: str) -> str:
    return hashlib.md5(f"{callback_url}|{timestamp}|{auth_key}".encode()).hexdigest()
