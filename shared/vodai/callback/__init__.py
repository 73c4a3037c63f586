"""The VOD HTTP-callback function: verify the callback, hand the event off, answer 200 at once.

Why hand off rather than run the pipeline here: VOD counts a callback as delivered only on an
HTTP 200 within **5 seconds**, retries only twice 1 s apart, then drops the event. So this
function does not call VOD inline. It verifies VOD's signature (:mod:`~vodai.callback.auth`),
publishes the verified event to the MNS topic ``VODAI_EVENTS_TOPIC`` as an FC HTTP-trigger v1
event (:mod:`~vodai.callback.envelope`, MessageTag ``VodEvent``, the callback URL's ``region``
kept), whose FC topic trigger runs ``on_upload`` (the one pipeline) with MNS's and FC's retries
(up to a day), and answers 200. The publish runs under a hard budget (``VODAI_CALLBACK_BUDGET``,
default 3 s, :mod:`~vodai.callback.handoff`); when it fails or the budget runs out the answer is
503 so VOD retries (safe: ``on_upload`` is idempotent by job key).

Entry points:

- :func:`handle` (``environ, start_response``): the WSGI function, settings read once per instance;
- :func:`initializer` (``context``): raises :class:`~vodai.exceptions.ConfigError` when misconfigured;
- :func:`check_startup` (``settings``): the same check, for a runtime shim before it listens;
- :class:`CallbackApp` (``settings, publisher_factory``): the application itself, for tests and
  servers that bring their own settings or publisher.

Plain WSGI: importing this package never imports Flask, werkzeug, click or rich.
"""

from .app import CallbackApp, check_startup, handle, initializer, instance_app, reset
from .auth import CallbackAuthError, signed_url, verify
from .envelope import MESSAGE_TAG, http_trigger_event
from .handoff import Budget, HandoffError, mns_base_url, mns_publisher_factory

__all__ = [
    "Budget",
    "CallbackApp",
    "CallbackAuthError",
    "HandoffError",
    "MESSAGE_TAG",
    "check_startup",
    "handle",
    "http_trigger_event",
    "initializer",
    "instance_app",
    "mns_base_url",
    "mns_publisher_factory",
    "reset",
    "signed_url",
    "verify",
]
