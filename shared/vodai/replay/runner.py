"""Running items through the pipeline: a thread pool, a shared rate limit, per-job-key ordering.

``concurrency`` is the number of requests in flight to each endpoint. On a target that sends over
real connections (``--cloud``), the target's session keeps that many per endpoint and a request
waits for a free one, so the runner can run more workers than connections: while one worker's
request is in flight, the others parse, claim and sign the next items, and a connection is busy
again as soon as it is free. Without that overlap the client's own work and the server's take
turns. On the in-process emulator there are no connections: the workers are the concurrency.

Each item runs as one invocation of ``vodai.handler.run`` (the code FC runs) on a
:class:`vodai.local.LocalTarget`, with its own context. Before it runs, the item is *planned*
(the pure part of the pipeline: parse, region, route), which gives its job keys. Items that share
a job key never run at the same time in one replay: the same upload delivered in two shapes is
one submit and one duplicate, whatever the concurrency, instead of a "concurrent duplicate" failure.

With ``resubmit_uncertain`` the records of those keys that are UNCERTAIN (a submit whose answer
was lost, see :mod:`vodai.pipeline.jobs`) are deleted first, so the item is submitted again.

A dry run only plans: no call, no store access, no dead letter.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ..deadletter import DeadLetter
from ..idempotency import UNCERTAIN, IdempotencyStore, default_url, job_key
from ..pipeline import DEAD_LETTERED, PLANNED, SKIPPED, Decided, Dependencies, InvocationResult, Outcome, build, decide_all, plan, submits
from .settle import LineLedger
from .sources import Item

log = logging.getLogger("vodai.replay")

INTERRUPTED = "interrupted: the replay stopped before this item ran"
# Workers per connection when connections are bounded: one sending, one preparing the next item.
# One spare worker in all (concurrency + 1) spent 5-10% less CPU, but left the server idle between
# requests at concurrency 4 (0.78x raw in a full run, d8e22c7): a worker spends about as long on
# its own work per event as on its two requests, so fewer requests were in flight than connections.
WORKERS_PER_CONNECTION = 2
# How long finished items may wait for the main thread (on_result, progress). Waking it for every
# item cost the replaying process three context switches per event, on the path of the next request.
RESULT_INTERVAL = 0.05


def open_target(*, cloud: bool = False, environ=None, profile=None):
    """The target replay runs on: the configured endpoints (``cloud``, credentials from the
    standard chain or the CLI's ``profile``) or the built-in emulator.

    Both use the configured ``VODAI_IDEMPOTENCY_STORE``, else the SQLite store under ``.vodai/``,
    so a second replay of the same events submits nothing new.
    """
    from ..local import cloud_target, emulator_target

    if cloud:
        return cloud_target(environ, profile=profile)
    return emulator_target(environ, store_url=default_url())


def store_of(target) -> IdempotencyStore:
    """The store the target's invocations use (the same object: one per URL per process)."""
    from ..pipeline.dependencies import shared_store

    return shared_store(target.settings.idempotency_url() or default_url())


def outcome_key(prefix: str, o: Outcome) -> Optional[str]:
    """The job key an outcome's job has (None when it names no job)."""
    return job_key(prefix, o.action, o.media_id, o.template_id) if o.action and o.media_id else None


def planned_keys(result: InvocationResult, prefix: str) -> List[str]:
    """The job keys a planned invocation would claim."""
    return sorted({k for o in result.outcomes if o.status == PLANNED and (k := outcome_key(prefix, o))})


def decided_keys(decided: Sequence[Decided], prefix: str) -> List[str]:
    """The job keys the decided events would claim: those of the jobs to submit (what
    :func:`planned_keys` gives for the plan of the same events)."""
    return sorted({k for _r, o, event, decision in decided if submits(event, decision) and (k := outcome_key(prefix, o))})


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` saved up; shared by threads.

    ``acquire(n)`` takes ``n`` tokens, sleeping first when the bucket is short. Tokens may go
    negative: a caller reserves its place in line, so waiters are served in order and a request for
    more than the capacity still passes, after waiting its share. A rate of 0 means unlimited.
    """

    def __init__(self, rate: float, *, capacity: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        if rate < 0:
            raise ValueError("rate must be >= 0")
        if capacity <= 0:
            raise ValueError("capacity must be > 0")
        self.rate, self.capacity = float(rate), float(capacity)
        self._clock, self._sleep = clock, sleep
        self._tokens = self.capacity
        self._last = clock()
        self._lock = threading.Lock()

    def reserve(self, n: float = 1.0) -> float:
        """Take ``n`` tokens now; returns how long the caller must wait before using them."""
        if self.rate == 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + max(0.0, now - self._last) * self.rate)
            self._last = now
            self._tokens -= n
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self, n: float = 1.0) -> float:
        wait = self.reserve(n)
        if wait > 0:
            self._sleep(wait)
        return wait


class KeyLocks:
    """One lock per job key; ``hold(keys)`` takes them in sorted order (no deadlock)."""

    def __init__(self) -> None:
        self._locks: Dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def hold(self, keys: Sequence[str]) -> Iterator[None]:
        with self._guard:
            locks = [self._locks.setdefault(k, threading.Lock()) for k in sorted(set(keys))]
        with contextlib.ExitStack() as stack:
            for lock in locks:
                stack.enter_context(lock)
            yield


_DONE = object()  # a worker has no more items


class _Crash:
    """What a worker died of (not an Exception: run_one keeps those to its item), for the main thread to raise."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


@dataclass
class ItemResult:
    item: Item
    position: int  # the item's place in the input
    outcomes: List[Outcome] = field(default_factory=list)
    error: Optional[str] = None  # the invocation itself failed (or never ran)
    request_id: Optional[str] = None
    uncertain: List[str] = field(default_factory=list)  # UNCERTAIN keys left alone (skipped as duplicates)
    resubmitted: List[str] = field(default_factory=list)  # UNCERTAIN keys deleted to submit again


class Runner:
    def __init__(self, target, *, concurrency: int = 4, rate: float = 0.0, dry_run: bool = False,
                 resubmit_uncertain: bool = False, bucket: Optional[TokenBucket] = None,
                 store: Optional[IdempotencyStore] = None, workers: Optional[int] = None,
                 ledger: Optional[LineLedger] = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if workers is not None and workers < 1:
            raise ValueError("workers must be >= 1")
        self.target = target
        self.concurrency = concurrency
        limit = getattr(target, "limit_connections", None)
        self.connections_bounded = bool(not dry_run and limit is not None and limit(concurrency))
        self.workers = workers or (concurrency * WORKERS_PER_CONNECTION if self.connections_bounded else concurrency)
        # Set on Ctrl-C: items not started yet are not started at all (a wait for the rate ends too).
        self.stopping = threading.Event()
        self.bucket = bucket or TokenBucket(rate, sleep=self.stopping.wait)
        self.dry_run = dry_run
        self.resubmit_uncertain = resubmit_uncertain
        self._idempotency_store = store
        self.ledger = ledger or LineLedger()
        self._dead_letters: Optional[Tuple[Any, Dependencies]] = None  # (the target's sink override, deps)
        self._locks = KeyLocks()
        self._takes_decided = bool(getattr(target, "takes_decided", False))
        self.interrupted = False

    @property
    def store(self) -> IdempotencyStore:
        if self._idempotency_store is None:
            self._idempotency_store = store_of(self.target)
        return self._idempotency_store

    def run(self, items: Sequence[Item], on_result: Optional[Callable[[ItemResult], None]] = None) -> List[ItemResult]:
        """Every item's result, in input order. ``on_result`` is called (in this thread) for each
        item as it finishes, at most :data:`RESULT_INTERVAL` later.

        Plain worker threads take the next item from a shared iterator and append each result to a
        deque, which this thread drains when a worker ends or the interval passes. A thread pool
        with a future per item cost 3% more instructions per event; a queue that woke this thread
        for every item, three context switches per event.
        """
        results: List[Optional[ItemResult]] = [None] * len(items)
        if not self.dry_run and any(not i.unreadable for i in items):
            _ = self.store  # open it once, before the workers start (a bad URL fails here, once)
        pending = iter(enumerate(items))
        take = threading.Lock()
        finished: "collections.deque[Any]" = collections.deque()  # ItemResult, _Crash or _DONE  # append and popleft are atomic
        # A worker has ended: drain now. A SimpleQueue, not an Event: its get and put take no lock
        # written in Python, which a Ctrl-C could leave held (the workers' put would then hang).
        ended: "queue.SimpleQueue[None]" = queue.SimpleQueue()

        def work() -> None:
            try:
                while not self.stopping.is_set():
                    with take:
                        nxt = next(pending, None)
                    if nxt is None:
                        break
                    finished.append(self.run_one(nxt[1], nxt[0]))
            except BaseException as exc:  # run_one catches Exception; anything else stops the run
                finished.append(_Crash(exc))
            finally:
                finished.append(_DONE)
                ended.put(None)

        def drain() -> int:
            """Hands over what has finished; returns how many workers ended."""
            done = 0
            while finished:
                # Kept until recorded: a Ctrl-C between the two cannot lose an item that ran (the
                # interrupted run collects what is left, and recording one twice is harmless).
                got = finished[0]
                if isinstance(got, _Crash):
                    raise got.exc
                if got is _DONE:
                    done += 1
                else:
                    results[got.position] = got
                finished.popleft()
                if got is not _DONE and on_result is not None:
                    on_result(got)
            return done

        threads = [threading.Thread(target=work, name=f"vodai-replay_{i}", daemon=True)
                   for i in range(min(self.workers, len(items)))]
        for thread in threads:
            thread.start()
        running = len(threads)
        try:
            while running:
                with contextlib.suppress(queue.Empty):  # the interval passed: drain anyway
                    ended.get(timeout=RESULT_INTERVAL)  # interruptible: Ctrl-C arrives here
                # A worker appends its _DONE before its token, so no wake-up is lost; a token whose
                # _DONE an earlier drain took only makes one more, empty, drain.
                running -= drain()
        except KeyboardInterrupt:
            self.interrupted = True
            self.stopping.set()
            log.warning("interrupted: waiting for the items already running, not starting others")
            for thread in threads:
                thread.join()
            for got in finished:
                if isinstance(got, ItemResult):
                    results[got.position] = got
        except BaseException:
            self.stopping.set()  # on_result raised, or a worker crashed: start no other item
            raise
        finally:
            for thread in threads:
                thread.join()
        return [r if r is not None else ItemResult(items[n], n, error=INTERRUPTED)
                for n, r in enumerate(results)]

    def run_one(self, item: Item, position: int) -> ItemResult:
        result = ItemResult(item, position)
        if item.raw is None:  # unreadable
            if item.text is not None and not self.dry_run:  # a line: settled once; a file that cannot be read: retried
                try:
                    result.outcomes = [self._dead_letter_line(item)]
                except Exception as exc:  # e.g. the sink is down: the line stays for the next replay
                    log.warning("%s: %s: %s", item.origin, type(exc).__name__, exc)
                    result.error = f"{type(exc).__name__}: {exc}"
            return result
        if self.stopping.is_set():
            result.error = INTERRUPTED
            return result
        try:
            context = self.target.new_context()
            result.request_id = getattr(context, "request_id", None)
            settings = self.target.settings
            decided = decide_all(item.raw, settings=settings, routes=self.target.routes, context=context)
            if self.dry_run:
                result.outcomes = plan(item.raw, settings=settings, routes=self.target.routes, decided=decided,
                                       context=context).outcomes
                return result
            keys = decided_keys(decided, settings.namespace)
            self.bucket.acquire(max(1, len(decided)))
            if self.stopping.is_set():
                result.error = INTERRUPTED
                return result
            with self._locks.hold(keys):
                if self.resubmit_uncertain:
                    self._resubmit_uncertain(keys, result)
                # A target that runs the handler here takes the decisions as they are (not parsed
                # and routed a second time: 0.46 M instructions per event, 15% of replay's client).
                invoked = (self.target.invoke(item.raw, context, decided=decided) if self._takes_decided
                           else self.target.invoke(item.raw, context))
                result.outcomes = invoked.outcomes
                result.uncertain = self._uncertain_duplicates(result.outcomes)
        except Exception as exc:  # one item's failure never stops the others
            log.warning("%s: %s: %s", item.origin, type(exc).__name__, exc)
            result.error = f"{type(exc).__name__}: {exc}"
        return result

    def _dead_letter_line(self, item: Item) -> Outcome:
        """An unreadable line's one final outcome: dead-lettered, holding the line as it was, the first
        time any replay reads it; skipped as settled every later time (:class:`LineLedger`)."""
        assert item.text is not None
        digest = self.ledger.digest(item.text)
        with self.ledger.lock:
            if self.ledger.has(digest):
                return Outcome(0, SKIPPED, reason=f"{item.error}: dead-lettered by an earlier replay")
            override = getattr(self.target, "dead_letters", None)  # a drain may set it (vodai.replay.drain)
            if self._dead_letters is None or self._dead_letters[0] is not override:
                self._dead_letters = (override, build(self.target.settings, context=self.target.new_context(),
                                                      session=getattr(self.target, "session", None),
                                                      routes=self.target.routes, dead_letters=override))
            deps = self._dead_letters[1]
            letter = DeadLetter.of(reason=f"replay of {item.origin}: {item.error}", outcome={}, raw=item.text,
                                   request_id=None)
            deps.dead_letters.write(letter, deps.secrets)
            self.ledger.add(digest)
        return Outcome(0, DEAD_LETTERED, reason=item.error, dead_letter_id=letter.dead_letter_id)

    def _resubmit_uncertain(self, keys: Sequence[str], result: ItemResult) -> None:
        for key in keys:
            record = self.store.get(key)
            if record is not None and record.status == UNCERTAIN:
                log.warning("%s: %s was UNCERTAIN (%s): deleting the record to submit again (--resubmit-uncertain)",
                            result.item.origin, key, record.reason)
                self.store.delete(key)
                result.resubmitted.append(key)

    def _uncertain_duplicates(self, outcomes: Sequence[Outcome]) -> List[str]:
        """The keys of the duplicates skipped because their record is UNCERTAIN. Looked up after the
        invocation, and only for duplicates (the key is still held): a new key costs no read."""
        prefix = self.target.settings.namespace
        found = []
        for o in outcomes:
            key = outcome_key(prefix, o) if o.status == SKIPPED and o.duplicate else None
            if key is not None:
                record = self.store.get(key)
                if record is not None and record.status == UNCERTAIN:
                    found.append(key)
        return found
