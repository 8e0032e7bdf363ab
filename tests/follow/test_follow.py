"""Following news: importance, watches matched by the search index into the outbox, and
the notifier that delivers the outbox through Apprise to a real receiver on 127.0.0.1."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from finews.errors import ConfigError
from finews.follow import IMPORTANT
from finews.model import BEIJING
from finews.notify import Notifier
from finews.store import Store, open_store
from tests.conftest import make_article, settings_for
from tests.follow.receiver import Receiver
from tests.pg import fresh_postgres_url

WORDS = ["芯片", "半导体", "降准", "立案调查", "回购", "港股", "银行", "光伏", "的", "年报"]


@pytest.fixture(params=["sqlite", "postgres"])
def archive(request, tmp_path):
    """(the archive's location, a way to open it with the settings' rules)."""
    if request.param == "sqlite":
        yield str(tmp_path / "archive.db")
        return
    with fresh_postgres_url() as url:
        yield url


def _settings(tmp_path, archive: str, watches: str, follow: str = ""):
    return settings_for(f'[archive]\ndatabase_url = "{archive}"\n[follow]\nmax_age = "1d"\n'
                        f'{follow}\n{watches}', tmp_path)


def _open(settings) -> Store:
    return open_store(settings.archive_url, stories=settings.stories, follow=settings.follow)


def _fresh_articles(n: int, seed: int = 3) -> list:
    """Articles of the last hours, each of a few random words, some naming a security,
    some marked important by their source."""
    rng = random.Random(seed)
    start = datetime.now(BEIJING) - timedelta(hours=2)
    articles = []
    for i in range(n):
        words = rng.sample(WORDS, 3)
        stock = rng.choice(["", "", "600519", "000001"])
        body = "<p>" + "，".join(words) + (f"，贵州茅台({stock})" if stock == "600519" else "") + \
            (f"，平安银行({stock})" if stock == "000001" else "") + "。</p>"
        articles.append(make_article(i, title=f"消息{i}{words[0]}", body=body,
                                     published=start + timedelta(seconds=20 * i),
                                     outlet=rng.choice(["南方都市报", "上海证券报"]),
                                     importance=IMPORTANT if rng.random() < 0.2 else 0))
    return articles


WATCHES = """
[[watch]]
name = "chips"
query = "芯片 OR 半导体 -港股"
notify = ["{url}"]

[[watch]]
name = "maotai"
stocks = ["1.600519"]
notify = ["{url}"]

[[watch]]
name = "red-banks"
query = "银行"
outlets = ["上海证券报"]
important = true
notify = ["{url}"]

