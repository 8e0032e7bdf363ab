"""The finews command line: parse arguments, call the library, print results."""

from __future__ import annotations

import asyncio
import html
import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from finews import __version__
from finews.collect import Collector
from finews.config import CONFIG_NAME, DEFAULT_CONFIG, Settings, load_settings, parse_duration
from finews.errors import BadRequest, FinewsError
from finews.run import RunLoop, archive_lock
from finews.serve.queries import MAX_LIMIT, Archive, Filters
from finews.store import Store, open_store
from finews.store.base import SourceHealth
from finews.transfer import jekyll


class FinewsGroup(click.Group):
    """Turns the errors finews expects into one clear line and exit code 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FinewsError as exc:
            _fail(str(exc))
        except sqlite3.DatabaseError as exc:
            _fail(f"archive error: {exc}. Check the archive with 'sqlite3 FILE \"PRAGMA integrity_check\"'")
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            _fail(f"{exc.strerror or exc}{where}")


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _console() -> Console:
    return Console(stderr=True)


@contextmanager
def _progress(label: str, total: int | None) -> Iterator[Progress]:
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_console(),
        transient=True,
    )
    with progress:
        progress.add_task(label, total=total)
        yield progress


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def _open(ctx: click.Context) -> Store:
    settings = _settings(ctx)
    return open_store(settings.archive_url, settings.categories)


def _style(settings: Settings) -> jekyll.JekyllStyle:
    return jekyll.JekyllStyle(
        base_url=settings.site.base_url,
        tz=settings.tz,
        rolling_categories=frozenset(settings.jekyll.rolling_categories),
        category_links=dict(settings.jekyll.category_links),
    )


@click.group(cls=FinewsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path),
    help=f"Config file (default: ./{CONFIG_NAME} when it exists, else built-in defaults).",
)
@click.option(
    "--database", "database_url", metavar="URL",
    help="Archive to use: a SQLite file path (overrides archive.database_url).",
)
@click.version_option(__version__, prog_name="finews")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, database_url: str | None) -> None:
    """finews keeps a complete archive of Chinese financial news and publishes it.

    Every setting has a default; `finews init` writes a commented finews.toml.
    """
    try:
        settings = load_settings(config_path)
    except FinewsError as exc:
        _fail(str(exc))
    if database_url:
        settings.archive.database_url = (
            database_url if "://" in database_url else str(Path(database_url).absolute())
        )
    ctx.obj = {"settings": settings, "config_path": config_path}


@cli.command()
@click.argument("path", type=click.Path(path_type=Path), default=CONFIG_NAME)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a commented default config file (./finews.toml)."""
    if path.exists() and not force:
        raise FinewsError(f"{path} already exists (use --force to overwrite it)")
    path.write_text(DEFAULT_CONFIG, encoding="utf-8")
    click.echo(f"Wrote {path}. Edit it, then run 'finews stats' to check it.")


@cli.group(name="import", cls=FinewsGroup)
def import_() -> None:
    """Import articles from another site's files."""


@import_.command(name="jekyll")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--batch-size", default=1000, show_default=True, help="Articles per transaction.")
@click.pass_context
def import_jekyll(ctx: click.Context, paths: tuple[Path, ...], batch_size: int) -> None:
    """Import Jekyll posts: _posts folders (searched recursively) or single files.

    A post that cannot be read is reported with its file name and skipped; re-running is
    safe: known articles are updated in place, never duplicated.
    """
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FinewsError(f"no such file or folder: {', '.join(missing)}")
    settings = _settings(ctx)
    total = sum(1 for _ in jekyll.find_posts(list(paths)))
    with _open(ctx) as store, _progress("Importing", total) as progress:
        report = jekyll.import_posts(
            store, list(paths), _style(settings), batch_size=batch_size,
            on_file=lambda _p: progress.advance(progress.task_ids[0]),
        )
    for problem in report.skipped:
        click.echo(f"skipped {problem}", err=True)
    click.echo(f"Imported: {report.summary()}")
    if report.skipped and report.read == len(report.skipped):
        sys.exit(1)


