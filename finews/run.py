"""`finews run`: the unattended loop, its lock and its clean shutdown."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from finews.collect import Collector, SourceReport
from finews.config import Settings
from finews.errors import FinewsError
from finews.store import ArchiveURL, Store, open_store


@contextmanager
def archive_lock(archive: ArchiveURL | str) -> Iterator[None]:
    """Only one `finews run` per archive file: a second one is refused, not queued.
    (On PostgreSQL, collectors share the sources through leases instead.) Every spelling
    of one file (a path, ``sqlite:///``, relative or absolute) takes the same lock."""
    if not isinstance(archive, ArchiveURL):
        archive = ArchiveURL.parse(archive)
    if not archive.is_sqlite:
        yield
        return
    path = f"{archive.path.resolve()}.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            raise FinewsError(
                f"another 'finews run' (pid {pid}) is already using {archive.location}; stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


class RunLoop:
    """Fetch what is due, then publish and run the hook; sleep until the next source is due."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        after: str | None = None,
        max_passes: int = 0,
        publish: Callable[[], None] | None = None,
        max_sleep: float = 30.0,
    ):
        self.store = store
        self.settings = settings
        self.after = after
        self.max_passes = max_passes
        self.publish = publish
        self.max_sleep = max_sleep
        self.stopping = threading.Event()
        self.collector = Collector(store, settings, stop=self.stopping.is_set)
        self.on_pass: Callable[[list[SourceReport]], None] = lambda reports: None

    def _handle_signal(self, signum: int, frame: object) -> None:
        self.stopping.set()

    def run(self) -> None:
        previous = {
            sig: signal.signal(sig, self._handle_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        sender = self._start_sender()
        try:
            self._loop()
        finally:
            self.stopping.set()
            if sender is not None:
                sender.join()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start_sender(self) -> threading.Thread | None:
        """The notifier, in a thread of its own with its own connection: a slow or dead
        target never holds up collecting."""
        if not any(w.notify for w in self.settings.follow.watches):
            return None
        thread = threading.Thread(target=self._send, name="finews-notify", daemon=True)
        thread.start()
        return thread

    def _send(self) -> None:
        from finews.notify import Notifier

        with open_store(self.settings.archive_url) as store:
            Notifier(store, self.settings).run(self.stopping)

    def _loop(self) -> None:
        passes = 0
        sources = [s for s in self.settings.sources if s.enabled]
        if not sources:
            raise FinewsError("no enabled sources: add [[sources]] to finews.toml")
        while not self.stopping.is_set():
            due = self.collector.due(sources)
            if due:
                reports = asyncio.run(self.collector.run(due, only_due=True))
                self.on_pass(reports)
                if any(r.new or r.updated or r.merged for r in reports):
                    self._after_changes()
                passes += 1
                if self.max_passes and passes >= self.max_passes:
                    return
            self.stopping.wait(self._seconds_to_next(sources))

    def _seconds_to_next(self, sources: list) -> float:
        names = {s.name for s in sources}
        health = [h for h in self.store.source_health() if h.name in names]
        if len(health) < len(names):
            return 0.0
        soonest = min(h.next_due for h in health)
        return min(self.max_sleep, max(0.0, soonest - time.time()))

    def _after_changes(self) -> None:
        if self.publish and not self.stopping.is_set():
            self.publish()
        if self.after and not self.stopping.is_set():
            result = subprocess.run(self.after, shell=True, check=False)
            if result.returncode != 0:
                print(f"warning: --after command exited with {result.returncode}", flush=True)
