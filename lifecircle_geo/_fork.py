"""A second core for independent work: run a call in a forked side process meanwhile.

Writing a run's outputs (the database and workbook here, the figures there) and the batch's
first read of the city (the OSM facilities there, the ways here) are independent halves that
each take seconds. A forked child shares the parent's memory (nothing is pickled on the way
in), so only the result comes back. Where there is one core or no ``fork`` (Windows, macOS by
default) the call simply runs in the caller, first.

A batch's long-lived local workers are forked only where the parent runs no other thread (on
Linux; :mod:`lifecircle_geo.batch`), else spawned: a worker must not inherit a lock another
thread holds. These side children are short, and do what the parent would have done next:
draw, write, parse. The package's own thread pools are closed by then, so no lock they hold
comes with the fork.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

__all__ = ["Outcome", "can_fork", "side_process", "watch_parent"]

log = logging.getLogger(__name__)

#: Calls waiting for their forked child, by token (the child finds its call here).
_CALLS: dict[int, Callable[[], Any]] = {}
_TOKENS = itertools.count()


def can_fork() -> bool:
    """Return whether a side process is cheap: a second core and fork (POSIX, no re-import).

    Not in a daemonic process (a Dask worker's), which may not have children.
    """
    return (
        (os.cpu_count() or 1) > 1
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


class _Collect(logging.Handler):
    """Keep the child's log records (made picklable) to be handled again by the parent."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)


_WATCHING: set[int] = set()


def watch_parent(pid: int, interval_s: float = 0.5) -> None:
    """Exit this process when the process ``pid`` (the batch parent) is gone.

    Killed, even by SIGKILL: no orphan keeps running queued tasks nobody records, and no side
    process keeps parsing for a parent that will never ask.

    Parameters
    ----------
    pid : int
        The process to outlive by at most ``interval_s``.
    interval_s : float
        How often to look.
    """
    if pid in _WATCHING or pid == os.getpid():
        return
    _WATCHING.add(pid)
    ppid = os.getppid()

    def alive() -> bool:
        if ppid == pid:
            return os.getppid() == pid
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def watch() -> None:
        while alive():
            time.sleep(interval_s)
        log.error("the batch process %d is gone: this process stops", pid)
        if ppid != pid and ppid > 1:
            with contextlib.suppress(OSError):  # a Dask nanny: it would restart us
                os.kill(ppid, signal.SIGKILL)
        os._exit(1)

    threading.Thread(target=watch, name="lifecircle-watch-parent", daemon=True).start()


def _child_start(parent: int) -> None:
    """In a new child, first thing: stop when the parent is gone (even before its call)."""
    _WATCHING.clear()  # the parent's watch threads did not come with the fork
    watch_parent(parent)


def _call(token: int) -> tuple[bool, Any, list[logging.LogRecord]]:
    """In the child: the call's outcome and its log records, which the parent's handlers get.

    The handlers inherited by the fork are set aside: the parent's own handlers (a
    notebook's, a test's) would never see the child's records otherwise, and stderr would see
    them twice.
    """
    collect = _Collect()
    root = logging.getLogger()
    for lg in [root, *logging.Logger.manager.loggerDict.values()]:
        if isinstance(lg, logging.Logger) and lg.handlers:
            lg.handlers = []
            lg.propagate = lg is not root or lg.propagate
    root.addHandler(collect)
    try:
        return True, _CALLS[token](), collect.records
    except Exception as exc:
        return False, exc, collect.records


class Outcome:
    """What a side call gave: :meth:`result` returns it or raises its error.

    Parameters
    ----------
    ok : bool
        Whether the call returned.
    value : Any
        Its return value, or the exception it raised.
    """

    def __init__(self, ok: bool, value: Any) -> None:
        self._ok, self._value = ok, value

    def result(self) -> Any:
        """Return the call's value, or raise its error.

        Returns
        -------
        Any
            The call's return value.
        """
        if not self._ok:
            raise self._value
        return self._value


class _Pending:
    """The child's outcome, collected (and its log records handled here) when first asked."""

    def __init__(self, child: Future) -> None:
        self._child = child
        self._outcome: Outcome | None = None

    def result(self) -> Any:
        if self._outcome is None:
            try:
                ok, value, records = self._child.result()
            except Exception as exc:  # the child died (BrokenProcessPool) or could not pickle
                ok, value, records = False, exc, []
            for record in records:
                logging.getLogger(record.name).handle(record)
            self._outcome = Outcome(ok, value)
        return self._outcome.result()


@contextmanager
def side_process(call: Callable[[], Any], *, fork: bool | None = None) -> Iterator[Any]:
    """Run ``call()`` in a forked child while the ``with`` body runs.

    Parameters
    ----------
    call : callable
        Takes no argument; its return value must pickle (it comes back from the child).
    fork : bool, optional
        False runs ``call`` in this process, before the body (default: :func:`can_fork`).

    Yields
    ------
    Outcome
        ``.result()`` waits for the child and returns the call's value or raises its error;
        the child's log records go to this process's loggers then. Leaving the block waits for
        the child; an error in the body stops the child at once (its work would be thrown
        away) and is raised again.

    Examples
    --------
    >>> from lifecircle_geo._fork import side_process
    >>> with side_process(lambda: sum(range(10))) as side:
    ...     here = 2 * 3
    >>> side.result(), here
    (45, 6)
    """
    if not (can_fork() if fork is None else fork):
        try:
            outcome = Outcome(True, call())
        except Exception as exc:
            outcome = Outcome(False, exc)
        yield outcome
        return
    token = next(_TOKENS)
    _CALLS[token] = call  # set before the fork: the child inherits it
    pool = ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_child_start,
        initargs=(os.getpid(),),
    )
    try:
        pending = _Pending(pool.submit(_call, token))
        try:
            yield pending
        except BaseException:
            _stop(pool)
            raise
        with contextlib.suppress(Exception):  # the body did not ask: records handled anyway
            pending.result()
        pool.shutdown(wait=True)
    finally:
        _CALLS.pop(token, None)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's processes now and wait (briefly) until they are gone."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.join(5)