@cli.group(name="export", cls=FinewsGroup)
def export() -> None:
    """Export the archive in another site's format."""


@export.command(name="jekyll")
@click.argument("out", type=click.Path(path_type=Path))
@click.pass_context
def export_jekyll(ctx: click.Context, out: Path) -> None:
    """Write every article as a Jekyll post in OUT (e.g. a site's _posts folder).

    The format is exactly the original site's; links use site.base_url.
    """
    settings = _settings(ctx)
    with _open(ctx) as store, _progress("Exporting", store.count()) as progress:
        written = jekyll.export_posts(
            store, out, _style(settings),
            on_file=lambda _p: progress.advance(progress.task_ids[0]),
        )
    click.echo(f"Exported {written} posts to {out}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Show the archive: articles per category, date range and size."""
    settings = _settings(ctx)
    with _open(ctx) as store:
        counts = store.category_counts()
        total = store.count()
        span = store.date_range()
        size = store.size_bytes()
        where = store.archive.redacted
    tz = settings.tz
    first, last = (
        (span[0].astimezone(tz).isoformat(), span[1].astimezone(tz).isoformat())
        if span else (None, None)
    )
    if as_json:
        click.echo(json.dumps({
            "archive": where, "articles": total, "first": first, "last": last,
            "size_bytes": size,
            "categories": [{"slug": c.slug, "outlet": c.outlet, "articles": c.count} for c in counts],
        }, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{total} articles in {where}")
    table.add_column("category")
    table.add_column("outlet")
    table.add_column("articles", justify="right")
    for c in counts:
        table.add_row(c.slug, c.outlet, str(c.count))
    console = Console()
    console.print(table)
    console.print(f"From {first or '-'} to {last or '-'}; {size / 1e6:.1f} MB on disk.")


def _pick_sources(settings: Settings, names: tuple[str, ...]) -> list:
    by_name = {s.name: s for s in settings.sources}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        known = ", ".join(by_name) or "none configured"
        raise FinewsError(f"unknown source {', '.join(unknown)} (configured: {known})")
    if names:
        return [by_name[n] for n in names]
    return [s for s in settings.sources if s.enabled]


def _build_options(settings: Settings, out: Path | None, full: bool, search: bool | None):
    from finews.site.build import BuildOptions

    b = settings.build
    return BuildOptions(
        out=out or settings.path(b.out), full=full,
        search=b.search if search is None else search, keep_days=b.keep_days,
        keep_articles=b.keep_articles, refresh_minutes=b.refresh_minutes,
        theme=settings.path(b.theme) if b.theme else None, per_page=b.per_page,
    )


def _publish(store: Store, settings: Settings, options) -> str:
    from finews.site.build import SiteBuilder

    return SiteBuilder(store, settings, options).build().summary()


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), help="Output folder (default: build.out).")
@click.option("--full", is_flag=True, help="Rebuild every page, not only what changed.")
@click.option("--search/--no-search", default=None,
              help="Build the Pagefind search index (default: build.search).")
@click.pass_context
def build(ctx: click.Context, out: Path | None, full: bool, search: bool | None) -> None:
    """Build the static site from the archive.

    Incremental by default: only pages whose inputs changed since the last build are
    rendered and written. Files are replaced atomically, so the site keeps working while
    it is rebuilt and after an interrupted build.
    """
    settings = _settings(ctx)
    options = _build_options(settings, out, full, search)
    with _open(ctx) as store, _progress("Building", None):
        summary = _publish(store, settings, options)
    click.echo(f"Built {options.out}: {summary}")


def _report_table(reports: list) -> Table:
    table = Table(title="Fetch summary")
    for column in ("source", "listed", "new", "updated", "unchanged", "failed", "seconds"):
        table.add_column(column, justify="left" if column == "source" else "right")
    table.add_column("status")
    for r in reports:
        status = "[green]ok[/]" if r.ok else f"[red]failed[/]: {r.error}"
        table.add_row(
            r.name, str(r.listed), str(r.new), str(r.updated), str(r.unchanged), str(r.failed),
            f"{r.seconds:.1f}", status,
        )
    return table


def _print_problems(reports: list, limit: int = 10) -> None:
    for r in reports:
        if r.gap:
            click.echo(f"{r.name}: {r.gap}", err=True)
        for problem in r.problems[:limit]:
            click.echo(f"{r.name}: {problem}", err=True)
        if len(r.problems) > limit:
            click.echo(f"{r.name}: … and {len(r.problems) - limit} more", err=True)


@cli.command()
@click.argument("names", nargs=-1, metavar="[SOURCE]...")
@click.option("-v", "--verbose", is_flag=True, help="List every skipped item, not the first ten.")
@click.pass_context
def fetch(ctx: click.Context, names: tuple[str, ...], verbose: bool) -> None:
    """Fetch every enabled source once (or only the named ones).

    Prints a summary per source. Exit code 0 when every source succeeded, 3 when any failed
    (the others are stored all the same), 1 on a configuration or archive error.
    """
    settings = _settings(ctx)
    chosen = _pick_sources(settings, names)
    with _open(ctx) as store, _progress("Fetching", len(chosen)) as progress:
        collector = Collector(store, settings)
        reports = asyncio.run(
            collector.run(chosen, on_done=lambda _r: progress.advance(progress.task_ids[0]))
        )
    Console().print(_report_table(reports))
    _print_problems(reports, limit=10**9 if verbose else 10)
    new = sum(r.new for r in reports)
    failed = [r.name for r in reports if not r.ok]
    click.echo(f"{new} new articles from {len(reports)} sources; {len(failed)} failed.")
    if collector.skipped:
        click.echo(f"Skipped, being fetched by another collector: {', '.join(collector.skipped)}")
    if failed:
        sys.exit(3)


@cli.command()
@click.option("--every", metavar="DURATION",
              help="Poll every source this often (e.g. 5m), instead of its own interval.")
@click.option("--after", "after_cmd", metavar="CMD",
              help="Shell command to run after each pass that stored something "
                   "(e.g. 'git add -A && git commit -m news && git push').")
@click.option("--passes", type=int, default=0, help="Stop after this many passes (0: never).")
@click.option("--build/--no-build", "rebuild", default=True,
              help="Rebuild the site (incrementally) after each pass that stored something.")
@click.option("--serve", "serve_at", is_flag=False, flag_value="127.0.0.1:8000", default=None,
              metavar="[HOST:PORT]",
              help="Also serve the site and the API while running (default 127.0.0.1:8000).")
@click.pass_context
def run(ctx: click.Context, every: str | None, after_cmd: str | None, passes: int,
        rebuild: bool, serve_at: str | None) -> None:
    """Keep the archive current: fetch the sources that are due, again and again.

    A failing source backs off exponentially (up to fetch.max_backoff) and never stops the
    others. SIGINT or SIGTERM finishes the current write and exits cleanly. Only one
    `finews run` may use an archive at a time.
    """
    settings = _settings(ctx)
    if every:
        seconds = parse_duration(every)
        for source in settings.sources:
            source.interval = f"{seconds}s"
    with _open(ctx) as store, archive_lock(settings.archive_url):
        options = _build_options(settings, None, False, None)
        publish = (lambda: click.echo(_publish(store, settings, options))) if rebuild else None
        loop = RunLoop(store, settings, after=after_cmd, max_passes=passes, publish=publish)
        loop.on_pass = lambda reports: _print_pass(reports)
        server = None
        if serve_at:
            from finews.serve.app import BackgroundServer, create_app

            host, port = _host_port(serve_at)
            if publish:
                publish()
            server = BackgroundServer(create_app(settings, options.out), host, port)
            server.start()
            click.echo(f"Serving {options.out} and the API at http://{host}:{server.port}/")
        try:
            loop.run()
        finally:
            if server:
                server.stop()
    click.echo("Stopped.")


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise FinewsError(f"--serve {value!r}: give HOST:PORT, e.g. 127.0.0.1:8000")
    return host or "127.0.0.1", int(port)


def _print_pass(reports: list) -> None:
    if not reports:
        return
    stamp = datetime.now().strftime("%H:%M:%S")
    parts = [f"{r.name} +{r.new}" + ("" if r.ok else " FAILED") + (" GAP" if r.gap else "")
             for r in reports]
    click.echo(f"[{stamp}] " + ", ".join(parts))
    _print_problems([r for r in reports if not r.ok], limit=3)


@cli.command(name="sources")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def sources_(ctx: click.Context, as_json: bool) -> None:
    """Show the configured sources and their health."""
    settings = _settings(ctx)
    with _open(ctx) as store:
        health = {h.name: h for h in store.source_health()}
    rows = []
    for source in settings.sources:
        h = health.get(source.name, SourceHealth(source.name))
        rows.append({
            "name": source.name, "kind": source.kind, "enabled": source.enabled,
            "interval": source.interval, "last_success": _when(h.last_success),
            "last_error": h.last_error if h.consecutive_failures else "",
            "consecutive_failures": h.consecutive_failures,
            "items_last_run": h.items_last_run, "next_due": _when(h.next_due), "gap": h.gap,
        })
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="Sources")
    for column in ("name", "kind", "every", "last success", "failures", "items", "next",
                   "last error or gap"):
        table.add_column(column)
    for row in rows:
        name = row["name"] if row["enabled"] else f"{row['name']} (off)"
        table.add_row(
            name, row["kind"], row["interval"], row["last_success"] or "never",
            str(row["consecutive_failures"]), str(row["items_last_run"]), row["next_due"] or "now",
            " ".join(filter(None, (row["last_error"], row["gap"]))),
        )
    Console().print(table)


