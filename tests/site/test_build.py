"""The built site: complete, valid, linked, escaped and incremental."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import feedparser
import html5lib
import lxml.html
import pytest

from finews.site.output import MANIFEST
from tests.site.conftest import build, fill, sample_settings, site_files

SNAPSHOT = Path(__file__).parent.parent / "data" / "site-snapshot"
DANGEROUS_URL = re.compile(r"^\s*(javascript|data|vbscript):", re.I)


def pages(out: Path, suffix: str = ".html") -> list[Path]:
    return sorted(p for p in out.rglob(f"*{suffix}") if ".finews" not in p.parts
                  and "search" not in p.parts)


def test_every_kind_of_page_is_there(site):
    _, _, out, report = site
    assert report.full
    for path in [
        "index.html", "404.html", "feed.xml", "sitemap.xml", "robots.txt",
        "static/finews.css", "category/nanfangdushibao.html", "category/nanfangdushibao.xml",
        "stock/index.html", "stock/0.000338.html", "stock/0.000338.xml", "tag/芯片.html",
        "archive/2025/03/10.html",
        "nanfangdushibao/2025/03/10/NW20250310000000000000.html",
        "cailianshe/2022/04/21/NW202204212352230938.html",
        "emnews/2022/04/21/202204212352230938.html",  # redirect of the merged second id
        "emnews/index.html",  # the original's /emnews/ page
        "sitemaps/2025-03.xml", "sitemaps/pages.xml",
    ]:
        assert (out / path).is_file(), path
    assert not (out / "category/nanfangdushibao/1.html").exists(), "one block: no numbered page"


def test_snapshot_of_a_small_site(site):
    _, _, out, _ = site
    files = site_files(out)
    listing = "\n".join(sorted(files)) + "\n"
    chosen = ["index.html", "nanfangdushibao/2025/03/11/NW20250310000000000003.html",
              "category/shanghaizhengquanbao.html", "feed.xml", "live.html", "latest.json",
              "important.html", "tag/芯片.html", "archive/2025/03/10.html", "stock/index.html",
              "stock/0.000338.html", "404.html"]  # a page of every kind (built without search)
    if os.environ.get("FINEWS_UPDATE_SNAPSHOTS"):
        SNAPSHOT.mkdir(parents=True, exist_ok=True)
        (SNAPSHOT / "files.txt").write_text(listing, encoding="utf-8")
        for name in chosen:
            (SNAPSHOT / name.replace("/", "__")).write_bytes(files[name])
    assert listing == (SNAPSHOT / "files.txt").read_text(encoding="utf-8")
    for name in chosen:
        assert files[name] == (SNAPSHOT / name.replace("/", "__")).read_bytes(), name


def test_every_internal_link_resolves(site):
    _, _, out, _ = site
    checked = 0
    for page in pages(out):
        doc = lxml.html.fromstring(page.read_bytes())
        targets = [a.get("href") for a in doc.iter("a", "link") if a.get("href")]
        targets += [e.get("src") for e in doc.iter("script", "img") if e.get("src")]
        refresh = doc.xpath('//meta[@http-equiv="refresh"]/@content')
        targets += [r.split("url=", 1)[1] for r in refresh]
        for target in targets:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or target.startswith("#"):
                continue
            path = unquote(parts.path)
            resolved = out / path.lstrip("/") if path.startswith("/") else page.parent / path
            if path.endswith("/"):
                resolved = resolved / "index.html"
            assert resolved.is_file(), f"{page.relative_to(out)} links to missing {target}"
            checked += 1
    assert checked > 500


def test_pages_are_valid_html5_with_unique_ids(site):
    _, _, out, _ = site
    parser = html5lib.HTMLParser(strict=True)
    for page in pages(out):
        parser.parse(page.read_bytes())
        ids = lxml.html.fromstring(page.read_bytes()).xpath("//@id")
        assert len(ids) == len(set(ids)), page


def test_no_script_or_handler_from_content_reaches_the_site(site):
    _, _, out, _ = site
    for page in pages(out):
        doc = lxml.html.fromstring(page.read_bytes())
        for script in doc.iter("script"):
            assert script.get("src", "").startswith("/static/"), page
            assert not (script.text or "").strip(), page
        for element in doc.iter():
            for name, value in element.attrib.items():
                assert not name.lower().startswith("on"), (page, name)
                if name in ("href", "src", "action"):
                    assert not DANGEROUS_URL.match(value), (page, value)
        assert not doc.xpath("//iframe|//object|//embed|//form[not(@role='search')]"), page
    hostile = (out / "nanfangdushibao/2025/03/11/NW20250310000000000003.html").read_text()
    assert '>标题3 &#34;引号&#34; &lt;script&gt;alert(3)&lt;/script&gt;</h1>' in hostile


def test_every_page_carries_a_content_security_policy(site):
    _, _, out, _ = site
    for page in pages(out):
        csp = lxml.html.fromstring(page.read_bytes()).xpath(
            '//meta[@http-equiv="Content-Security-Policy"]/@content')
        assert csp and "script-src 'self'" in csp[0] and "'unsafe-inline'" not in csp[0], page


def test_feeds_are_valid_atom(site):
    _, _, out, _ = site
    feeds = [out / "feed.xml", *sorted((out / "category").glob("*.xml"))]
    assert len(feeds) > 3
    for path in feeds:
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        assert parsed.version == "atom10"
        assert parsed.feed.id and parsed.feed.title and parsed.feed.updated
        assert 0 < len(parsed.entries) <= 50
        for entry in parsed.entries:
            assert entry.id and entry.title and entry.updated and entry.link
            assert entry.link.startswith("https://news.example.com/")
            assert "<script" not in entry.content[0].value


def test_sitemaps(site):
    _, _, out, _ = site
    index = (out / "sitemap.xml").read_text()
    assert "https://news.example.com/sitemaps/2025-03.xml" in index
    month = (out / "sitemaps/2025-03.xml").read_text()
    assert month.count("<url>") == 30
    assert "Sitemap: https://news.example.com/sitemap.xml" in (out / "robots.txt").read_text()


def test_article_page_content(site):
    _, _, out, _ = site
    page = (out / "nanfangdushibao/2025/03/11/NW20250310000000000003.html").read_text()
    assert "2025-03-10 09:00" not in page  # article 3 is 21 hours later
    assert '<time datetime="2025-03-11T06:00:00+08:00" data-pagefind-meta="date">2025-03-11 06:00' in page
    assert 'href="/category/nanfangdushibao.html">返回南方都市报</a>' in page
    assert 'rel="prev" href="/nanfangdushibao/2025/03/12/NW20250310000000000006.html"' in page
    assert 'rel="next" href="/nanfangdushibao/2025/03/10/NW20250310000000000000.html"' in page
    assert "原文：" in page and "https://finance.eastmoney.com/a/" in page
    head = lxml.html.fromstring(page.encode()).head
    metas = {m.get("property") or m.get("name"): m.get("content") for m in head.iter("meta")}
    assert metas["og:title"] == head.findtext("title").rsplit(" - ", 1)[0]
    assert metas["og:url"].startswith("https://news.example.com/nanfangdushibao/2025/03/11/")
    assert metas["description"] == metas["og:description"] and metas["description"]


def test_incremental_build_equals_a_full_build(site, tmp_path):
    store, settings, out, _ = site
    before = {p: (out / p).stat().st_mtime_ns for p in site_files(out)}
    fill(store, n=10, start=100)
    from tests.conftest import make_article

    store.upsert([make_article(5, outlet="上海证券报", tags=["上海证券报新闻", "降息"],
                               title="第5条 更正后的标题")])
    report = build(store, settings, out)
    assert not report.full
    assert report.written < 80
    fresh = tmp_path / "fresh"
    build(store, settings, fresh, full=True)
    assert site_files(out) == site_files(fresh)
    after = {p: (out / p).stat().st_mtime_ns for p in site_files(out)}
    untouched = [p for p in before if before[p] == after.get(p)]
    assert "cailianshe/2022/04/21/NW202204212352230938.html" in untouched
    assert "category/cailianshe.html" in untouched


def test_nothing_changed_nothing_written(site):
    store, settings, out, _ = site
    report = build(store, settings, out)
    assert not report.full and report.written == 0


def test_pages_counted_from_the_oldest_stay_put(tmp_path):
    from datetime import datetime, timedelta

    from finews.model import BEIJING
    from finews.store import open_store
    from tests.conftest import make_article

    store = open_store(str(tmp_path / "a.db"))
    base = datetime(2025, 1, 1, tzinfo=BEIJING)
    store.upsert([make_article(i, published=base + timedelta(hours=i)) for i in range(250)])
    settings = sample_settings(tmp_path)
    out = tmp_path / "site"
    build(store, settings, out)
    first = (out / "category/nanfangdushibao/1.html").read_bytes()
    assert [p.name for p in sorted((out / "category/nanfangdushibao").iterdir())] == [
        "1.html", "2.html", "3.html"]
    store.upsert([make_article(i, published=base + timedelta(hours=i)) for i in range(250, 310)])
    report = build(store, settings, out)
    assert not report.full
    assert (out / "category/nanfangdushibao/1.html").read_bytes() == first
    assert (out / "category/nanfangdushibao/4.html").is_file()
    front = (out / "category/nanfangdushibao.html").read_text()
    assert "第 310 篇" not in front and "共 310 篇" in front
    store.close()


def test_listings_stay_exact_through_rebuilds_with_small_pages(tmp_path):
    """Pages of three: newer articles, an old one moved to the top by a corrected time, late
    articles landing in the middle of a listing, and single new ones (one of them starts a
    new page). Every rebuild equals a full build, and
    every article of an outlet is on exactly one of its numbered pages."""
    from datetime import datetime, timedelta

    from finews.model import BEIJING
    from finews.store import open_store
    from tests.conftest import make_article

    base = datetime(2025, 1, 1, tzinfo=BEIJING)

    def article(i: int, hours: float):
        return make_article(i, outlet=["南方都市报", "上海证券报"][i % 2],
                            tags=["芯片"] if i % 3 else ["降息", "芯片"],
                            published=base + timedelta(hours=hours))

    store = open_store(str(tmp_path / "a.db"))
    store.upsert([article(i, i) for i in range(20)])
    settings = sample_settings(tmp_path)
    out = tmp_path / "site"
    build(store, settings, out, per_page=3)
    steps = [[article(i, i) for i in range(20, 27)], [article(4, 30)],
             [article(40, 2.5), article(41, 7.5), article(42, 0.5)],
             [article(50, 40)], [article(52, 41)], [article(54, 42)]]
    for n, batch in enumerate(steps):
        store.upsert(batch)
        assert not build(store, settings, out, per_page=3).full
        fresh = tmp_path / f"fresh{n}"
        build(store, settings, fresh, per_page=3, full=True)
        assert site_files(out) == site_files(fresh), f"after step {n}"
    numbered = sorted((out / "category/nanfangdushibao").iterdir(), key=lambda p: int(p.stem))
    listed = [a.get("href") for p in numbered
              for a in lxml.html.fromstring(p.read_bytes()).cssselect("ol.items li > a")]
    expected = [f"/{a.category}/{a.published.astimezone(BEIJING):%Y/%m/%d}/{a.code}.html"
                for a in store.summaries(category="nanfangdushibao", newest_first=False)]
    assert sorted(listed) == sorted(expected) and len(numbered) == -(-len(expected) // 3)
    store.close()


def test_rebuilds_with_retention_equal_full_builds(tmp_path):
    """Keeping the newest 8: new articles push old ones (and a tag's only article) off the
    site; every rebuild equals a full build."""
    from datetime import datetime, timedelta

    from finews.model import BEIJING
    from finews.store import open_store
    from tests.conftest import make_article

    base = datetime(2025, 1, 1, tzinfo=BEIJING)
    store = open_store(str(tmp_path / "a.db"))
    store.upsert([make_article(i, tags=["旧闻"] if i == 0 else ["芯片"],
                               published=base + timedelta(hours=i)) for i in range(10)])
    settings = sample_settings(tmp_path)
    out = tmp_path / "site"
    build(store, settings, out, per_page=3, keep_articles=8)
    for step in range(3):
        store.upsert([make_article(20 + 2 * step + i, published=base + timedelta(hours=20 + 2 * step + i))
                      for i in range(2)])
        assert not build(store, settings, out, per_page=3, keep_articles=8).full
        fresh = tmp_path / f"fresh{step}"
        build(store, settings, fresh, per_page=3, keep_articles=8, full=True)
        assert site_files(out) == site_files(fresh), f"after step {step}"
    assert "共 0 篇" in (out / "tag/旧闻.html").read_text(encoding="utf-8")
    store.close()


def test_retention_keeps_the_site_small_and_the_archive_whole(tmp_path):
    from finews.store import open_store

    store = open_store(str(tmp_path / "a.db"))
    fill(store)
    settings = sample_settings(tmp_path)
    out = tmp_path / "site"
    build(store, settings, out, keep_articles=10)
    articles = [p for p in pages(out) if re.search(r"/\d{4}/\d{2}/\d{2}/[^/]+\.html$", str(p))
                and "archive" not in p.parts and "emnews" not in p.parts[-5:-4]]
    assert 10 <= len(articles) <= 11
    assert store.count() == 44
    store.close()


def test_manifest_and_no_temporary_files_left(site):
    _, _, out, _ = site
    assert (out / MANIFEST).exists()
    assert not [p for p in out.rglob("*.tmp")]


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a/b", "..", "x\x00y"])
def test_tag_names_cannot_escape_the_site(bad):
    from finews.site.pages import tag_path

    path = tag_path(bad)
    assert path.count("/") == 2 and ".." not in path.split("/")[2][:2] and "\x00" not in path


def test_compiled_templates_are_cached_and_follow_theme_edits(site, tmp_path):
    store, settings, out, _ = site
    cached = list((out / ".finews" / "templates").rglob("*.cache"))
    assert cached, "compiled templates are kept between builds"
    again = build(store, settings, out, full=True)
    assert again.written == 0 and again.unchanged > 0

    theme = tmp_path / "theme"
    theme.mkdir()
    original = (Path(__file__).parents[2] / "finews/site/templates/article.html").read_text(encoding="utf-8")
    for marker in ("主题一", "主题二"):
        themed = original.replace("<main", f"<p>{marker}</p><main")
        (theme / "article.html").write_text(themed, encoding="utf-8")
        build(store, settings, out, full=True, theme=theme)
        page = (out / "cailianshe/2022/04/21/NW202204212352230938.html").read_text(encoding="utf-8")
        assert f"<p>{marker}</p>" in page
        assert "长春发布《关于支持市场" in page, "a theme's article template receives the body as text"


def test_half_written_files_of_dead_builds_are_swept(tmp_path):
    """A killed build leaves files in its process's folder under .finews/tmp; the next
    build removes those of processes that no longer run, and nothing of a running one."""
    import subprocess
    import sys

    from finews.site.output import TEMPORARY, Output

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    tmp = tmp_path / "site" / TEMPORARY
    (tmp / dead).mkdir(parents=True)
    (tmp / dead / "7").write_bytes(b"half")
    (tmp / f"{dead}.3").write_bytes(b"half, older layout")
    (tmp / "1").mkdir()
    (tmp / "1" / "9").write_bytes(b"pid 1 still runs")
    Output(tmp_path / "site").close()
    left = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*"))
    assert dead not in left and f"{dead}.3" not in left
    assert "1/9" in left
