from __future__ import annotations

from datetime import datetime

from finews.extract import extract, extract_generic
from finews.model import BEIJING
from tests.conftest import DATA

EM = DATA / "eastmoney"


def test_modern_eastmoney_page():
    html = (EM / "article-202503123355721452.html").read_text(encoding="utf-8")
    page = extract(html, "https://finance.eastmoney.com/a/202503123355721452.html")
    assert page.title == '瀚海储能董事长："海外订单排产已至三季度"，全年出货目标上调'
    assert page.published == datetime(2025, 3, 12, 15, 28, tzinfo=BEIJING)
    assert page.outlet == "证券时报"
    assert "行情中心" not in page.title


def test_legacy_eastmoney_page():
    html = (EM / "article-legacy-202112083354900823.html").read_text(encoding="utf-8")
    page = extract(html, "http://finance.eastmoney.com/news/1354,202112083354900823.html")
    assert page.title.startswith("东岳新材发布公告称拟以自有资金") and page.title.endswith("12个月内")
    assert page.published == datetime(2021, 12, 8, 15, 15, tzinfo=BEIJING)
    assert page.outlet == "e公司"
    assert "东岳新材（605986）12月8日晚间公告" in page.body
    assert "DF358" not in page.body and "K图" not in page.body
    assert "<p></p>" not in page.body
    assert 'href="http://finance.eastmoney.com/news/1354,202112083352000001.html"' in page.body


def test_any_other_site_goes_to_trafilatura():
    paragraphs = "".join(f"<p>这是第{i}段正文，讲述储能行业的最新进展与市场变化。</p>" for i in range(12))
    html = (
        "<html><head><title>储能行业观察 - 示例网</title></head><body><nav>导航 首页 关于</nav>"
        f"<article><h1>储能行业观察</h1>{paragraphs}<script>alert(1)</script></article>"
        "<footer>版权所有</footer></body></html>"
    )
    page = extract_generic(html, "https://news.example.test/a/1.html")
    assert "第11段正文" in page.body
    assert "<script" not in page.body and "版权所有" not in page.body