@cli.command()
@click.option("--to", "target_url", required=True, metavar="URL",
              help="The archive to copy into: postgresql://user@host/db or a SQLite file path.")
@click.option("--batch-size", default=1000, show_default=True, help="Articles per transaction.")
@click.pass_context
def migrate(ctx: click.Context, target_url: str, batch_size: int) -> None:
    """Copy the whole archive to another backend (SQLite <-> PostgreSQL).

    The copy keeps ids, times, aliases, recorded changes and source health, resumes where
    an interrupted run stopped, and ends by comparing the content hash of every article.
    """
    from finews.transfer.migrate import migrate as copy_archive

    settings = _settings(ctx)
    if "://" not in target_url:
        target_url = str(Path(target_url).absolute())
    if target_url == settings.database_url:
        raise FinewsError("--to names the archive being copied; give another one")
    with _open(ctx) as source, open_store(target_url, settings.categories) as target:
        total = source.count()
        with _progress("Migrating", total) as progress:
            already = target.count()
            progress.update(progress.task_ids[0], completed=already)
            report = copy_archive(
                source, target, batch_size=batch_size,
                on_batch=lambda n: progress.advance(progress.task_ids[0], n),
            )
    resumed = f", resumed after {already} already there" if already else ""
    click.echo(f"Copied {report.copied} of {report.articles} articles{resumed}; "
               "verified: every article and content hash matches.")


