"""One cold start: a fresh interpreter imports a handler file and handles one event, as FC's
Python runtime calls it (``handler(event_bytes, context)``, FC 2.0 context with STS credentials).

    python bench/child.py HANDLER_FILE EVENT_FILE REQUEST_ID ACCESS_KEY_ID SECRET TOKEN REGION

The same runner for vodai and both baselines; it imports nothing beyond what the interpreter
already loaded at start-up. Prints ``BENCH <import ms> <handle ms> <peak RSS KiB> <answered at>``
then the handler's result; ``answered at`` is ``time.monotonic()`` when the handler returned
(CLOCK_MONOTONIC, one clock for every process on the machine: the parent takes the time from its
``Popen`` to the answer, what FC bills, apart from the process's exit, which FC does not). The peak RSS is the process's own ``VmHWM`` (Linux): ``ru_maxrss`` as the parent
sees it also counts the parent's pages the child had between ``fork`` and ``exec``, which puts a
floor of the parent's size under every figure.
"""

import sys
import time

T0 = time.perf_counter()


class _Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def main():
    import importlib.util

    handler_file, event_file, request_id, ak, secret, token, region = sys.argv[1:8]
    spec = importlib.util.spec_from_file_location("index", handler_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    t1 = time.perf_counter()
    with open(event_file, "rb") as f:
        event = f.read()
    context = _Obj(
        request_id=request_id, region=region, account_id="1234567890123456",
        credentials=_Obj(access_key_id=ak, access_key_secret=secret, security_token=token),
        function=_Obj(name="on_upload", handler="index.handler", memory=512, timeout="60"),
        service=_Obj(name="vodai", log_project="", log_store="", qualifier="LATEST", version_id=""),
        retry_count=0,
    )
    result = module.handler(event, context)
    t2 = time.perf_counter()
    answered = time.monotonic()
    if isinstance(result, bytes):
        result = result.decode("utf-8")
    sys.stdout.write(f"BENCH {(t1 - T0) * 1000:.3f} {(t2 - t1) * 1000:.3f} {vm_hwm_kb()} {answered!r}\n{result}\n")


def vm_hwm_kb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    main()
