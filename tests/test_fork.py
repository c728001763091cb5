"""The forked side process: its result, its error, its log records, and stopping it."""

from __future__ import annotations

import logging
import multiprocessing
import os
import time

import pytest

from lifecircle_geo._fork import can_fork, side_process

log = logging.getLogger("lifecircle_geo.test_fork")

needs_fork = pytest.mark.skipif(not can_fork(), reason="needs fork and a second core")


def _in_child() -> int:
    log.warning("drawn in %s", "the child")
    return os.getpid()


@needs_fork
def test_the_call_runs_in_a_child_and_its_log_records_reach_the_parent(caplog):
    with caplog.at_level(logging.INFO, logger="lifecircle_geo"), side_process(_in_child) as side:
        here = os.getpid()
    assert side.result() != here
    assert [r.getMessage() for r in caplog.records] == ["drawn in the child"]
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("fork", [False, pytest.param(True, marks=needs_fork)])
def test_the_calls_error_is_raised_by_result(fork):
    def fails() -> None:
        raise ValueError("no polygons")

    with side_process(fails, fork=fork) as side:
        pass
    with pytest.raises(ValueError, match="no polygons"):
        side.result()
    assert not multiprocessing.active_children()


@needs_fork
def test_an_error_in_the_body_stops_the_child_at_once():
    t0 = time.perf_counter()
    with pytest.raises(KeyError), side_process(lambda: time.sleep(30)):
        raise KeyError("the parent's half failed")
    assert time.perf_counter() - t0 < 10
    assert not multiprocessing.active_children()


def test_without_fork_the_call_runs_here_first():
    order = []
    with side_process(lambda: order.append("call") or os.getpid(), fork=False) as side:
        order.append("body")
    assert order == ["call", "body"] and side.result() == os.getpid()


@needs_fork
def test_a_side_process_outlives_a_killed_parent_by_a_moment(tmp_path):
    """kill -9 of the parent: its side process stops too (it watches from its first moment)."""
    import signal
    import subprocess
    import sys

    psutil = pytest.importorskip("psutil")
    code = (
        "import time\n"
        "from lifecircle_geo._fork import side_process\n"
        "with side_process(lambda: time.sleep(120)):\n"
        "    time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    kids: list = []
    while time.monotonic() < deadline and not kids:
        time.sleep(0.2)
        kids = [
            k
            for k in parent.children(recursive=True)
            if "resource_tracker" not in " ".join(k.cmdline())
        ]
    assert kids, "the side process did not start"
    time.sleep(1.0)  # a call under way
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    _gone, alive = psutil.wait_procs(kids, timeout=10)
    assert not alive