@cli.command()
@click.argument("query")
@click.option("--outlet", help="Only this outlet (its name, e.g. 南方都市报, or its slug).")
@click.option("--tag", help="Only articles with this tag.")
@click.option("--since", metavar="DATE", help="From this day (YYYY-MM-DD) or ISO 8601 time.")
@click.option("--until", metavar="DATE", help="Up to and including this day, or before this time.")
@click.option("--limit", default=20, show_default=True, help=f"At most this many (1-{MAX_LIMIT}).")
@click.option("--ranked", is_flag=True, help="Best matches first (headline hits, then recency).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def search(ctx: click.Context, query: str, outlet: str | None, tag: str | None, since: str | None,
           until: str | None, limit: int, ranked: bool, as_json: bool) -> None:
    """Find the articles that contain QUERY, newest first.

    Any Chinese text of any length matches exactly where it occurs (芯片, 降息, 央); words
    separated by spaces must all occur. Exit code 0 with matches, 4 with none.
    """
    settings = _settings(ctx)
    filters = Filters(outlet=outlet, tag=tag, since=since, until=until, q=query, limit=limit,
                      ranked=ranked)
    with _open(ctx) as store:
        try:
            result = Archive(store, settings).search(filters)
        except BadRequest as exc:
            raise FinewsError(f"--{exc.field}: {exc.message}" if exc.field != "q" else exc.message) from None
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        console = Console(highlight=False)
        for hit in result["articles"]:
            when = hit["published"][:16].replace("T", " ")
            console.print(f"[bold]{escape(hit['title'])}[/]  [dim]{when} · {escape(hit['outlet'])}[/]")
            console.print("  " + _marked(hit["snippet"]))
            console.print(f"  [dim]{hit['page']}[/]")
        more = " (more: raise --limit)" if result["next_cursor"] else ""
        click.echo(f"{len(result['articles'])} articles{more}")
    if not result["articles"]:
        sys.exit(4)


