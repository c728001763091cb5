"""A second core for independent work: run a call in a forked side process meanwhile.

Writing a run's outputs (the database and workbook here, the figures there) and the batch's
first read of the city (the OSM facilities there, the ways here) are independent halves that
each take seconds. A forked child shares the parent's memory (nothing is pickled on the way
in), so only the result comes back. Where there is one core or no ``fork`` (Windows, macOS by
default) the call simply runs in the caller, first.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

__all__ = ["can_fork", "side_process"]

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


def _call(token: int) -> Any:
    return _CALLS[token]()


@contextmanager
def side_process(call: Callable[[], Any], *, fork: bool | None = None) -> Iterator[Future]:
    """Run ``call()`` in a forked child while the ``with`` body runs; its future inside.

    Parameters
    ----------
    call : callable
        Takes no argument; its return value must pickle (it comes back from the child).
    fork : bool, optional
        False runs ``call`` in this process, before the body (default: :func:`can_fork`).

    Yields
    ------
    concurrent.futures.Future
        ``call``'s result or error. Leaving the block waits for the child; an error in the
        body stops the child at once (its work would be thrown away) and is raised again.

    Examples
    --------
    >>> from lifecircle_geo._fork import side_process
    >>> with side_process(lambda: sum(range(10))) as fut:
    ...     here = 2 * 3
    >>> fut.result(), here
    (45, 6)
    """
    if not (can_fork() if fork is None else fork):
        done: Future = Future()
        try:
            done.set_result(call())
        except Exception as exc:
            done.set_exception(exc)
        yield done
        return
    token = next(_TOKENS)
    _CALLS[token] = call  # set before the fork: the child inherits it
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    try:
        fut = pool.submit(_call, token)
        try:
            yield fut
        except BaseException:
            _stop(pool)
            raise
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
