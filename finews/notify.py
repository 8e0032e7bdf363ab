"""Notifications: the outbox's messages delivered through Apprise (ntfy, Telegram, email,
Slack, DingTalk, WeCom, Feishu, JSON webhooks and the rest), never by a client of our own.

A message is confirmed in the outbox only after its target answered, so a killed process
resends exactly what was not confirmed. It goes out twice only when the process dies
between the target's answer and the record of it; the resend carries the same ``id`` (in
the payload of ``json://``, ``form://`` and ``xml://`` targets), so a receiver can drop it.
On SQLite the outbox update waits for the archive's write lock, which the collector holds
while it stores a page (a tenth of a second and more), so each answer is first appended
to a journal beside the archive (``finews.db.sent``, flushed to disk: a millisecond) and
the journal is applied to the outbox before anything is sent again. A
target that fails is retried with doubling back-off (2 s up to 10 minutes); it delays
nothing else. At most ``per_minute`` messages a minute go to one target of a watch; the
rest of a burst is folded into one digest.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from finews.config import Settings
from finews.model import Article
from finews.site.pages import article_path
from finews.store import Store
from finews.store.base import new_holder
from finews.store.following import Pending

RETRY_FIRST_MS = 2000
RETRY_MAX_MS = 600_000
DIGEST_LINES = 20
_ID_SCHEMES = ("json", "jsons", "form", "forms", "xml", "xmls")


@dataclass
class SendReport:
    """What one call of ``send_due`` did, message by message (a digest counts its rows)."""

    sent: int = 0
    digested: int = 0
    failed: int = 0
    dropped: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.digested + self.failed + self.dropped

    def __str__(self) -> str:
        return (f"{self.sent} sent, {self.digested} in digests, {self.failed} to retry, "
                f"{self.dropped} dropped")


def with_message_id(url: str, message_id: str) -> str:
    """The target URL with the message id in its payload, for the webhook kinds that
    carry one (Apprise's ``:key=value`` adds a payload entry)."""
    if url.split("://", 1)[0].lower() not in _ID_SCHEMES:
        return url
    return f"{url}{'&' if '?' in url else '?'}:id={quote(message_id, safe='')}"


def deliver(url: str, title: str, body: str) -> str:
    """Send one text message; "" when the target accepted it, else what went wrong."""
    import apprise

    sender = apprise.Apprise()
    if not sender.add(url):
        return "not a notification URL Apprise understands"
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as log:
        accepted = sender.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
    if accepted:
        return ""
    return " ".join(log.getvalue().split())[:300] or "the target refused the message"


class SentJournal:
    """Answers not yet recorded in the outbox, one line each, on disk before anything else
    happens: the short window in which a kill could still resend a message."""

    def __init__(self, path: Path):
        self.path = path

    def record(self, messages: list[Pending]) -> None:
        with open(self.path, "a", encoding="utf-8") as journal:
            journal.writelines(f"{m.watch}\t{m.key}\t{m.target}\n" for m in messages)
            journal.flush()
            os.fsync(journal.fileno())

    def apply(self, store: Store) -> int:
        """Confirm in the outbox what the journal holds, then empty it."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return 0
        answered = [Pending(w, int(k), t, 0, 0) for w, k, t in
                    (line.split("\t") for line in lines if line.count("\t") == 2 and
                     line.split("\t")[1].isdigit())]
        if answered:
            store.confirm_sent(answered)
        self.path.unlink()
        return len(answered)


class Notifier:
    """Sends what the outbox holds, by the current [[watch]] settings."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        archive = settings.archive_url
        self.journal = SentJournal(Path(f"{archive.path}.sent")) if archive.is_sqlite else None
        self.holder = new_holder()
        self.per_minute = settings.follow.per_minute
        self.targets = {(w.name, tid): url for w in settings.follow.watches
                        for tid, url in w.targets().items()}
        self._names: dict[str, list[str]] | None = None

    def send_due(self) -> SendReport:
        """Every message due now, a few hundred at a time, until only those the rate
        limit holds back are left."""
        report = SendReport()
        self._names = None
        if self.journal is not None:
            self.journal.apply(self.store)
        self.store.release_dead_claims()
        while self.store.anything_due():
            before = report.handled
            self._send_round(self.store.claim_messages(self.holder), report)
            if report.handled == before:
                break
        if self.journal is not None:
            self.journal.apply(self.store)
        return report

    def _send_round(self, pending: list[Pending], report: SendReport) -> None:
        groups: dict[tuple[str, str], list[Pending]] = {}
        for message in pending:
            groups.setdefault((message.watch, message.target), []).append(message)
        for (watch, target), messages in groups.items():
            url = self.targets.get((watch, target))
            if url is None:
                self.store.drop_messages(messages, "the watch or its target is no longer in finews.toml")
                report.dropped += len(messages)
                continue
            self._send_group(watch, url, messages, report)

    def _send_group(self, watch: str, url: str, messages: list[Pending], report: SendReport) -> None:
        now_ms = int(time.time() * 1000)
        room = self.per_minute - self.store.sent_count(watch, messages[0].target, now_ms - 60_000)
        if room <= 0:
            return
        articles = self.store.by_keys([m.key for m in messages])
        known = [m for m in messages if m.key in articles]
        if len(known) < len(messages):
            gone = [m for m in messages if m.key not in articles]
            self.store.drop_messages(gone, "the article is no longer in the archive")
            report.dropped += len(gone)
        singles, folded = (known, []) if len(known) <= room else (known[: room - 1], known[room - 1:])
        for message in singles:
            article = articles[message.key]
            self._settle([message], deliver(with_message_id(url, f"{watch}:{article.id}"),
                                            *self.message(watch, article)), report)
        if folded:
            first = articles[folded[0].key]
            error = deliver(with_message_id(url, f"{watch}:digest:{first.id}:{len(folded)}"),
                            *self.digest(watch, [articles[m.key] for m in folded]))
            self._settle(folded, error, report, digest=True)

    def _settle(self, messages: list[Pending], error: str, report: SendReport, *,
                digest: bool = False) -> None:
        if not error:
            if self.journal is not None:
                self.journal.record(messages)
            self.store.confirm_sent(messages)
            if digest:
                report.digested += len(messages)
            else:
                report.sent += len(messages)
            return
        delay = min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** min(messages[0].attempts, 20))
        self.store.retry_later(messages, error, delay)
        report.failed += len(messages)

    def link(self, article: Article) -> str:
        """The article on the site when its address is known, else the original."""
        base = self.settings.site.base_url
        if base:
            return base + quote(article_path(article.category, article.published, article.code,
                                             self.settings.tz))
        return article.url

    def message(self, watch: str, article: Article) -> tuple[str, str]:
        """(title, body) as plain text: the title, then outlet and time, securities, link."""
        when = article.published.astimezone(self.settings.tz).strftime("%Y-%m-%d %H:%M")
        lines = [f"{article.outlet} · {when}"]
        named = self.store.stocks_of([article.key])[article.key]
        if named:
            names = self._security_names()
            lines.append("股票: " + "、".join(
                f"{(names.get(s['secid']) or [s['name'] or s['code']])[0]}({s['code']})" for s in named))
        lines.append(self.link(article))
        return f"[{watch}] {article.title}", "\n".join(line for line in lines if line)

    def _security_names(self) -> dict[str, list[str]]:
        """The names the site shows securities under, read once per round."""
        if self._names is None:
            self._names = self.store.all_security_names()
        return self._names

    def digest(self, watch: str, articles: list[Article]) -> tuple[str, str]:
        lines = [f"{a.published.astimezone(self.settings.tz):%H:%M} {a.title} {self.link(a)}"
                 for a in articles[:DIGEST_LINES]]
        if len(articles) > DIGEST_LINES:
            lines.append(f"…及另外{len(articles) - DIGEST_LINES}条")
        return f"[{watch}] {len(articles)}条新消息", "\n".join(lines)

    def run(self, stopping: threading.Event, poll: float = 0.2) -> None:
        """Send until ``stopping`` is set, looking for due messages every ``poll`` seconds:
        a match is handed to its target within that of being stored."""
        while not stopping.is_set():
            self.send_due()
            stopping.wait(poll)