def _marked(snippet: str) -> str:
    """The API's HTML snippet as rich markup: hits bold, entities decoded."""
    text = escape(html.unescape(snippet.replace("<mark>", "\x01").replace("</mark>", "\x02")))
    return text.replace("\x01", "[bold yellow]").replace("\x02", "[/]")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; use 0.0.0.0 only behind a firewall or a reverse proxy.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes (2 on a 2-core machine for the most requests per second).")
@click.option("--out", type=click.Path(path_type=Path), help="Site folder (default: build.out).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, out: Path | None) -> None:
    """Serve the built site and the JSON API (/api/articles, /api/search, /api/sources;
    the schema at /api/openapi.json) until Ctrl-C."""
    from finews.serve.app import serve as run_server

    settings = _settings(ctx)
    site = out or settings.path(settings.build.out)
    if not (site / "index.html").exists():
        click.echo(f"warning: {site} has no index.html yet; run 'finews build' first", err=True)
    _open(ctx).close()
    click.echo(f"Serving {site} and the API at http://{host}:{port}/ (Ctrl-C stops)")
    run_server(settings, site, host=host, port=port, workers=workers, config_path=ctx.obj["config_path"])


@cli.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port of the demo site (0: any free port).")
@click.option("--dir", "folder", type=click.Path(path_type=Path),
              help="Keep the demo archive and site here (default: a temporary folder).")
@click.option("--every", default=5, show_default=True, type=click.IntRange(1, 3600),
              help="Seconds between new articles on the mock server and between fetches.")
@click.option("--search/--no-search", default=True, help="Build the Pagefind search index.")
def demo(port: int, folder: Path | None, every: int, search: bool) -> None:
    """Try finews offline: a mock news server publishes articles, finews collects them,
    builds the site and serves it. Open the printed URL; Ctrl-C stops."""
    import tempfile

    from finews.demo import Demo

    with tempfile.TemporaryDirectory(prefix="finews-demo-") as tmp:
        root = folder or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        runner = Demo(root, host="127.0.0.1", port=port, interval=every, search=search)

        def ready(d: Demo) -> None:
            click.echo(f"finews demo: open {d.url}  (API: {d.url}api/articles; Ctrl-C stops)")
            click.echo(f"archive and site in {root}")

        runner.run(ready, _print_pass)
    click.echo("Stopped.")


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def main() -> None:
    cli(prog_name="finews")
