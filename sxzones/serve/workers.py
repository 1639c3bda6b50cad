"""Worker processes of ``sxzones serve``: the analyses run in processes of their own.

Why processes: a site check is Python and pandas holding the GIL, so threads of one process
use one core; 20 requests at once queued behind each other. The workers are forked from the
server after the layers and rules were loaded (they share those pages of memory until they
write to them), so nothing is loaded twice and a worker is ready at once.

The server process speaks HTTP and hands each analysis to the worker with the fewest calls
under way. A worker runs the site checks of drawn or pasted parcels one after another on a
thread of their own, and everything else (uploads, batches, downloads) in a few other
threads (a long firm upload does not hold up a site check or a download sent to it). Why
one thread for the single checks: they hold the GIL most of the time and release it at
every GEOS and numpy call, so four threads of one process running them took the GIL from
each other thousands of times a second; 13.2 ms of CPU per check on one thread became
19.0 ms on four, for no more throughput (the other worker has the other core). A worker keeps the results of its jobs (job
ids start with ``w<number>-``), so the downloads of a job go to the worker that made it,
which writes them when they are first asked for. Uploads go to a worker as files under the
server's temporary folder, removed when the call ends.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import multiprocessing
import os
import re
import signal
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sxzones.serve.state import ServeState

__all__ = ["THREADS", "Workers", "default_workers", "is_quick"]

log = logging.getLogger("sxzones.serve")
#: Threads of one worker process besides its thread of single site checks.
THREADS = 4
#: A worker's garbage collector runs after this many allocations (less deallocations).
GC_THRESHOLD = 20_000
_JOB = re.compile(r"^w(\d+)-")


def default_workers() -> int:
    """One worker per core, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


class Workers:
    """Forked worker processes, each answering calls ``(id, task, args)`` on a pipe with
    ``(id, status, body)``: a task of :data:`sxzones.serve.tasks.TASKS`, its answer as the
    HTTP status and the JSON body (bytes), encoded by the worker."""

    def __init__(self, state: ServeState, n: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        self.busy = [0] * n
        self.alive = [True] * n
        self._ids = itertools.count()
        self._turn = itertools.count()
        self._pending: dict[int, tuple[int, asyncio.Future[tuple[int, bytes]]]] = {}
        self._lock = threading.Lock()
        self._send = [threading.Lock() for _ in range(n)]
        for k in range(n):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_main, args=(state, k, theirs), daemon=True)
            proc.start()
            theirs.close()
            self.conns.append(ours)
            self.procs.append(proc)
        for k in range(n):
            threading.Thread(target=self._read, args=(k,), daemon=True).start()

    def worker_of(self, jid: str) -> int | None:
        """The worker that holds job ``jid`` (None: not a job id of this server)."""
        m = _JOB.match(jid)
        k = int(m.group(1)) if m else -1
        return k if 0 <= k < len(self.conns) else None

    async def call(
        self, task: str, args: tuple[Any, ...], k: int | None = None
    ) -> tuple[int, bytes]:
        """Run ``task`` on worker ``k`` (default: the least busy one that is alive; one
        found gone is skipped)."""
        for _ in range(len(self.conns)):
            with self._lock:
                n = len(self.conns)
                turn = next(self._turn)  # ties go round, so that every worker keeps results
                live = [(i + turn) % n for i in range(n) if self.alive[(i + turn) % n]]
                w = min(live, key=lambda i: self.busy[i]) if k is None and live else k
                if w is None or not self.alive[w]:
                    break
                cid = next(self._ids)
                loop = asyncio.get_running_loop()
                fut: asyncio.Future[tuple[int, bytes]] = loop.create_future()
                self._pending[cid] = (w, fut)
                self.busy[w] += 1
            try:
                await asyncio.to_thread(self._post, w, (cid, task, args))
            except OSError:  # the worker is gone (its reader may not have seen it yet)
                with self._lock:
                    self.alive[w] = False
                sent = False
            else:
                sent = True
            try:
                if sent:
                    return await fut
            finally:
                with self._lock:
                    self._pending.pop(cid, None)
                    self.busy[w] -= 1
            if k is not None:
                break
        if k is not None:
            return 404, b'{"error": "no such result: the process that kept it stopped"}'
        return 503, b'{"error": "the worker processes stopped: restart the server"}'

    def _post(self, k: int, message: Any) -> None:
        with self._send[k]:
            self.conns[k].send(message)

    def _read(self, k: int) -> None:
        """Hand each answer of worker ``k`` to its caller's event loop; when the worker is
        gone, answer its callers with an error."""
        while True:
            try:
                cid, status, body = self.conns[k].recv()
            except (EOFError, OSError):
                break
            with self._lock:
                entry = self._pending.get(cid)
            if entry is not None:
                _resolve(entry[1], (status, body))
        with self._lock:
            self.alive[k] = False
            lost = [f for w, f in self._pending.values() if w == k]
        for fut in lost:
            _resolve(fut, (500, b'{"error": "internal error: a worker process stopped"}'))

    def close(self) -> None:
        """Ask the workers to finish, then end those that do not."""
        for k in range(len(self.conns)):
            try:
                self._post(k, None)
            except OSError:
                pass
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for conn in self.conns:
            conn.close()


