"""The wiring of finews' stages, written once for the CLI and the demo: settings in, then
collect, build and serve together.

Modules below this one each do one stage; this one knows how they fit: which settings
become which build options, that a pass which stored something is followed by a rebuild
and the ``--after`` hook, and that a served site is built before the server starts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from finews.config import Settings
from finews.config import load_settings as read_config
from finews.sources import check_kinds
from finews.store import ArchiveURL, open_store

if TYPE_CHECKING:
    from finews.collect import SourceReport
    from finews.serve.app import BackgroundServer
    from finews.site.build import BuildOptions
    from finews.store import Store
    from finews.transfer.jekyll import JekyllStyle


def load_settings(config: Path | None = None, database: str | None = None) -> Settings:
    """The settings of one command: the config file, then ``--database`` (relative to
    the current folder, as a command-line path is), checked as a whole."""
    settings = read_config(config)
    if database:
        settings.archive.database_url = ArchiveURL.parse(database, Path.cwd()).location
    check_kinds(settings.sources)
    return settings


def open_archive(settings: Settings) -> Store:
    return open_store(settings.archive_url, settings.categories, settings.stories, settings.follow)


def jekyll_style(settings: Settings) -> JekyllStyle:
    """How the original site wrote its posts, from the [site] and [jekyll] settings."""
    from finews.transfer.jekyll import JekyllStyle

    return JekyllStyle(
        base_url=settings.site.base_url, tz=settings.tz,
        rolling_categories=frozenset(settings.jekyll.rolling_categories),
        category_links=dict(settings.jekyll.category_links),
    )


def build_options(
    settings: Settings, *, out: Path | None = None, full: bool = False, search: bool | None = None,
) -> BuildOptions:
    """The build settings of the config, with what a command's options override."""
    from finews.site.build import BuildOptions

    b = settings.build
    return BuildOptions(
        out=out or settings.path(b.out), full=full,
        search=b.search if search is None else search, keep_days=b.keep_days,
        keep_articles=b.keep_articles, refresh_minutes=b.refresh_minutes,
        theme=settings.path(b.theme) if b.theme else None, per_page=b.per_page,
    )


def publish(store: Store, settings: Settings, options: BuildOptions) -> str:
    """Build the site (incrementally unless ``options.full``); the build's summary."""
    from finews.site.build import SiteBuilder

    return SiteBuilder(store, settings, options).build().summary()


class Pipeline:
    """`finews run` and `finews demo`: one archive, the collector loop, a rebuild after
    every pass that stored something, and optionally the server, started and stopped
    together. The archive is locked for the whole run."""

    def __init__(
        self, settings: Settings, options: BuildOptions, *, rebuild: bool = True,
        after: str | None = None, passes: int = 0, max_sleep: float = 30.0,
        on_pass: Callable[[list[SourceReport]], None] = lambda reports: None,
        on_build: Callable[[str], None] = lambda summary: None,
    ):
        self.settings = settings
        self.options = options
        self.rebuild = rebuild
        self.after = after
        self.passes = passes
        self.max_sleep = max_sleep
        self.on_pass = on_pass
        self.on_build = on_build
        self.loop = None
        self.server: BackgroundServer | None = None

    def run(
        self, *, serve_at: tuple[str, int] | None = None, warm_up: bool = False,
        on_serving: Callable[[int], None] = lambda port: None,
    ) -> None:
        """Blocks until SIGINT or SIGTERM (or ``stop``). ``warm_up`` collects and builds
        once before the server starts, so that its first page has news."""
        from finews.run import RunLoop, archive_lock

        with open_archive(self.settings) as store, archive_lock(self.settings.archive_url):
            build = (lambda: self.on_build(publish(store, self.settings, self.options))) \
                if self.rebuild else None
            self.loop = RunLoop(store, self.settings, after=self.after, max_passes=self.passes,
                                publish=build, max_sleep=self.max_sleep)
            self.loop.on_pass = self.on_pass
            if warm_up:
                import asyncio

                self.on_pass(asyncio.run(self.loop.collector.run(self.settings.sources)))
            if serve_at:
                self._serve(store, serve_at, on_serving)
            try:
                self.loop.run()
            finally:
                if self.server:
                    self.server.stop()

    def _serve(self, store: Store, serve_at: tuple[str, int],
               on_serving: Callable[[int], None]) -> None:
        from finews.serve.app import BackgroundServer, create_app

        if self.rebuild:
            self.on_build(publish(store, self.settings, self.options))
        self.server = BackgroundServer(create_app(self.settings, self.options.out), *serve_at)
        self.server.start()
        on_serving(self.server.port)

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.stopping.set()
