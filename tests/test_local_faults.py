"""Local faults: the disk full under the archive or the site, a read-only archive, the
output folder deleted during a build. Each gets a clear error and corrupts nothing.

The disk-full and read-only cases mount a small tmpfs (root only; skipped otherwise)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from finews.site.build import BuildOptions, SiteBuilder
from finews.store import open_store
from finews.transfer import jekyll
from tests.site.conftest import sample_settings
from tests.test_kill import _assert_same_tree

STYLE = jekyll.JekyllStyle(base_url="//news.example.com")


@contextmanager
def small_disk(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _finews(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "finews", *args], cwd=cwd, capture_output=True,
                          text=True, check=False)


def _posts(folder: Path, n: int, seed: int = 5) -> dict[str, tuple[str, str]]:
    from bench.corpus import articles

    folder.mkdir()
    expected = {}
    for article in articles(n, seed=seed):
        (folder / jekyll.post_file_name(article, STYLE.tz)).write_text(jekyll.format_post(article, STYLE))
        expected[article.code] = (article.title, article.body)
    return expected


def _assert_equals_a_clean_build(root: Path) -> None:
    with open_store(str(root / "a.db")) as store:
        options = BuildOptions(out=root / "clean", search=False, full=True)
        SiteBuilder(store, sample_settings(root), options).build()
    _assert_same_tree(root / "_site", root / "clean")


def test_disk_full_under_the_archive(tmp_path):
    expected = _posts(tmp_path / "_posts", 1500)
    with small_disk(tmp_path / "disk", "6m") as disk:
        result = _finews("--database", str(disk / "a.db"), "import", "jekyll", str(tmp_path / "_posts"),
                         "--batch-size", "100", cwd=tmp_path)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "full" in result.stderr.lower() and "Traceback" not in result.stderr, result.stderr
        with open_store(str(disk / "a.db")) as store:
            assert store.integrity_check() == "ok"
            stored = list(store.iter_articles())
            assert 0 < len(stored) < len(expected) and len(stored) % 100 == 0
            assert all((a.title, a.body) == expected[a.code] for a in stored)


def test_disk_full_under_the_site_then_a_good_build(tmp_path):
    from bench.corpus import articles

    with open_store(str(tmp_path / "a.db")) as store:
        store.upsert(articles(800, seed=6))
    (tmp_path / "finews.toml").write_text('[site]\nbase_url = "https://news.example.com"\n'
                                          '[archive]\ndatabase_url = "a.db"\n')
    with small_disk(tmp_path / "_site", "2m"):
        result = _finews("build", "--no-search", cwd=tmp_path)
        assert result.returncode == 1
        assert "No space left on device" in result.stderr and "Traceback" not in result.stderr, result.stderr
        subprocess.run(["mount", "-o", "remount,size=200m", str(tmp_path / "_site")], check=True)
        assert _finews("build", "--no-search", cwd=tmp_path).returncode == 0
        _assert_equals_a_clean_build(tmp_path)


def test_a_read_only_archive(tmp_path):
    _posts(tmp_path / "_posts", 50)
    assert _finews("--database", "a.db", "import", "jekyll", "_posts", cwd=tmp_path).returncode == 0
    readonly = tmp_path / "ro"
    readonly.mkdir()
    if subprocess.run(["mount", "--bind", str(tmp_path), str(readonly)], check=False).returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(readonly)], check=True)
        for args in (["import", "jekyll", "_posts"], ["stats"]):
            result = _finews("--database", str(readonly / "a.db"), *args, cwd=tmp_path)
            assert result.returncode == 1, (args, result.stdout)
            assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr, result.stderr
            assert "read-only" in result.stderr or "readonly" in result.stderr, result.stderr
    finally:
        subprocess.run(["umount", "-l", str(readonly)], check=False)
    with open_store(str(tmp_path / "a.db")) as store:
        assert store.integrity_check() == "ok" and store.count() == 50


def test_the_output_folder_deleted_during_a_build(tmp_path):
    from bench.corpus import articles

    with open_store(str(tmp_path / "a.db")) as store:
        store.upsert(articles(1500, seed=7))
    (tmp_path / "finews.toml").write_text('[site]\nbase_url = "https://news.example.com"\n'
                                          '[archive]\ndatabase_url = "a.db"\n')
    build = subprocess.Popen([sys.executable, "-m", "finews", "build", "--no-search"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (tmp_path / "_site" / "category").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    shutil.rmtree(tmp_path / "_site", ignore_errors=True)
    _, err = build.communicate(timeout=120)
    if build.returncode != 0:
        assert err.strip().startswith("Error: ") and "Traceback" not in err, err
    assert _finews("build", "--no-search", cwd=tmp_path).returncode == 0
    _assert_equals_a_clean_build(tmp_path)
