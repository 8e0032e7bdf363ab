"""The finews command line: arguments in, a library call, results out; nothing else.

Every command imports what it uses inside its own body, so that `finews --help` or a
`finews build` from cron with nothing to do loads neither the collector nor the server.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from finews import __version__
from finews.errors import FinewsError

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.text import Text

    from finews.config import Settings
    from finews.store import Store

CONFIG_HELP = "Config file (default: ./finews.toml when it exists, else built-in defaults)."
DATABASE_HELP = ("Archive to use: a SQLite file, sqlite:///path or postgresql://user@host/db "
                 "(overrides archive.database_url).")


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """--config and --database may stand before or after the command name: both land in
    the root context, the one after the name winning."""
    if value is not None:
        ctx.find_root().meta[f"finews.{param.name}"] = value
    return value


def _archive_options() -> list[click.Option]:
    return [
        click.Option(["-c", "--config"], type=click.Path(path_type=Path), expose_value=False,
                     callback=_remember, help=CONFIG_HELP),
        click.Option(["--database"], metavar="URL", expose_value=False, callback=_remember,
                     help=DATABASE_HELP),
    ]


class FinewsCommand(click.Command):
    """A command that takes --config and --database after its name too."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.params.extend(_archive_options())


class FinewsGroup(click.Group):
    """Turns the errors finews expects into one clear line and exit code 1."""

    command_class = FinewsCommand
    group_class = type

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FinewsError as exc:
            _fail(str(exc))
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            _fail(f"{exc.strerror or exc}{where}")
        except Exception as exc:
            from finews.store import driver_error_message

            message = driver_error_message(exc)
            if message is None:
                raise
            _fail(message)


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


class _Unseen:
    """The progress of a command whose stderr is no terminal (cron, a pipe): rich would
    draw nothing there, so it is not loaded (a fifth of a build with nothing to do)."""

    task_ids = (0,)

    def advance(self, task: int, advance: float = 1) -> None:
        pass

    def update(self, task: int, **fields: Any) -> None:
        pass


@contextmanager
def _progress(label: str, total: int | None) -> Iterator[Progress | _Unseen]:
    if not sys.stderr.isatty():
        yield _Unseen()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        progress.add_task(label, total=total)
        yield progress


def _settings(ctx: click.Context) -> Settings:
    """The command's settings, loaded once, when a command first needs them."""
    from finews.app import load_settings

    meta = ctx.find_root().meta
    if "finews.settings" not in meta:
        meta["finews.settings"] = load_settings(meta.get("finews.config"), meta.get("finews.database"))
    return meta["finews.settings"]


def _open(ctx: click.Context) -> Store:
    """The archive, with its search index complete: an archive from an older finews is
    indexed first, resumably, with a progress bar."""
    from finews.app import open_archive

    store = open_archive(_settings(ctx))
    if not store.search_ready:
        backlog = store.search_backlog()
        with _progress("Indexing for search", backlog) as progress:
            store.build_search_index(lambda n: progress.advance(progress.task_ids[0], n))
        click.echo(f"Indexed {backlog:,} articles for search.", err=True)
    return store


def _print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


@click.group(cls=FinewsGroup, context_settings={"help_option_names": ["-h", "--help"]},
             params=_archive_options())
@click.version_option(__version__, prog_name="finews")
def cli() -> None:
    """finews keeps a complete archive of Chinese financial news and publishes it.

    Every setting has a default; `finews init` writes a commented finews.toml. Every
    command takes --config and --database, before or after its name.

    Example: finews --database news.db stats
    """


