from __future__ import annotations

import pytest

from finews.clean import (
    clean_text,
    clean_title,
    publishable_html,
    sanitize_html,
    strip_bracket_title,
    text_to_html,
)

BASE = "https://finance.eastmoney.com/a/202503123355721452.html"


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
        '<iframe src="https://evil.test"></iframe>',
        '<svg onload="alert(1)"><circle/></svg>',
        '<form action="https://evil.test"><input name="q"></form>',
        '<p style="background:url(javascript:alert(1))">x</p>',
        '<object data="x.swf"></object>',
        '<meta http-equiv="refresh" content="0;url=https://evil.test">',
        '<base href="https://evil.test/">',
    ],
)
def test_hostile_markup_is_removed(hostile):
    cleaned = sanitize_html(f"<p>正文</p>{hostile}", BASE)
    lowered = cleaned.lower()
    for bad in ("<script", "onerror", "onload", "javascript:", "data:", "<iframe", "<form",
                "style=", "<object", "<meta", "<base", "<svg"):
        assert bad not in lowered, cleaned
    assert "正文" in cleaned


def test_urls_become_absolute_and_indents_go():
    cleaned = sanitize_html(
        '<p>　　段落<a href="/a/1.html">相关</a><img src="//img.test/x.jpg"></p><p>&nbsp;</p>', BASE
    )
    assert cleaned == (
        '<p>段落<a href="https://finance.eastmoney.com/a/1.html" '
        'rel="noopener noreferrer nofollow">相关</a><img alt="" src="https://img.test/x.jpg"></p>'
    )


def test_titles_and_text():
    assert clean_title("瀚海储能(<em>301987</em>)&amp;&quot;x&quot;\n  y") == '瀚海储能(301987)&"x" y'
    assert clean_text("　　第一段\r\n\r\n　　第二段&hellip;") == "第一段\n第二段…"
    assert strip_bracket_title("【标题】正文") == "正文"
    assert text_to_html("a&lt;b&gt; <em>c</em>\nd") == "<p>a&lt;b&gt; c</p><p>d</p>"
    assert publishable_html("第一段\n第二段 A&B") == "<p>第一段</p><p>第二段 A&amp;B</p>"


def test_links_without_an_address_carry_no_rel_and_images_always_have_alt():
    """The Nu HTML Checker's two errors in real bodies: nh3 put ``rel`` on anchors whose
    ``href`` it removed, and source images came without ``alt``."""
    cleaned = sanitize_html(
        '<p><a href="javascript:alert(1)">一</a><a title="t">二</a><a href="">三</a>'
        '<a href="https://a.test/">四</a><img src="https://a.test/x.png">'
        '<img src="https://a.test/y.png" alt="图表"></p>')
    assert cleaned == (
        '<p><a>一</a><a title="t">二</a><a>三</a>'
        '<a href="https://a.test/" rel="noopener noreferrer nofollow">四</a>'
        '<img alt="" src="https://a.test/x.png"><img src="https://a.test/y.png" alt="图表"></p>')
