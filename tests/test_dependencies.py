"""A fresh install must reach every module the code imports, including those it imports
only inside functions (trafilatura, psycopg, uvicorn): a missing dependency fails
here, in CI, instead of on a user's first feed with full text."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

import finews

PACKAGE = Path(finews.__file__).parent


def imported_modules() -> set[str]:
    """Every absolute module name any finews file imports, at any depth of the code."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return {name for name in names if name != "__future__"}


@pytest.mark.parametrize("module", sorted(imported_modules()))
def test_every_imported_module_is_installed(module):
    importlib.import_module(module)


def test_every_finews_module_imports():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__main__.py":  # runs the CLI
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))


def test_trafilatura_reaches_its_own_lazy_imports():
    """trafilatura imports justext, and justext lxml.html.clean, only when it extracts:
    lxml 5.2 moved that module into the separate lxml_html_clean package."""
    from finews.extract import extract_generic

    page = "<html><body><article>" + "<p>一段足够长的正文，用来测试正文抽取是否能够正常工作。</p>" * 8
    page += "</article></body></html>"
    content = extract_generic(page, "http://127.0.0.1/a.html")
    assert "正文抽取" in content.body
    assert "lxml.html.clean" in sys.modules
