"""The finews command line: parse arguments, call the library, print results."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from finews import __version__
from finews.config import CONFIG_NAME, DEFAULT_CONFIG, Settings, load_settings
from finews.model import FinewsError
from finews.sources import jekyll
from finews.store import Store, open_store


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
    return open_store(settings.database_url, settings.categories)


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
    ctx.obj = {"settings": settings}


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
    files = list(jekyll.find_posts(list(paths)))
    with _open(ctx) as store, _progress("Importing", len(files)) as progress:
        report = jekyll.import_posts(
            store, files, _style(settings), batch_size=batch_size,
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
        where = store.url
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


def main() -> None:
    cli(prog_name="finews")
