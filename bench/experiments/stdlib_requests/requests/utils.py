import re

from .exceptions import InvalidHeader

# requests' own rules: a name without colon, leading space or line break; a value without a line break or leading space.
_NAME = re.compile(r"^[^:\s][^:\r\n]*$")
_VALUE = re.compile(r"^\S[^\r\n]*$|^$")


def check_header_validity(header):
    name, value = header
    if not isinstance(name, str) or not isinstance(value, str) or not _NAME.match(name) or not _VALUE.match(value):
        raise InvalidHeader(f"invalid header {name!r}")
