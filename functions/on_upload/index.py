"""FC handler for VOD upload events (MNS topic/queue triggers, direct and async invocation).

Kept thin on purpose: all logic lives in the shared ``vodai`` package.
"""

import vodai
import vodai.regexcache

vodai.block_encoding_guessers()  # before requests is imported: see its docstring

with vodai.regexcache.precompiled(__file__):  # the imports' regexes, compiled ahead: see its docstring
    from vodai.handler import handle


def handler(event, context):
    return handle(event, context)
