"""Details a reader meets: dates that say their year and never wrap, a 7×24 item's page
that does not quote its own text twice, a warning when links will be relative."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import unquote

import lxml.html

from finews.model import BEIJING
from finews.store import open_store
from tests.conftest import make_article
from tests.site.conftest import build, sample_settings, static_site
from tests.site.test_browser import CHROMIUM, browser  # noqa: F401 - the fixture


def _site(tmp_path):
    store = open_store(str(tmp_path / "a.db"))
    now = datetime.now(BEIJING).replace(microsecond=0)
    flash_text = "央行今日开展1050亿元7天期逆回购操作，中标利率持平。"
    store.upsert([
        make_article(1, title="去年的消息", published=datetime(now.year - 1, 7, 8, 8, 14, tzinfo=BEIJING)),
        make_article(2, title="今年的消息", published=now - timedelta(hours=2)),
        make_article(3, title="央行开展逆回购", published=now - timedelta(hours=1), digest=flash_text,
                     body=f"<p>{flash_text}</p>", outlet="东财滚动", category="emnews"),
        make_article(4, title="专栏文章", published=now - timedelta(minutes=30), digest="一句导读。",
                     body="<p>正文从这里开始，与导读不同。</p>"),
    ])
    settings = sample_settings(tmp_path)
    settings.site.base_url = ""
    build(store, settings, tmp_path / "site")
    return store, tmp_path / "site", now


def test_list_dates_carry_the_year_when_it_is_not_this_one(tmp_path):
    store, out, now = _site(tmp_path)
    home = lxml.html.fromstring((out / "index.html").read_bytes())
    shown = {li.cssselect("a")[0].text: li.cssselect("time")[0].text
             for li in home.cssselect("section.latest li")}
    assert shown["去年的消息"] == f"{now.year - 1}-07-08 08:14"
    assert shown["今年的消息"] == (now - timedelta(hours=2)).strftime("%m-%d %H:%M")
    store.close()


def test_a_flash_page_does_not_quote_its_own_text_and_a_column_page_keeps_its_digest(tmp_path):
    store, out, _ = _site(tmp_path)
    flash, column = store.get(make_article(3).id), store.get(make_article(4).id)
    for article, quoted in ((flash, False), (column, True)):
        local = article.published.astimezone(BEIJING)
        page = out / article.category / f"{local:%Y/%m/%d}" / f"{article.code}.html"
        assert bool(lxml.html.fromstring(page.read_bytes()).cssselect("blockquote.digest")) is quoted
    store.close()


def test_no_date_wraps_on_the_desktop_or_the_phone(browser, tmp_path):  # noqa: F811
    store, out, _ = _site(tmp_path)
    store.close()
    with static_site(out) as site:
        for width in (390, 1280):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(f"{site}/")
            lines = page.evaluate("""[...document.querySelectorAll('time')].map(t => {
                const r = t.getClientRects(); return r.length; })""")
            assert lines and all(n == 1 for n in lines), (width, lines)
            page.close()


def test_the_home_page_leads_somewhere_in_a_phones_first_screen(browser, tmp_path):  # noqa: F811
    from tests.site.conftest import fill

    store = open_store(str(tmp_path / "a.db"))
    fill(store)
    settings = sample_settings(tmp_path)
    settings.site.base_url = ""
    build(store, settings, tmp_path / "site")
    store.close()
    with static_site(tmp_path / "site") as site:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(f"{site}/")
        links = page.locator("nav.menu a")
        names = links.all_inner_texts()
        assert names[:3] == ["7×24快讯", "重要消息", "股票"] and "南方都市报" in names
        boxes = [links.nth(i).bounding_box() for i in range(links.count())]
        assert all(b["height"] >= 44 for b in boxes), "tap targets of 44 px at least"
        assert max(b["y"] + b["height"] for b in boxes) < 844, "the menu is in the first screen"
        first = page.locator("section.latest li").first.bounding_box()
        assert first["y"] + first["height"] < 844, "and so is the first news item"
        page.close()


def test_a_flash_outlet_is_listed_in_the_7x24_layout_and_others_as_before(tmp_path):
    store, out, _ = _site(tmp_path)
    flash = lxml.html.fromstring((out / "category/emnews.html").read_bytes())
    (item,) = flash.cssselect("ol.live li")
    assert item.cssselect(".live-body > a")[0].text == "央行开展逆回购"
    assert item.cssselect(".live-text")[0].text.startswith("央行今日开展1050亿元") and item.cssselect("time")
    column = lxml.html.fromstring((out / "category/nanfangdushibao.html").read_bytes())
    assert column.cssselect("ol.items li") and not column.cssselect("ol.live")
    store.close()


def test_pages_count_from_the_newest_for_the_reader_and_keep_their_files(tmp_path):
    store = open_store(str(tmp_path / "a.db"))
    base = datetime(2025, 3, 1, 9, 0, tzinfo=BEIJING)
    store.upsert([make_article(i, published=base + timedelta(hours=10 * i)) for i in range(25)])
    settings = sample_settings(tmp_path)
    build(store, settings, tmp_path / "site", per_page=10)
    front = lxml.html.fromstring((tmp_path / "site/category/nanfangdushibao.html").read_bytes())
    pages = [(a.text, a.get("href"), a.get("aria-current")) for a in front.cssselect("nav.blocks a")]
    assert pages == [("1", "/category/nanfangdushibao.html", "page"),
                     ("2", "/category/nanfangdushibao/2.html", None),
                     ("3", "/category/nanfangdushibao/1.html", None)]
    assert front.cssselect('nav.pager a[rel="next"]')[0].get("href") == "/category/nanfangdushibao/2.html"
    second = lxml.html.fromstring((tmp_path / "site/category/nanfangdushibao/2.html").read_bytes())
    assert second.cssselect("h1")[0].text == "南方都市报（2025-03-05 至 2025-03-09）"
    assert second.cssselect('nav.pager a[rel="prev"]')[0].text.startswith("←")
    assert second.cssselect('nav.pager a[rel="next"]')[0].get("href") == "/category/nanfangdushibao/1.html"
    store.close()


def test_an_article_offers_its_real_tags_not_its_outlet_again(tmp_path):
    store = open_store(str(tmp_path / "a.db"))
    store.upsert([make_article(1, tags=["澎湃新闻新闻", "澎湃新闻", "芯片", "降息"], outlet="澎湃新闻")])
    build(store, sample_settings(tmp_path), tmp_path / "site")
    article = store.get(make_article(1).id)
    local = article.published.astimezone(BEIJING)
    page = lxml.html.fromstring((tmp_path / "site" / article.category / f"{local:%Y/%m/%d}" /
                                 f"{article.code}.html").read_bytes())
    assert [(a.text, unquote(a.get("href"))) for a in page.cssselect("p.tags a")] == [
        ("芯片", "/tag/芯片.html"), ("降息", "/tag/降息.html")]
    assert (tmp_path / "site/tag/澎湃新闻新闻.html").exists(), "its page stays, for old links"
    store.close()


def test_the_desktop_home_page_has_a_side_column_and_the_phone_keeps_one(browser, tmp_path):  # noqa: F811
    from tests.site.conftest import fill

    store = open_store(str(tmp_path / "a.db"))
    fill(store)
    store.mark_important([a.id for a in store.summaries(limit=3)])
    settings = sample_settings(tmp_path)
    settings.site.base_url = ""
    build(store, settings, tmp_path / "site")
    store.close()
    with static_site(tmp_path / "site") as site:
        for width, beside in ((1440, True), (390, False)):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(f"{site}/")
            news = page.locator("section.latest").bounding_box()
            side = page.locator("aside.side").bounding_box()
            assert page.locator("aside.side .side-important li").count() == 3
            if beside:
                assert side["x"] >= news["x"] + news["width"] and side["y"] < 900, "beside the news"
                article = page.locator("section.latest li a").first
                article.click()
                body = page.locator("article").bounding_box()
                assert body["width"] <= 46 * 17 + 1, "articles keep the reading measure"
            else:
                assert side["y"] > news["y"] + news["height"], "below the news on a phone"
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width + 1
            page.close()


def test_without_a_search_index_there_is_no_search_box_and_no_search_page(tmp_path):
    store = open_store(str(tmp_path / "a.db"))
    store.upsert([make_article(1)])
    settings = sample_settings(tmp_path)
    build(store, settings, tmp_path / "site")  # build.search off
    for name in ("index.html", "404.html", "live.html"):
        page = lxml.html.fromstring((tmp_path / "site" / name).read_bytes())
        assert not page.cssselect("form.search") and not page.cssselect('a[href$="/search.html"]'), name
    assert not (tmp_path / "site/search.html").exists()
    store.close()
