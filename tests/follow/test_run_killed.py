"""Nothing lost, nothing twice: `finews run` with three watches over the mock Eastmoney (a
flash list and columns that carry the same stories), killed with SIGKILL at random moments
while news keeps arriving. Afterwards every matching article reached the receiver, each
under its own message id, and nothing that does not match did. (The queries have no
exclusion: an article is matched as each copy is stored, and the outlet's full copy holds
all of the flash item's text, so what matched the flash copy matches the archive's.)

FINEWS_KILL_COUNT sets the kills (default 5)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from finews.mocknews import MockNews, MockNewsServer, column_sources_toml
from finews.model import BEIJING
from finews.store import open_store
from tests.follow.receiver import Receiver

KILLS = int(os.environ.get("FINEWS_KILL_COUNT", "5"))


def _config(url: str, receiver: Receiver) -> str:
    flash = f"""
[[sources]]
name = "flash"
kind = "eastmoney-fastnews"
url = "{url}/comm/web/getFastNewsList"
article_url = "{url}/a/{{code}}.html"
interval = "1s"
page_size = 50
max_pages = 40
outlet = "东财滚动"
category = "emnews"
"""
    columns = column_sources_toml(url, 2, page_size=50, max_pages=40).replace(
        'kind = "eastmoney-columns"', 'kind = "eastmoney-columns"\ninterval = "1s"')
    return f"""
[fetch]
min_interval = 0
retries = 1

[follow]
max_age = "2d"
per_minute = 100000

[[watch]]
name = "chips"
query = "半导体 OR 算力"
notify = ["{receiver.url}"]

[[watch]]
name = "red"
important = true
notify = ["{receiver.url}"]

[[watch]]
name = "buybacks"
query = "回购 分红"
notify = ["{receiver.url}"]
{flash}{columns}"""


def _finews(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "finews", *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _expected(db: Path) -> set[str]:
    """What the three watches should have sent, by a scan of the stored texts."""
    with open_store(str(db)) as store:
        articles = list(store.iter_articles())
        red = store.importance_of([a.key for a in articles])
    wanted = set()
    for a in articles:
        text = a.search_text
        if "半导体" in text or "算力" in text:
            wanted.add(f"chips:{a.id}")
        if a.key in red:
            wanted.add(f"red:{a.id}")
        if "回购" in text and "分红" in text:
            wanted.add(f"buybacks:{a.id}")
    return wanted


def test_run_killed_at_random_moments_notifies_every_match_once(tmp_path):
    world = MockNews(columns=2, start=datetime.now(BEIJING) - timedelta(hours=3))
    server = MockNewsServer(world).start()
    receiver = Receiver().start()
    try:
        (tmp_path / "finews.toml").write_text(_config(server.url, receiver))
        rng = random.Random(4)
        killed = 0
        for _ in range(KILLS):
            world.publish(150)
            run = _finews("run", "--no-build", cwd=tmp_path)
            try:
                run.wait(rng.uniform(1.5, 4.0))
            except subprocess.TimeoutExpired:
                run.send_signal(signal.SIGKILL)
                run.wait()
                killed += 1
        assert killed == KILLS, "finews run ended by itself"
        world.publish(30)
        assert _finews("run", "--no-build", "--passes", "1", cwd=tmp_path).wait() == 0
        notify = _finews("notify", "--once", cwd=tmp_path)
        assert notify.wait() == 0, notify.stderr.read()
    finally:
        server.stop()
        receiver.stop()
    ids = receiver.ids()
    with open_store(str(tmp_path / "finews.db")) as store:
        assert store.count() == len(world.articles)
    expected = _expected(tmp_path / "finews.db")
    assert len(expected) > 100 and {i.split(":")[0] for i in expected} == {"chips", "red", "buybacks"}
    assert set(ids) == expected
    duplicates = len(ids) - len(set(ids))
    assert duplicates <= KILLS, f"{duplicates} resent: more than one per kill"