[[watch]]
name = "all-red"
important = true
notify = ["{url}"]
"""


def _expected(articles) -> dict[str, set[str]]:
    """What each of WATCHES should match, by a scan of the texts."""
    text = {a.id: a.search_text for a in articles}
    return {
        "chips": {a.id for a in articles if ("芯片" in text[a.id] or "半导体" in text[a.id])
                  and "港股" not in text[a.id]},
        "maotai": {a.id for a in articles if "600519" in a.body},
        "red-banks": {a.id for a in articles if "银行" in text[a.id] and a.outlet == "上海证券报"
                      and a.importance},
        "all-red": {a.id for a in articles if a.importance},
    }


def _queued(store: Store) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for watch, article_id in store._x("SELECT o.watch, a.id FROM outbox o JOIN articles a USING (key)"):
        found.setdefault(watch, set()).add(article_id)
    return found


def test_matches_by_word_stock_importance_and_combined_land_in_the_outbox(tmp_path, archive):
    settings = _settings(tmp_path, archive, WATCHES.replace("{url}", "json://127.0.0.1:9/hook"))
    articles = _fresh_articles(300)
    with _open(settings) as store:
        for start in range(0, len(articles), 50):
            store.upsert(articles[start:start + 50], notify=True)
        expected = _expected(articles)
        assert all(expected.values())
        assert _queued(store) == expected
        assert len(store.importance_of([a.key for a in store.iter_articles()])) == \
            sum(1 for a in articles if a.importance)


def test_imports_and_stale_articles_notify_no_one(tmp_path, archive):
    settings = _settings(tmp_path, archive, WATCHES.replace("{url}", "json://127.0.0.1:9/hook"))
    old = [make_article(i, body="<p>芯片</p>") for i in range(5)]  # March 2025: days old
    with _open(settings) as store:
        store.upsert(_fresh_articles(20))
        store.upsert(old, notify=True)
        assert _queued(store) == {}


def test_the_archive_listing_of_a_watch_is_what_matching_found(tmp_path, archive):
    settings = _settings(tmp_path, archive, WATCHES.replace("{url}", "json://127.0.0.1:9/hook"))
    articles = _fresh_articles(300)
    with _open(settings) as store:
        store.upsert(articles, notify=True)
        by_id = {a.id: a.key for a in store.iter_articles()}
        for watch, ids in _expected(articles).items():
            criterion = settings.follow.watch(watch).criterion
            keys = sorted((by_id[i] for i in ids), reverse=True)
            assert store.followed_keys(criterion, 1000) == keys, watch
            assert store.followed_keys(criterion, 3) == keys[:3]
            assert store.followed_keys(criterion, 5, before=keys[2]) == keys[3:8]


def test_notifier_delivers_each_match_once_with_its_id(tmp_path, archive, receiver):
    settings = _settings(tmp_path, archive, WATCHES.replace("{url}", receiver.url),
                         "per_minute = 1000")
    articles = _fresh_articles(60)
    with _open(settings) as store:
        store.upsert(articles, notify=True)
        report = Notifier(store, settings).send_due()
        assert report.failed == 0 and report.sent == sum(len(v) for v in _expected(articles).values())
        assert Notifier(store, settings).send_due().sent == 0
    expected = {f"{watch}:{i}" for watch, ids in _expected(articles).items() for i in ids}
    assert sorted(receiver.ids()) == sorted(expected)
    message = next(m for m in receiver.messages if m["id"].startswith("maotai:"))
    assert message["title"].startswith("[maotai] 消息")
    assert "贵州茅台(600519)" in message["message"]
    assert "https://finance.eastmoney.com/a/" in message["message"]


def test_a_target_that_is_down_is_retried_until_it_is_up(tmp_path, archive):
    receiver = Receiver().start()
    receiver.down = True
    settings = _settings(tmp_path, archive, WATCHES.replace("{url}", receiver.url))
    try:
        with _open(settings) as store:
            store.upsert(_fresh_articles(10), notify=True)
            notifier = Notifier(store, settings)
            first = notifier.send_due()
            assert first.failed > 0 and first.sent == 0
            assert notifier.send_due().failed == 0  # backed off: nothing due yet
            rows = {r["name"]: r for r in _sources(store, settings)}
            failing = [r for r in rows.values() if r["kind"] == "notify" and r["consecutive_failures"]]
            assert failing and "503" in failing[0]["last_error"] and not failing[0]["healthy"]
            receiver.down = False
            store._x("UPDATE outbox SET due = 0")  # as if the back-off had passed
            again = notifier.send_due()
            assert again.failed == 0 and again.sent == first.failed
            targets = [r for r in _sources(store, settings) if r["kind"] == "notify"]
            assert targets and not any(r["consecutive_failures"] for r in targets)
    finally:
        receiver.stop()
    assert len(receiver.ids()) == len(set(receiver.ids())) == first.failed


def _sources(store, settings) -> list[dict]:
    from finews.serve.queries import Archive

    return Archive(store, settings).sources()


def test_a_burst_is_cut_to_the_rate_and_the_rest_folded_into_a_digest(tmp_path, archive, receiver):
    watch = f'[[watch]]\nname = "everything"\nnotify = ["{receiver.url}"]\n'
    settings = _settings(tmp_path, archive, watch, "per_minute = 10")
    with _open(settings) as store:
        store.upsert(_fresh_articles(200), notify=True)
        report = Notifier(store, settings).send_due()
        assert (report.sent, report.digested) == (9, 191)
        assert Notifier(store, settings).send_due().sent == 0
    assert len(receiver.messages) == 10
    digest = receiver.messages[-1]
    assert digest["title"] == "[everything] 191条新消息" and "…及另外171条" in digest["message"]


def test_a_hostile_title_arrives_as_the_text_it_is(tmp_path, archive, receiver):
    watch = f'[[watch]]\nname = "all"\nnotify = ["{receiver.url}"]\n'
    settings = _settings(tmp_path, archive, watch)
    title = '<img src=x onerror="alert(1)">&amp;**粗体** [链接](javascript:alert(1))'
    article = make_article(1, title=title, published=datetime.now(BEIJING))
    with _open(settings) as store:
        store.upsert([article], notify=True)
        Notifier(store, settings).send_due()
    (message,) = receiver.messages
    assert message["title"] == f"[all] {title}"
    assert message["type"] == "info" and "<" not in message["message"]


@pytest.mark.parametrize(("table", "error"), [
    ('[[watch]]\nname = "x"\nnotify = ["nonsense://what"]',
     "watch.x.notify: 'nonsense://what' is not a notification URL"),
    ('[[watch]]\nname = "Bad Name"', "watch[0].name: 'Bad Name' is not a watch name"),
    ('[[watch]]\nname = "x"\nquery = "芯片 OR"', "watch.x.query: search query '芯片 OR': 'OR' needs a term"),
    ('[[watch]]\nname = "x"\nstocks = ["600519"]', "watch.x.stocks: '600519' is not a security id"),
    ('[[watch]]\nname = "x"\n[[watch]]\nname = "x"', "watch: names must be unique (x)"),
    ('[[important]]\noutlets = ["财联社"]', "important[0]: give a query or stocks"),
])
def test_bad_watches_are_config_errors_at_start(tmp_path, table, error):
    with pytest.raises(ConfigError, match=re.escape(error)):
        settings_for(table, tmp_path)


def test_importance_rules_mark_what_the_source_did_not(tmp_path, archive):
    rule = '[[important]]\nquery = "立案调查"\n'
    settings = _settings(tmp_path, archive, rule)
    articles = _fresh_articles(100)
    with _open(settings) as store:
        store.upsert(articles)
        keys = {a.id: a.key for a in store.iter_articles()}
        marked = {i for i, k in keys.items() if k in store.importance_of(list(keys.values()))}
    assert marked == {a.id for a in articles if a.importance or "立案调查" in a.search_text}


def test_answers_journaled_before_a_kill_are_not_sent_again(tmp_path, receiver):
    """The process died after the targets answered and the journal was written, before the
    outbox was updated: the next notifier applies the journal and sends nothing twice."""
    from finews.notify import SentJournal

    watch = f'[[watch]]\nname = "all"\nnotify = ["{receiver.url}"]\n'
    settings = _settings(tmp_path, str(tmp_path / "a.db"), watch)
    with _open(settings) as store:
        store.upsert(_fresh_articles(5), notify=True)
        answered = store.pending_messages()[:3]
        SentJournal(tmp_path / "a.db.sent").record(answered)
        report = Notifier(store, settings).send_due()
        assert report.sent == 2 and not (tmp_path / "a.db.sent").exists()
        assert store.pending_messages() == []
    assert len(receiver.messages) == 2


def test_two_notifiers_on_one_archive_send_each_message_once(tmp_path, archive, receiver):
    """Several collectors share a PostgreSQL archive, each with its notifier: a message is
    claimed by one of them."""
    import threading

    watch = f'[[watch]]\nname = "all"\nnotify = ["{receiver.url}"]\n'
    settings = _settings(tmp_path, archive, watch, "per_minute = 100000")
    with _open(settings) as store:
        store.upsert(_fresh_articles(300), notify=True)
    stores = [_open(settings) for _ in range(2)]
    threads = [threading.Thread(target=Notifier(s, settings).send_due) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for s in stores:
        s.close()
    assert len(receiver.ids()) == len(set(receiver.ids())) == 300


def test_messages_claimed_by_a_dead_notifier_are_sent_at_once(tmp_path, archive, receiver):
    watch = f'[[watch]]\nname = "all"\nnotify = ["{receiver.url}"]\n'
    settings = _settings(tmp_path, archive, watch)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with _open(settings) as store:
        store.upsert(_fresh_articles(5), notify=True)
        assert len(store.claim_messages(f"{os.uname().nodename}:{dead}:abcd")) == 5
        assert store.pending_messages() == []  # claimed for a minute
        assert Notifier(store, settings).send_due().sent == 5
    assert len(receiver.messages) == 5


def test_messages_of_a_watch_removed_from_the_config_are_dropped_not_sent(tmp_path, archive, receiver):
    watch = f'[[watch]]\nname = "all"\nnotify = ["{receiver.url}"]\n'
    settings = _settings(tmp_path, archive, watch)
    with _open(settings) as store:
        store.upsert(_fresh_articles(4), notify=True)
        report = Notifier(store, _settings(tmp_path, archive, "")).send_due()
        assert (report.sent, report.dropped) == (0, 4) and store.pending_messages() == []
    assert receiver.messages == []
