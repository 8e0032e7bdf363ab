"""Spread CPU-bound preparation over the machine's cores while one process writes."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")
R = TypeVar("R")


def process_running(pid: int) -> bool:
    """Whether a process of this machine still runs: the owner of a lease or of a
    half-written file that may otherwise be cleaned up."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` items (the last may be shorter), read lazily."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def map_chunks(
    work: Callable[[list[T]], list[R]],
    items: Iterable[T],
    *,
    chunk_size: int = 256,
    workers: int | None = None,
    window: int = 4,
    inline_below: int = 2,
    nice: int = 0,
) -> Iterator[R]:
    """``work`` over chunks of ``items`` in worker processes, results in input order.

    At most ``window`` chunks per worker are in flight, so memory stays flat however many
    items there are. Small inputs (fewer than ``inline_below`` chunks) run in this process.
    ``nice`` lowers the workers' priority, for when this process is the bottleneck.
    """
    pieces = chunks(items, chunk_size)
    head = list(islice(pieces, inline_below))
    if len(head) < inline_below:
        for chunk in head:
            yield from work(chunk)
        return
    workers = workers or max(1, os.cpu_count() or 1)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_lower_priority,
                             initargs=(nice,)) as pool:
        pending: deque[Future[list[R]]] = deque()
        for chunk in chain(head, pieces):
            pending.append(pool.submit(work, chunk))
            if len(pending) >= window * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def _lower_priority(increment: int) -> None:
    if increment:
        os.nice(increment)
