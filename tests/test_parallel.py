"""Worker processes: results in input order, small inputs inline, and a lower priority."""

from __future__ import annotations

import os

from finews.parallel import map_chunks


def _pid_and_priority(items: list[int]) -> list[tuple[int, int, int]]:
    return [(item, os.getpid(), os.nice(0)) for item in items]


def test_results_come_back_in_input_order_from_worker_processes():
    results = list(map_chunks(_pid_and_priority, range(1000), chunk_size=7, workers=2))
    assert [item for item, _, _ in results] == list(range(1000))
    assert os.getpid() not in {pid for _, pid, _ in results}


def test_small_inputs_run_in_this_process():
    results = list(map_chunks(_pid_and_priority, range(5), chunk_size=10))
    assert {pid for _, pid, _ in results} == {os.getpid()}


def test_workers_can_run_at_a_lower_priority():
    own = os.nice(0)
    results = list(map_chunks(_pid_and_priority, range(100), chunk_size=10, workers=2, nice=5))
    assert {priority for _, _, priority in results} == {min(own + 5, 19)}
    assert os.nice(0) == own