@cli.command()
@click.argument("path", type=click.Path(path_type=Path), default="finews.toml")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a commented default config file (./finews.toml).

    Example: finews init && finews stats
    """
    from finews.config import DEFAULT_CONFIG

    if path.exists() and not force:
        raise FinewsError(f"{path} already exists (use --force to overwrite it)")
    path.write_text(DEFAULT_CONFIG, encoding="utf-8")
    click.echo(f"Wrote {path}. Edit it, then run 'finews stats' to check it.")


@cli.group(name="import", cls=FinewsGroup)
def import_() -> None:
    """Import articles from another site's files.

    Example: finews import jekyll path/to/site/_posts
    """


@import_.command(name="jekyll")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--batch-size", default=1000, show_default=True, help="Articles per transaction.")
@click.pass_context
def import_jekyll(ctx: click.Context, paths: tuple[Path, ...], batch_size: int) -> None:
    """Import Jekyll posts: _posts folders (searched recursively) or single files.

    A post that cannot be read is reported with its file name and skipped; re-running is
    safe: known articles are updated in place, never duplicated.

    Example: finews import jekyll site/_posts site/drafts/2021-12-08-1.md
    """
    from finews.app import jekyll_style
    from finews.transfer import jekyll

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FinewsError(f"no such file or folder: {', '.join(missing)}")
    settings = _settings(ctx)
    total = sum(1 for _ in jekyll.find_posts(list(paths)))
    with _open(ctx) as store, _progress("Importing", total) as progress:
        report = jekyll.import_posts(
            store, list(paths), jekyll_style(settings), batch_size=batch_size,
            on_file=lambda _p: progress.advance(progress.task_ids[0]),
        )
    for problem in report.skipped:
        click.echo(f"skipped {problem}", err=True)
    click.echo(f"Imported: {report.summary()}")
    if report.skipped and report.read == len(report.skipped):
        sys.exit(1)


@cli.group(name="export", cls=FinewsGroup)
def export() -> None:
    """Export the archive: as Jekyll posts, or for analysis as JSON lines, CSV or Parquet.

    Example: finews export jsonl news.jsonl --since 2024-01-01
    """


@export.command(name="jekyll")
@click.argument("out", type=click.Path(path_type=Path))
@click.pass_context
def export_jekyll(ctx: click.Context, out: Path) -> None:
    """Write every article as a Jekyll post in OUT (e.g. a site's _posts folder).

    The format is exactly the original site's; links use site.base_url.

    Example: finews export jekyll out/_posts
    """
    from finews.app import jekyll_style
    from finews.transfer import jekyll

    settings = _settings(ctx)
    with _open(ctx) as store, _progress("Exporting", store.count()) as progress:
        written = jekyll.export_posts(
            store, out, jekyll_style(settings),
            on_file=lambda _p: progress.advance(progress.task_ids[0]),
        )
    click.echo(f"Exported {written} posts to {out}")


def _export_command(kind: str, summary: str, example: str):
    """One of the analysts' formats: the same filters and fields for each."""

    @export.command(name=kind, help=f"{summary}\n\nArticles stream oldest first, in bounded "
                    "memory; times are ISO 8601 in site.timezone.\n\nExample: " + example)
    @click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
    @click.option("--since", metavar="DATE", help="From this day (YYYY-MM-DD) or ISO 8601 time.")
    @click.option("--until", metavar="DATE", help="Up to and including this day, or before this time.")
    @click.option("--outlet", help="Only this outlet (its name or its slug).")
    @click.option("--stock", help="Only articles about this security: 1.600519, 600519 or a name.")
    @click.option("--fields", metavar="LIST",
                  help="Comma-separated fields, or 'all' (default: id, published, outlet, title, "
                       "digest, url, page, stocks, important).")
    @click.option("--bom", is_flag=True, help="CSV: begin with a byte-order mark, for Excel.")
    @click.pass_context
    def command(ctx: click.Context, out: Path, since: str | None, until: str | None,
                outlet: str | None, stock: str | None, fields: str | None, bom: bool) -> None:
        from finews.serve.queries import Archive, Filters
        from finews.site.pages import article_path
        from finews.transfer.export import parse_fields, records, write

        chosen = parse_fields(fields)
        settings = _settings(ctx)
        with _open(ctx) as store:
            keys, category, secid = Archive(store, settings).export_filters(
                Filters(since=since, until=until, outlet=outlet, stock=stock))
            total = store.count(category=category, keys=keys, stock=secid)
            with _progress("Exporting", total) as progress:
                rows = records(store, settings.tz, chosen, keys=keys, category=category, stock=secid,
                               page=lambda a: article_path(a.category, a.published, a.code, settings.tz))
                count = write(rows, out, kind, chosen, bom=bom,
                              on_row=lambda: progress.advance(progress.task_ids[0]))
        click.echo(f"Exported {count} articles to {out} ({kind}, fields: {', '.join(chosen)})")

    return command


_export_command("jsonl", "Write the articles as JSON lines to OUT, one object per article.",
                "finews export jsonl news.jsonl --since 2024-01-01 --fields all")
_export_command("csv", "Write the articles as CSV to OUT (UTF-8; --bom for Excel).",
                "finews export csv news.csv --outlet 财联社 --bom")
_export_command("parquet", "Write the articles as Parquet to OUT (needs pyarrow: finews[parquet]).",
                "finews export parquet news.parquet --stock 600519")


@import_.command(name="jsonl")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--batch-size", default=1000, show_default=True, help="Articles per transaction.")
@click.pass_context
def import_jsonl(ctx: click.Context, path: Path, batch_size: int) -> None:
    """Read articles from a JSON-lines export (finews export jsonl --fields all) into the
    archive; a bad line is reported and skipped.

    Example: finews import jsonl news.jsonl
    """
    from finews.model import UpsertResult
    from finews.parallel import chunks
    from finews.transfer.export import read_jsonl

    problems: list[str] = []
    result = UpsertResult()
    with _open(ctx) as store, _progress("Importing", None):
        for batch in chunks(read_jsonl(path, problems.append), batch_size):
            result += store.upsert(batch)
    click.echo(f"Imported {path}: new {result.new}, updated {result.updated}, unchanged "
               f"{result.unchanged}, merged {result.merged}, skipped {len(problems)}")
    for problem in problems[:10]:
        click.echo(f"  skipped {problem}", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Show the archive: articles per category, date range and size.

    Example: finews stats --database postgresql://finews@dbhost/finews
    """
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
    _print_table(f"{total} articles in {where}", ["category", "outlet", "articles"],
                 [[c.slug, c.outlet, str(c.count)] for c in counts])
    click.echo(f"From {first or '-'} to {last or '-'}; {size / 1e6:.1f} MB on disk.")


def _pick_sources(settings: Settings, names: tuple[str, ...]) -> list:
    by_name = {s.name: s for s in settings.sources}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        known = ", ".join(by_name) or "none configured"
        raise FinewsError(f"unknown source {', '.join(unknown)} (configured: {known})")
    if names:
        return [by_name[n] for n in names]
    return [s for s in settings.sources if s.enabled]


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), help="Output folder (default: build.out).")
@click.option("--full", is_flag=True, help="Rebuild every page, not only what changed.")
@click.option("--search/--no-search", default=None,
              help="Build the static search index (default: build.search).")
@click.pass_context
def build(ctx: click.Context, out: Path | None, full: bool, search: bool | None) -> None:
    """Build the static site from the archive.

    Incremental by default: only pages whose inputs changed since the last build are
    rendered and written. Files are replaced atomically, so the site keeps working while
    it is rebuilt and after an interrupted build.

    Example: finews build --out /srv/news/_site
    """
    from finews.app import build_options, publish

    settings = _settings(ctx)
    options = build_options(settings, out=out, full=full, search=search)
    with _open(ctx) as store, _progress("Building", None):
        summary = publish(store, settings, options)
        ungrouped = store.ungrouped_count() if settings.stories.enabled else 0
    click.echo(f"Built {options.out}: {summary}")
    if not settings.site.base_url:
        click.echo("Warning: site.base_url is empty, so feed and sitemap links are relative (a sitemap "
                   "needs absolute ones): set it in finews.toml, e.g. base_url = \"https://news.example.com\"",
                   err=True)
    if ungrouped:
        click.echo(f"Warning: {ungrouped} articles have no story yet (stored by an older finews), so "
                   "their copies are listed apart: run 'finews stories --recompute'", err=True)


def _print_reports(reports: list) -> None:
    rows = [[r.name, str(r.listed), str(r.new), str(r.updated), str(r.unchanged + r.merged), str(r.failed),
             f"{r.seconds:.1f}", "[green]ok[/]" if r.ok else f"[red]failed[/]: {r.error}"]
            for r in reports]
    _print_table("Fetch summary", ["source", "listed", "new", "updated", "unchanged", "failed",
                                   "seconds", "status"], rows)


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

    Example: finews fetch eastmoney-724
    """
    import asyncio

    from finews.collect import Collector

    settings = _settings(ctx)
    chosen = _pick_sources(settings, names)
    with _open(ctx) as store, _progress("Fetching", len(chosen)) as progress:
        collector = Collector(store, settings)
        reports = asyncio.run(
            collector.run(chosen, on_done=lambda _r: progress.advance(progress.task_ids[0]))
        )
    _print_reports(reports)
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

    Example: finews run --every 5m --serve
    """
    from finews.app import Pipeline, build_options
    from finews.config import parse_duration

    settings = _settings(ctx)
    _open(ctx).close()
    if every:
        seconds = parse_duration(every)
        for source in settings.sources:
            source.interval = f"{seconds}s"
    at = _host_port(serve_at) if serve_at else None
    options = build_options(settings)
    pipeline = Pipeline(settings, options, rebuild=rebuild, after=after_cmd, passes=passes,
                        on_pass=_print_pass, on_build=click.echo)
    pipeline.run(serve_at=at, on_serving=lambda port: click.echo(
        f"Serving {options.out} and the API at http://{at[0]}:{port}/"))
    click.echo("Stopped.")


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise FinewsError(f"--serve {value!r}: give HOST:PORT, e.g. 127.0.0.1:8000")
    return host or "127.0.0.1", int(port)


def _print_pass(reports: list) -> None:
    from datetime import datetime

    if not reports:
        return
    stamp = datetime.now().strftime("%H:%M:%S")
    parts = [f"{r.name} +{r.new}" + ("" if r.ok else " FAILED") + (" GAP" if r.gap else "")
             for r in reports if r.new or not r.ok or r.gap]
    click.echo(f"[{stamp}] " + (", ".join(parts) if parts else "nothing new"))
    _print_problems([r for r in reports if not r.ok], limit=3)


@cli.command(name="sources")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def sources_(ctx: click.Context, as_json: bool) -> None:
    """Show the configured sources and their health, as /api/sources does.

    Example: finews sources --json
    """
    from finews.serve.queries import Archive

    settings = _settings(ctx)
    with _open(ctx) as store:
        rows = Archive(store, settings).sources()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return

    def when(iso: str | None) -> str:
        return iso[:19].replace("T", " ") if iso else ""

    _print_table("Sources", ["name", "kind", "every", "last success", "failures", "items", "next",
                             "last error or gap"], [[
        row["name"] if row["enabled"] else f"{row['name']} (off)", row["kind"], row["interval"],
        when(row["last_success"]) or "never", str(row["consecutive_failures"]),
        str(row["items_last_run"]), when(row["next_due"]) or "now",
        " ".join(filter(None, (row["last_error"], row["gap"]))),
    ] for row in rows if row["kind"] != "notify"])
    targets = [row for row in rows if row["kind"] == "notify"]
    if targets:
        _print_table("Notification targets", ["name", "target", "pending", "failing", "last error"], [[
            row["name"], row["target"], str(row["pending"]), str(row["consecutive_failures"]),
            row["last_error"]] for row in targets])


@cli.command()
@click.option("--to", "target_url", required=True, metavar="URL",
              help="The archive to copy into: postgresql://user@host/db or a SQLite file path.")
@click.option("--batch-size", default=1000, show_default=True, help="Articles per transaction.")
@click.pass_context
def migrate(ctx: click.Context, target_url: str, batch_size: int) -> None:
    """Copy the whole archive to another backend (SQLite <-> PostgreSQL).

    The copy keeps ids, times, aliases, recorded changes and source health, resumes where
    an interrupted run stopped, and ends by comparing the content hash of every article.

    Example: finews migrate --to postgresql://finews@dbhost/finews
    """
    from finews.store import ArchiveURL, open_store
    from finews.transfer.migrate import migrate as copy_archive

    settings = _settings(ctx)
    target = ArchiveURL.parse(target_url, Path.cwd())
    if target == settings.archive_url:
        raise FinewsError("--to names the archive being copied; give another one")
    with _open(ctx) as source, open_store(target, settings.categories, settings.stories) as destination:
        total = source.count()
        with _progress("Migrating", total) as progress:
            already = destination.count()
            progress.update(progress.task_ids[0], completed=already)
            report = copy_archive(
                source, destination, batch_size=batch_size,
                on_batch=lambda n: progress.advance(progress.task_ids[0], n),
                on_index=lambda: click.echo("Copied; building the search index "
                                            "(about a minute per 100,000 articles)…", err=True),
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
@click.option("--limit", default=20, show_default=True, help="At most this many (1-500).")
@click.option("--ranked", is_flag=True, help="Best matches first (headline hits, then recency).")
@click.option("--stock", help="Only articles about this security: 1.600519, 600519 or a name.")
@click.option("--group", type=click.Choice(["story"]),
              help="One result per story (its first match), with the other outlets' copies.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def search(ctx: click.Context, query: str, outlet: str | None, tag: str | None, since: str | None,
           until: str | None, limit: int, ranked: bool, stock: str | None, group: str | None,
           as_json: bool) -> None:
    """Find the articles that contain QUERY, newest first.

    Any Chinese text of any length matches exactly where it occurs (芯片, 降息, 央); words
    separated by spaces must all occur, OR between two words lets either do, and a leading
    - excludes a word. Exit code 0 with matches, 4 with none.

    Example: finews search "芯片 OR 半导体 -港股" --since 2024-01-01
    """
    from finews.errors import BadRequest
    from finews.serve.queries import Archive, Filters

    settings = _settings(ctx)
    filters = Filters(outlet=outlet, tag=tag, since=since, until=until, q=query, limit=limit,
                      ranked=ranked, stock=stock, group=group)
    with _open(ctx) as store:
        try:
            result = Archive(store, settings).search(filters)
        except BadRequest as exc:
            raise FinewsError(f"--{exc.field}: {exc.message}" if exc.field != "q" else exc.message) from None
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print_hits(result["articles"])
        more = " (more: raise --limit)" if result["next_cursor"] else ""
        click.echo(f"{len(result['articles'])} articles{more}")
    if not result["articles"]:
        sys.exit(4)


def _print_hits(hits: list[dict]) -> None:
    import html

    from rich.console import Console
    from rich.markup import escape

    def marked(snippet: str) -> str:
        """The API's HTML snippet as rich markup: hits bold, entities decoded."""
        text = escape(html.unescape(snippet.replace("<mark>", "\x01").replace("</mark>", "\x02")))
        return text.replace("\x01", "[bold yellow]").replace("\x02", "[/]")

    console = Console(highlight=False)
    for hit in hits:
        when = hit["published"][:16].replace("T", " ")
        console.print(f"[bold]{escape(hit['title'])}[/]  [dim]{when} · {escape(hit['outlet'])}[/]")
        console.print("  " + marked(hit["snippet"]))
        if hit.get("copies"):
            outlets = "、".join(dict.fromkeys(c["outlet"] for c in hit["copies"]))
            console.print(f"  [dim]同一新闻 {len(hit['copies'])} 篇：{escape(outlets)}[/]")
        console.print(f"  [dim]{hit['page']}[/]")


@cli.command()
@click.argument("query", required=False, default="")
@click.option("--limit", default=30, show_default=True, help="At most this many (1-500).")
@click.option("--reextract", is_flag=True,
              help="Find the securities of every stored article again (an archive of an older "
                   "finews); reads the stored text, no network.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def stocks(ctx: click.Context, query: str, limit: int, reextract: bool, as_json: bool) -> None:
    """List the securities the archive's news mentions, most mentioned first; QUERY finds
    one by code, secid or any name it had.

    Example: finews stocks 茅台
    """
    from finews.serve.queries import Archive

    settings = _settings(ctx)
    with _open(ctx) as store:
        if reextract:
            with _progress("Finding stocks", store.count() * 2) as progress:
                count = store.reextract_stocks(lambda n: progress.advance(progress.task_ids[0], n))
            click.echo(f"Read {count} articles again; {len(store.securities(limit=10**9))} securities.")
        result = Archive(store, settings).stocks(query, limit)["stocks"]
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    _print_table("Securities", ["secid", "name", "kind", "articles"],
                 [[s["secid"], s["name"], s["kind"], str(s["articles"])] for s in result])
    if not result:
        sys.exit(4)


@cli.group(cls=FinewsGroup, invoke_without_command=True)
@click.option("--limit", default=3, show_default=True, type=click.IntRange(1, 100),
              help="Latest matches shown per watch.")
@click.pass_context
def watch(ctx: click.Context, limit: int) -> None:
    """List the [[watch]] tables of finews.toml with their latest matches in the archive.

    Example: finews watch --limit 5
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(ctx)
    if not settings.follow.watches:
        _fail("no watches: add a [[watch]] table to finews.toml (see the README, 'Following news')")
    with _open(ctx) as store:
        for w in settings.follow.watches:
            targets = f", notifies {len(w.notify)} target(s)" if w.notify else ""
            click.echo(f"{w.name}: {_described(w)}{targets}")
            _print_matches(store, settings, store.followed_keys(w.criterion, limit))


watch.params.extend(_archive_options())


@watch.command(name="test")
@click.argument("name")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="At most this many matches.")
@click.pass_context
def watch_test(ctx: click.Context, name: str, limit: int) -> None:
    """Show what the watch NAME matches in the archive, newest first, notifying no one.
    Exit code 0 with matches, 4 with none.

    Example: finews watch test chips
    """
    settings = _settings(ctx)
    w = settings.follow.watch(name)
    with _open(ctx) as store:
        keys = store.followed_keys(w.criterion, limit)
        click.echo(f"{w.name}: {_described(w)}")
        _print_matches(store, settings, keys)
    click.echo(f"{len(keys)} matches" + (" (the newest shown)" if len(keys) == limit else ""))
    if not keys:
        sys.exit(4)


def _described(w: Any) -> str:
    c = w.criterion
    parts = [f"query {w.query_text!r}" if c.query else "",
             f"stocks {', '.join(c.stocks)}" if c.stocks else ""]
    what = " or ".join(p for p in parts if p) or "every article"
    if c.outlets:
        what += f", from {', '.join(c.outlets)}"
    return what + (", important only" if c.important else "")


def _print_matches(store: Store, settings: Settings, keys: list[int]) -> None:
    articles = store.by_keys(keys)
    important = store.importance_of(keys)
    for key in keys:
        a = articles[key]
        mark = "★ " if key in important else ""
        click.echo(f"  {mark}{a.published.astimezone(settings.tz):%Y-%m-%d %H:%M}  {a.outlet}  {a.title}")


@cli.command()
@click.option("--once", is_flag=True, help="Send what is due now and exit (for cron).")
@click.pass_context
def notify(ctx: click.Context, once: bool) -> None:
    """Send the watches' pending notifications ('finews run' sends them as it goes).
    Exit code 0 when everything due went out, 3 when a target failed (it is retried later).

    Example: finews notify --once
    """
    import threading

    from finews.notify import Notifier
    from finews.run import archive_lock

    settings = _settings(ctx)
    with archive_lock(settings.archive_url), _open(ctx) as store:
        notifier = Notifier(store, settings)
        if not once:
            click.echo("Sending notifications until interrupted (Ctrl-C)")
            stopping = threading.Event()
            try:
                notifier.run(stopping)
            except KeyboardInterrupt:
                stopping.set()
            return
        report = notifier.send_due()
    click.echo(f"Notifications: {report}")
    if report.failed:
        sys.exit(3)


@cli.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True,
              help="The versions and diffs as JSON (as the API gives them).")
@click.pass_context
def history(ctx: click.Context, article_id: str, as_json: bool) -> None:
    """Every change of one article, newest first, as character diffs of its title and its
    text: deletions red and struck through, insertions green; without colour (a pipe, or
    NO_COLOR) as [-deleted-] and {+inserted+}. Exit code 4 when no such article.

    Example: finews history 202503121234567890
    """
    import json

    from finews.serve.queries import Archive

    with _open(ctx) as store:
        data = Archive(store, _settings(ctx)).revisions(article_id)
    if data is None:
        click.echo(f"Error: no article {article_id!r} in the archive; "
                   "'finews search' finds an article's id", err=True)
        sys.exit(4)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    _print_history(data)


def _print_history(data: dict) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=True)
    plain = console.no_color or not console.is_terminal
    current = data["versions"][-1]
    console.print(Text(current["title"], style="bold"))
    if not data["edits"]:
        console.print(f"Never changed since {current['since']}.")
        return
    console.print(f"Changed {data['changes']} times; first stored {data['versions'][0]['since']}.")
    for edit in data["edits"]:
        console.print(Text(f"\nChange {edit['number'] - 1} at {edit['at']}", style="bold"))
        for label, runs in (("title", edit["title"]), ("text", edit["body"])):
            if runs is None:
                console.print(f"{label}: the earlier text was not kept (changed before finews kept versions)")
            elif any(op for op, _ in runs):
                console.print(Text(f"{label}: ") + _diff_text(runs, plain))
            else:
                console.print(f"{label}: unchanged")


def _diff_text(runs: list, plain: bool) -> Text:
    from rich.text import Text

    from finews.revisions import diff_markup

    if plain:
        return Text(diff_markup([(op, text) for op, text in runs]))
    styles = {-1: "red strike", 0: "", 1: "green"}
    out = Text()
    for op, text in runs:
        out.append(text, style=styles[op])
    return out


@cli.command()
@click.option("--recompute", is_flag=True,
              help="Group every stored article again, with the [stories] settings (an archive of "
                   "an older finews, or new settings); the next build is a full one.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def stories(ctx: click.Context, recompute: bool, as_json: bool) -> None:
    """Show how the archive's articles group into stories: the copies of one report
    that several outlets ran, shown once on the site.

    Example: finews stories --recompute
    """
    from finews.parallel import chunks

    settings = _settings(ctx)
    with _open(ctx) as store:
        if recompute:
            with _progress("Grouping stories", store.count()) as progress:
                store.regroup_stories(chunks(store.iter_articles(batch=1000), 1000),
                                      lambda n: progress.advance(progress.task_ids[0], n))
        result = {"enabled": settings.stories.enabled, "articles": store.count(),
                  "stories": store.story_count(), "ungrouped": store.ungrouped_count()}
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"{result['articles']} articles, {result['stories']} stories of more than one article")
    if result["ungrouped"] and settings.stories.enabled:
        click.echo(f"{result['ungrouped']} articles have no story yet: run 'finews stories --recompute'")
    if not settings.stories.enabled:
        click.echo("Grouping is off ([stories] enabled = false)")


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
    the schema at /api/openapi.json) until Ctrl-C.

    Example: finews serve --workers 2 --port 8080
    """
    from finews.serve.app import serve as run_server

    settings = _settings(ctx)
    site = out or settings.path(settings.build.out)
    if not (site / "index.html").exists():
        click.echo(f"warning: {site} has no index.html yet; run 'finews build' first", err=True)
    _open(ctx).close()
    click.echo(f"Serving {site} and the API at http://{host}:{port}/ (Ctrl-C stops)")
    run_server(settings, site, host=host, port=port, workers=workers,
               config_path=ctx.find_root().meta.get("finews.config"))


@cli.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port of the demo site (0: any free port).")
@click.option("--dir", "folder", type=click.Path(path_type=Path),
              help="Keep the demo archive and site here (default: a temporary folder).")
@click.option("--every", default=5, show_default=True, type=click.IntRange(1, 3600),
              help="Seconds between new articles on the mock server and between fetches.")
@click.option("--search/--no-search", default=True, help="Build the static search index.")
def demo(port: int, folder: Path | None, every: int, search: bool) -> None:
    """Try finews offline: a mock news server publishes articles, finews collects them,
    builds the site and serves it. Open the printed URL; Ctrl-C stops.

    Example: finews demo --port 0 --dir /tmp/finews-demo
    """
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


def main() -> None:
    cli(prog_name="finews")
