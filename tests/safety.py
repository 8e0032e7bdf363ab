"""One check for active content, used on every page, feed entry and API answer."""

from __future__ import annotations

import re

import lxml.html

DANGEROUS_URL = re.compile(r"^(javascript|data|vbscript|file):", re.I)
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "background", "data", "poster",
                  "xlink:href", "srcdoc"}
FORBIDDEN_ELEMENTS = ("iframe", "object", "embed", "frame", "frameset", "applet", "base", "svg",
                      "math", "template", "style")


def active_content(markup: str | bytes, *, page: bool = False, allow: tuple[str, ...] = ()) -> list[str]:
    """What in this HTML could run script or leave the site, as readable findings.

    ``page``: a whole page of the site, whose own stylesheet link, CSP meta tag, search
    form and site scripts are allowed.
    """
    if not markup.strip():
        return []
    doc = lxml.html.fromstring(markup) if page else lxml.html.fragment_fromstring(markup, create_parent="div")
    found = []
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        if tag == "script":
            src = element.get("src", "")
            if not (page and src.startswith("/static/") and not (element.text or "").strip()):
                found.append(f"<script src={src!r}>")
        if tag in FORBIDDEN_ELEMENTS and tag not in allow:
            found.append(f"<{tag}>")
        if tag == "form" and not (page and element.get("role") == "search"):
            found.append("<form>")
        equiv = element.get("http-equiv", "").lower()
        if tag == "meta" and equiv not in ("", "content-security-policy") and not (
            page and equiv == "refresh" and _same_site_refresh(element.get("content", ""))
        ):
            found.append(f"<meta http-equiv={element.get('http-equiv')}>")
        loads = {"stylesheet", "import", "preload", "prefetch", "modulepreload"}
        if tag == "link" and not (
            page and (element.get("href", "").startswith("/")
                      or not loads & set(element.get("rel", "").lower().split()))
        ):
            found.append(f"<link href={element.get('href')!r}>")
        for name, value in element.attrib.items():
            name = name.lower()
            if name.startswith("on"):
                found.append(f"{tag} {name}=")
            if name in URL_ATTRIBUTES:
                cleaned = re.sub(r"[\x00-\x20]+", "", value)
                for part in cleaned.split(","):
                    if DANGEROUS_URL.match(part):
                        found.append(f"{tag} {name}={value!r}")
            if name == "style" and re.search(r"expression|javascript:|url\(", value, re.I):
                found.append(f"{tag} style={value!r}")
    return found


def _same_site_refresh(content: str) -> bool:
    """The site's own redirect pages refresh to a path on the site, never elsewhere."""
    target = content.split("url=", 1)[-1].strip()
    return target.startswith("/") and not target.startswith("//")
