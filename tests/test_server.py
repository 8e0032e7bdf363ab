"""`finews serve`: a real uvicorn server on a free port, queried with httpx and raw sockets."""

from __future__ import annotations

import gzip
import socket
import time
from datetime import datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finews.model import BEIJING
from finews.serve.api import POSITION_TTL
from finews.serve.app import BackgroundServer, create_app
from finews.serve.openapi import openapi_schema
from finews.serve.static import safe_relative_path
from finews.store import open_store
from finews.store.base import SourceHealth
from tests.conftest import make_article
from tests.site.conftest import build, fill, sample_settings


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    (root / "secret.txt").write_text("root:x:0:0 not for the web")
    store = open_store(str(root / "archive.db"))
    fill(store)
    store.save_source_health(SourceHealth("eastmoney-724", last_run=1, last_success=1))
    config = sample_settings(root)
    config.archive.database_url = str(root / "archive.db")
    build(store, config, root / "site")
    server = BackgroundServer(create_app(config, root / "site"), "127.0.0.1", 0)
    server.start()
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
        yield client, store, server.port
    server.stop()
    store.close()


def raw_get(port: int, target: bytes) -> tuple[int, bytes]:
    """A request exactly as written, without the client normalising the path."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


def test_pages_have_types_etags_and_caching(served):
    client, _, _ = served
    home = client.get("/")
    assert home.status_code == 200
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    assert home.headers["cache-control"] == "no-cache"
    assert home.headers["x-content-type-options"] == "nosniff"
    etag = home.headers["etag"]
    again = client.get("/", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    css = client.get("/static/finews.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert "max-age" in css.headers["cache-control"]
    head = client.head("/")
    assert head.status_code == 200 and head.content == b""
    assert client.post("/").status_code == 405


def test_gzip_when_asked(served):
    client, _, port = served
    status, data = raw_get(port, b"/ HTTP/1.1\r\nAccept-Encoding: gzip\r\nX: y")
    head, _, body = data.partition(b"\r\n\r\n")
    assert status == 200 and b"content-encoding: gzip" in head.lower()
    assert gzip.decompress(body) == client.get("/").content
    plain = client.get("/", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers


def test_article_pages_and_clean_urls(served):
    client, _, _ = served
    first = client.get("/api/articles?limit=1").json()["articles"][0]
    page = client.get(first["page"])
    assert page.status_code == 200 and first["title"].split(" ")[0] in page.text
    assert client.get(first["page"].removesuffix(".html")).status_code == 200


@pytest.mark.parametrize("target", [
    b"/../secret.txt", b"/../../../../etc/passwd", b"/%2e%2e/secret.txt", b"/%2E%2E/%2e%2e/etc/passwd",
    b"/..%2fsecret.txt", b"/static/..%2f..%2fsecret.txt", b"//etc/passwd", b"/%00", b"/index.html%00.txt",
    b"/..\\secret.txt", b"/%5c..%5csecret.txt", b"/C:/Windows/win.ini", b"/~root/.bashrc",
    b"/static/../../secret.txt", b"/api/../../secret.txt", b"/.finews/manifest.sqlite",
])
def test_path_traversal_is_a_404(served, target):
    _, _, port = served
    status, data = raw_get(port, target)
    assert status in (400, 404), data[:200]
    assert b"root:x" not in data


def test_safe_relative_path():
    assert safe_relative_path("/") == "index.html"
    assert safe_relative_path("/category/") == "category/index.html"
    assert safe_relative_path("/a/b.html") == "a/b.html"
    for bad in ("/../x", "/a/../../x", "/a\x00b", "relative", "/a\\..\\b", "/c:/x"):
        assert safe_relative_path(bad) is None


def test_missing_page_is_the_404_page(served):
    client, _, _ = served
    response = client.get("/no/such/page.html")
    assert response.status_code == 404
    assert "找不到这个页面" in response.text and response.headers["content-type"].startswith("text/html")


def test_articles_paginate_with_a_cursor_and_see_every_article_once(served):
    client, store, _ = served
    seen, cursor = [], None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/articles", params=params).json()
        seen += [a["id"] for a in page["articles"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == store.count()
    times = [a.published for a in store.summaries(limit=store.count())]
    assert times == sorted(times, reverse=True)


def test_article_filters(served):
    client, _, _ = served
    by_name = client.get("/api/articles", params={"outlet": "上海证券报", "limit": 500}).json()["articles"]
    by_slug = client.get("/api/articles", params={"outlet": "shanghaizhengquanbao", "limit": 500}).json()
    assert by_name and by_name == by_slug["articles"]
    assert {a["outlet"] for a in by_name} == {"上海证券报"}
    tagged = client.get("/api/articles", params={"tag": "降息", "limit": 500}).json()["articles"]
    assert tagged and all("降息" in a["tags"] for a in tagged)
    day = client.get("/api/articles", params={"since": "2025-03-11", "until": "2025-03-11"}).json()
    assert day["articles"] and all(a["published"].startswith("2025-03-11") for a in day["articles"])
    found = client.get("/api/articles", params={"q": "芯片", "limit": 500}).json()["articles"]
    assert found and all("芯片" in a["title"] + a["snippet"] for a in found)


@pytest.mark.parametrize("query", [
    "limit=0", "limit=501", "limit=abc", "limit=-1", "limit=99999999999999", "since=yesterday",
    "until=2025-13-40", "cursor=abc", "outlet=不存在的报纸", "order=best", "colour=red", "q=%22%22",
])
def test_bad_parameters_get_a_json_400(served, query):
    client, _, _ = served
    path = "/api/search" if "order" in query or "q=" in query else "/api/articles"
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] and "field" in body


def test_one_article_and_unknown_ids(served):
    client, store, _ = served
    article = store.summaries(limit=1)[0]
    data = client.get(f"/api/articles/{article.id}").json()
    assert data["id"] == article.id and data["html"]
    hostile = next(a for a in store.summaries(limit=100) if "script" in a.title)
    data = client.get(f"/api/articles/{hostile.id}").json()
    assert "<script" not in data["html"] and "onerror" not in data["html"]
    assert client.get("/api/articles/000").status_code == 404
    assert client.get("/api/articles/..%2F..%2Fetc").status_code == 404
    assert client.get("/api/nothing").status_code == 404


def test_search_endpoint(served):
    client, _, _ = served
    result = client.get("/api/search", params={"q": "芯片", "limit": 5}).json()
    assert len(result["articles"]) == 5 and result["next_cursor"]
    assert all("<mark>芯片</mark>" in a["snippet"] or "芯片" in a["title"] for a in result["articles"])
    ranked = client.get("/api/search", params={"q": "芯片", "order": "relevance"}).json()
    assert ranked["articles"] and ranked["next_cursor"] is None
    for q in ['芯片" OR "降息', "NEAR(芯 片)", "芯*", "title:芯片"]:
        assert client.get("/api/search", params={"q": q}).status_code == 200
    assert client.get("/api/search").status_code == 400


def test_sources_and_schema(served):
    client, _, _ = served
    sources = client.get("/api/sources").json()
    assert {s["name"] for s in sources} >= {"eastmoney-724"}
    assert next(s for s in sources if s["name"] == "eastmoney-724")["healthy"] is True
    schema = client.get("/api/openapi.json").json()
    assert schema == openapi_schema() and schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/articles", "/api/articles/{article_id}", "/api/articles/{article_id}/revisions",
        "/api/search", "/api/sources", "/api/stocks",
        "/api/stocks/{secid}", "/api/stories/{story_id}", "/api/search.atom", "/api/watch/{name}",
        "/api/live",
    }


def test_api_sees_new_articles_and_revalidates(served):
    client, store, _ = served
    before = client.get("/api/articles?limit=1")
    etag = before.headers["etag"]
    assert client.get("/api/articles?limit=1", headers={"if-none-match": etag}).status_code == 304
    fresh = make_article(900, title="刚到的快讯", published=datetime.now(BEIJING) + timedelta(days=1))
    store.upsert([fresh])
    time.sleep(POSITION_TTL + 0.05)
    after = client.get("/api/articles?limit=1", headers={"if-none-match": etag})
    assert after.status_code == 200 and after.json()["articles"][0]["title"] == "刚到的快讯"


PARAMS = st.dictionaries(
    st.sampled_from(["outlet", "tag", "since", "until", "q", "limit", "cursor", "order", "x"]),
    st.one_of(st.text(max_size=30), st.integers(-5, 1000).map(str), st.sampled_from(
        ["2025-03-11", "2025-03-11T10:00:00+08:00", "芯片", "上海证券报", "\"", "*", "NEAR"])),
    max_size=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=PARAMS, path=st.sampled_from(["/api/articles", "/api/search"]))
def test_any_parameters_get_json_and_never_a_server_error(served, params, path):
    client, _, _ = served
    response = client.get(path, params=params)
    assert response.status_code in (200, 400), (params, response.text)
    body = response.json()
    if response.status_code == 200:
        assert isinstance(body["articles"], list) and "next_cursor" in body
        assert len(body["articles"]) <= 500
    else:
        assert body["error"]


def test_stories_in_the_api(served):
    client, store, _ = served
    from tests.stories_eval import labelled_articles

    articles, truth = labelled_articles()
    copies = [a for a in articles if truth[a.code] == "t2-1"]
    store.upsert(copies)
    time.sleep(POSITION_TTL + 0.05)  # the API looks at the archive's log this often
    grouped = client.get("/api/articles", params={"group": "story", "limit": 500}).json()["articles"]
    flat = client.get("/api/articles", params={"limit": 500}).json()["articles"]
    ids = {a.id for a in copies}
    assert sum(a["id"] in ids for a in flat) == len(copies)
    (item,) = [a for a in grouped if a["id"] in ids]
    assert {c["id"] for c in item["copies"]} == ids - {item["id"]}
    assert all(not a["copies"] for a in grouped if a is not item)
    detail = client.get(f"/api/articles/{item['id']}").json()
    assert detail["story"]["id"] == item["story"] and len(detail["story"]["articles"]) == len(copies)
    story = client.get(f"/api/stories/{item['story']}").json()
    assert [a["id"] for a in story["articles"]] == [a["id"] for a in detail["story"]["articles"]]
    assert len(story["outlets"]) == len({a.outlet for a in copies})
    assert client.get("/api/stories/12345").status_code == 404
    assert client.get("/api/articles", params={"group": "outlet"}).status_code == 400
    found = client.get("/api/search", params={"q": "回购", "group": "story", "limit": 100}).json()["articles"]
    assert sum(a["id"] in ids for a in found) == 1