def _resolve(fut: asyncio.Future[tuple[int, bytes]], value: tuple[int, bytes]) -> None:
    def put() -> None:
        if not fut.done():
            fut.set_result(value)

    fut.get_loop().call_soon_threadsafe(put)


def _main(state: ServeState, k: int, conn: Connection) -> None:
    """A worker: answer calls until the server sends None or goes away."""
    from sxzones.analyses import nearest
    from sxzones.analyses.nearest import warm_up
    from sxzones.serve.tasks import run_task

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the server, which ends us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    state.prefix = f"w{k}-"
    state.workers = None
    gc.freeze()  # the inherited objects: never collected, so their pages stay shared
    # A site check makes some ten thousand short-lived objects (pandas, shapely), nearly
    # none in cycles: with the default threshold (700) the collector ran some 180 times per
    # 200 checks (0.6 ms of each); collections every GC_THRESHOLD allocations instead.
    gc.set_threshold(GC_THRESHOLD, 20, 20)
    warm_up()
    # The kernels are loaded here once and for all: every pair is measured with them (a point
    # against a red line, 2,400 segment pairs: 2 us in the kernel, 0.2 ms in numpy's path for
    # tiny work, which suits a process that would otherwise load them for it). Either path
    # gives the same points.
    nearest.TINY_WORK = 0
    lock = threading.Lock()

    def answer(cid: int, task: str, args: tuple[Any, ...]) -> None:
        try:
            status, body = run_task(state, task, args)
        except BaseException:  # run_task answers every error; this is a last resort
            log.error("worker %d failed:\n%s", k, traceback.format_exc())
            status, body = 500, b'{"error": "internal error: the server\'s log has the details"}'
        with lock:
            conn.send((cid, status, body))

    with (
        ThreadPoolExecutor(max_workers=THREADS) as pool,
        ThreadPoolExecutor(max_workers=1) as quick,
    ):
        _warm_threads(state, pool, k)
        _warm_threads(state, quick, k, 1)
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if message is None:
                break
            (quick if is_quick(*message) else pool).submit(answer, *message)


def is_quick(cid: int, task: str, args: tuple[Any, ...]) -> bool:
    """Whether a call is a site check without an uploaded file (a drawn or pasted parcel:
    one project, a few milliseconds), run on the worker's thread of single checks."""
    return task == "check" and not args[1]


def _warm_threads(
    state: ServeState, pool: ThreadPoolExecutor, k: int, threads: int = THREADS
) -> None:
    """Each of the ``threads`` threads of ``pool`` builds its own site-check layers
    (indexes, prepared geometries: never shared between threads) now rather than on its
    first request; a barrier holds each task on a thread of its own."""
    barrier = threading.Barrier(threads)

    def warm() -> None:
        try:
            state.site_layers()
        except Exception:  # a request would then build them, or say what is wrong
            log.error("worker %d could not prepare its layers:\n%s", k, traceback.format_exc())
        try:
            barrier.wait(timeout=120)
        except threading.BrokenBarrierError:
            pass

    for _ in range(threads):
        pool.submit(warm)
