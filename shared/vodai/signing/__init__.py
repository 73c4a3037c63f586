"""Signing: pure functions shared by every client and by the emulator's verifier.

- :mod:`vodai.signing.rpc`  RPC signature V1 (HMAC-SHA1)
- :mod:`vodai.signing.acs3` V3 signature ACS3-HMAC-SHA256 (VOD's default)
- :mod:`vodai.signing.mns`  the MNS signature
- :mod:`vodai.signing.callback` VOD's HTTP-callback MD5 authentication
"""

from . import acs3, callback, mns, rpc
from ._encoding import percent_encode

__all__ = ["acs3", "callback", "mns", "rpc", "percent_encode"]
