"""The one exception the emulator raises internally; each protocol layer renders it its own way
(VOD: a JSON envelope, MNS: an XML ``<Error>``).
"""

from __future__ import annotations


class EmulatorError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


# VOD's generic parameter errors, worded as Alibaba's OpenAPI gateway words them.


def missing_parameter(name: str) -> EmulatorError:
    return EmulatorError(
        400,
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request is not supplied.',
    )


def invalid_parameter(name: str, reason: str) -> EmulatorError:
    return EmulatorError(
        400, "InvalidParameter", f'The specified parameter "{name}" is not valid. {reason}'
    )
