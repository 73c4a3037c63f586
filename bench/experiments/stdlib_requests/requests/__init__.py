"""Experiment only: the small part of the ``requests`` API that vodai's handler path uses, over
``http.client`` (keep-alive connections pooled per host). Put its parent folder first on
``sys.path`` (``PYTHONPATH``) and vodai runs unchanged on the standard library, which measures
what the ``requests`` stack (requests, urllib3, charset_normalizer, idna, certifi) costs a cold
start, its memory and the warm path. It is not a replacement for requests: no redirects, proxies,
cookies, auth, streaming or retries, exactly what vodai never uses.
"""

from . import adapters, exceptions, hooks, structures, utils  # noqa: F401
from .exceptions import ConnectionError, ConnectTimeout, ReadTimeout, RequestException, Timeout  # noqa: F401
from .models import PreparedRequest, Request, Response  # noqa: F401
from .sessions import Session  # noqa: F401

__version__ = "0-stdlib-experiment"
