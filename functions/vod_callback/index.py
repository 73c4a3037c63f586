"""FC HTTP function for VOD's HTTP callback: verify, hand off to the events topic, answer 200.

Kept thin on purpose: all logic lives in :mod:`vodai.callback` (plain WSGI, no Flask).
FC 2.0 Python HTTP functions are WSGI applications; ``environ["fc.context"]`` is the context.
Configure ``index.initializer`` as the initializer so a misconfigured instance refuses to start.
"""

from vodai.callback import handle
from vodai.callback import initializer as _initializer


def handler(environ, start_response):
    return handle(environ, start_response)


def initializer(context):
    _initializer(context)
