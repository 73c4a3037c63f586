"""FC handler for the Timer trigger that follows submitted jobs to their result.

Kept thin on purpose: all logic lives in the shared ``vodai`` package (vodai.tracking).
"""

import vodai
import vodai.regexcache

vodai.block_encoding_guessers()  # before requests is imported: see its docstring

with vodai.regexcache.precompiled(__file__):  # the imports' regexes, compiled ahead: see its docstring
    from vodai.tracking.handler import handle


def handler(event, context):
    return handle(event, context)
