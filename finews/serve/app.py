"""`finews serve`: the built site and the JSON API on one ASGI app, under uvicorn, in the
foreground (several worker processes) or on a thread (`finews run --serve`, the demo)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from finews.config import Settings
from finews.errors import FinewsError
from finews.serve.api import Api
from finews.serve.static import SiteFiles
from finews.site.pages import LATEST_PATH
from finews.store import open_store


class FinewsApp:
    """/api/... from the archive (cached answers straight away, the rest through Starlette's
    routing), everything else from the built site."""

    def __init__(self, api: Api, site: SiteFiles, starlette: Starlette):
        self.api = api
        self.site = site
        self.starlette = starlette

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/api/") \
                and scope["path"] != LATEST_PATH:
            await self.site(scope, receive, send)
        elif scope["type"] != "http" or not await self.api.send_cached(scope, send):
            await self.starlette(scope, receive, send)


def create_app(settings: Settings, site_dir: Path, open_archive=None) -> FinewsApp:
    """The whole server: /api/... from the archive, everything else from the built site."""
    open_archive = open_archive or (
        lambda: open_store(settings.archive_url, settings.categories, settings.stories))
    api = Api(open_archive, settings)
    site = SiteFiles(site_dir)
    routes = [
        Route("/api/articles", api.articles),
        Route("/api/articles/{article_id}", api.article),
        Route("/api/articles/{article_id}/revisions", api.revisions),
        Route("/api/search", api.search),
        Route("/api/search.atom", api.search_atom),
        Route("/api/watch/{name}", api.watch),
        Route("/api/sources", api.sources),
        Route("/api/live", api.live),
        Route(LATEST_PATH, api.latest),
        Route("/api/stories/{story_id}", api.story),
        Route("/api/stocks", api.stocks),
        Route("/api/stocks/{secid}", api.stock),
        Route("/api/openapi.json", api.openapi),
        Route("/api/{rest:path}", api.not_found),
        Mount("/", app=site),
    ]
    return FinewsApp(api, site, Starlette(routes=routes))


WORKER_ENV = "FINEWS_SERVE"
"""uvicorn starts its worker processes from an import string, so the only way to hand them
the command's config file, archive and site folder is the environment: this one variable."""


def app_from_environment() -> FinewsApp:
    """The app factory uvicorn's worker processes call."""
    from finews.config import load_settings

    given = json.loads(os.environ[WORKER_ENV])
    settings = load_settings(Path(given["config"]) if given["config"] else None)
    settings.archive.database_url = given["archive"]
    return create_app(settings, Path(given["site"]))


def serve(
    settings: Settings, site_dir: Path, *, host: str, port: int, workers: int = 1,
    config_path: Path | None = None,
) -> None:
    """Run until interrupted. Several workers share the port (uvicorn starts them as
    processes, which build the app from WORKER_ENV)."""
    import uvicorn

    options = {"host": host, "port": port, "log_level": "warning", "access_log": False,
               "server_header": False, "timeout_graceful_shutdown": 5}
    if workers <= 1:
        uvicorn.run(create_app(settings, site_dir), **options)
        return
    os.environ[WORKER_ENV] = json.dumps({
        "config": str(config_path) if config_path else "", "archive": settings.archive_url.location,
        "site": str(site_dir),
    })
    uvicorn.run("finews.serve.app:app_from_environment", factory=True, workers=workers, **options)


class BackgroundServer:
    """The server on a thread of this process, for `finews run --serve` and the demo."""

    def __init__(self, app: FinewsApp, host: str, port: int):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, server_header=False,
        ))
        self.thread = threading.Thread(target=self.server.run, name="finews-serve", daemon=True)

    def start(self) -> None:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise FinewsError("the server could not start: is the port already in use?")
            self.thread.join(0.05)

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
