"""finews.toml -> typed settings. Every setting has a default, so no file is needed."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from finews.errors import ConfigError
from finews.follow import FollowRules, WatchTable, criterion, watch
from finews.slugs import is_safe_slug
from finews.store.url import ArchiveURL
from finews.stories import StoryRules

CONFIG_NAME = "finews.toml"
DATABASE_ENV = "FINEWS_DATABASE_URL"


@dataclass
class SiteSettings:
    title: str = "金融消息"
    base_url: str = ""
    timezone: str = "Asia/Shanghai"


@dataclass
class ArchiveSettings:
    database_url: str = "finews.db"


@dataclass
class JekyllSettings:
    rolling_categories: list[str] = field(default_factory=lambda: ["emnews"])
    category_links: dict[str, str] = field(default_factory=lambda: {"emnews": "/emnews/"})


@dataclass
class BuildSettings:
    out: str = "_site"
    search: bool = True
    keep_days: int = 0
    keep_articles: int = 0
    refresh_minutes: int = 0
    theme: str = ""
    per_page: int = 100


@dataclass
class FetchConfig:
    """The HTTP client's settings ([fetch]); an empty user_agent means finews' own."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    retries: int = 3
    backoff: float = 1.0
    max_retry_after: float = 120.0
    per_host_concurrency: int = 2
    min_interval: float = 1.0
    user_agent: str = ""
    robots: bool = True
    max_redirects: int = 5
    max_backoff: str = "6h"
    lease: str = "10m"
    sources_at_once: int = 16


@dataclass
class FollowSettings:
    """[follow]: how fresh a notified article must be, and how many messages a watch
    sends a minute before the rest is folded into a digest."""

    max_age: str = "1d"
    per_minute: int = 10


@dataclass
class SourceSettings:
    name: str = ""
    kind: str = ""
    url: str = ""
    interval: str = "5m"
    enabled: bool = True
    outlet: str = ""
    category: str = ""
    tags: list[str] = field(default_factory=list)
    max_pages: int = 20
    page_size: int = 50
    full_text: str = "auto"
    article_url: str = ""
    body_url: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval)


DEFAULT_SOURCES = [
    SourceSettings(
        name="eastmoney-724", kind="eastmoney-fastnews",
        url="https://np-weblist.eastmoney.com/comm/web/getFastNewsList",
        interval="5m", outlet="东财滚动", category="emnews", tags=["东财滚动新闻"],
        params={"fastColumn": "102"},
    ),
    SourceSettings(
        name="eastmoney-yaowen", kind="eastmoney-columns",
        url="https://np-listapi.eastmoney.com/comm/web/getNewsByColumns",
        interval="10m", params={"column": "350"},
    ),
    SourceSettings(
        name="eastmoney-cjzc", kind="eastmoney-columns",
        url="https://np-listapi.eastmoney.com/comm/web/getNewsByColumns",
        interval="1h", max_pages=2, params={"column": "1207"},
    ),
]


@dataclass
class Settings:
    site: SiteSettings = field(default_factory=SiteSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    jekyll: JekyllSettings = field(default_factory=JekyllSettings)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    build: BuildSettings = field(default_factory=BuildSettings)
    stories: StoryRules = field(default_factory=StoryRules)
    follow: FollowRules = field(default_factory=FollowRules)
    categories: dict[str, str] = field(default_factory=dict)
    sources: list[SourceSettings] = field(default_factory=lambda: list(DEFAULT_SOURCES))
    root: Path = field(default_factory=Path.cwd)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    def path(self, value: str) -> Path:
        """A path from the config: relative to the config file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path

    @property
    def archive_url(self) -> ArchiveURL:
        """The archive; a relative SQLite path is relative to the config file."""
        return ArchiveURL.parse(self.archive.database_url, self.root)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text: str | float) -> float:
    """'90s', '5m', '1h', '1d' or a number of seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ConfigError(f"{text!r} is not a duration (expected e.g. '30s', '5m', '1h')")
    return float(match.group(1)) * _UNITS[match.group(2)]


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}


def _check_scalar(key: str, value: Any, expected: type) -> Any:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {_TYPE_NAMES[expected]}, got {value!r}")
    return value


def _check_value(key: str, value: Any, annotation: str) -> Any:
    if annotation == "str" and isinstance(value, (int, float)) and key.endswith(".interval"):
        return str(value)
    if annotation == "str" and isinstance(value, bool) and key.endswith(".full_text"):
        return "always" if value else "never"
    if annotation == "str":
        return _check_scalar(key, value, str)
    if annotation == "int":
        return _check_scalar(key, value, int)
    if annotation == "bool":
        return _check_scalar(key, value, bool)
    if annotation == "float":
        return _check_scalar(key, value, float)
    if annotation == "list[str]":
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
        return [_check_scalar(f"{key}[{i}]", v, str) for i, v in enumerate(value)]
    if annotation == "dict[str, str]":
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table of strings, got {value!r}")
        if key.endswith(".params"):
            value = {
                k: str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                for k, v in value.items()
            }
        return {k: _check_scalar(f"{key}.{k}", v, str) for k, v in value.items()}
    raise AssertionError(f"unsupported setting type {annotation}")


def _load_section(name: str, cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a table, got {data!r}")
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(
                f"unknown setting {name}.{key} (known: {', '.join(sorted(known))})"
            )
        values[key] = _check_value(f"{name}.{key}", value, str(known[key].type))
    return cls(**values)


def _validate(settings: Settings) -> None:
    try:
        ZoneInfo(settings.site.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"site.timezone: unknown time zone {settings.site.timezone!r} "
            "(expected an IANA name such as 'Asia/Shanghai')"
        ) from exc
    for outlet, slug in settings.categories.items():
        if not is_safe_slug(slug):
            raise ConfigError(
                f"categories.{outlet}: {slug!r} is not a valid slug "
                "(lower-case letters and digits only)"
            )
    settings.site.base_url = settings.site.base_url.rstrip("/")
    for name in ("keep_days", "keep_articles", "refresh_minutes"):
        if getattr(settings.build, name) < 0:
            raise ConfigError(f"build.{name}: expected 0 or more")
    if settings.build.per_page < 1:
        raise ConfigError("build.per_page: expected 1 or more")
    if settings.fetch.sources_at_once < 1:
        raise ConfigError("fetch.sources_at_once: expected 1 or more")
    if settings.stories.window_days < 1:
        raise ConfigError("stories.window_days: expected 1 or more")
    if not 0 < settings.stories.threshold <= 1:
        raise ConfigError("stories.threshold: expected a number above 0 and at most 1")
    for name in ("max_backoff", "lease"):
        try:
            parse_duration(getattr(settings.fetch, name))
        except ConfigError as exc:
            raise ConfigError(f"fetch.{name}: {exc}") from exc


def _load_sources(value: Any) -> list[SourceSettings]:
    if not isinstance(value, list):
        raise ConfigError("sources: expected an array of tables ([[sources]])")
    sources = []
    for index, table in enumerate(value):
        where = f"sources[{index}]"
        source = _load_section(where, SourceSettings, table)
        if not source.name:
            raise ConfigError(f"{where}.name: every source needs a name")
        where = f"sources.{source.name}"
        if source.full_text not in ("auto", "always", "never"):
            raise ConfigError(f"{where}.full_text: expected 'auto', 'always' or 'never'")
        try:
            parse_duration(source.interval)
        except ConfigError as exc:
            raise ConfigError(f"{where}.interval: {exc}") from exc
        sources.append(source)
    names = [s.name for s in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"sources: names must be unique ({', '.join(duplicates)})")
    return sources


def _notification_url_ok(url: str) -> bool:
    import apprise

    return apprise.Apprise.instantiate(url, suppress_exceptions=True) is not None


def _load_tables(name: str, value: Any) -> list[WatchTable]:
    if not isinstance(value, list):
        raise ConfigError(f"{name}: expected an array of tables ([[{name}]])")
    return [_load_section(f"{name}[{index}]", WatchTable, table) for index, table in enumerate(value)]


def _load_follow(data: dict[str, Any]) -> FollowRules:
    """[[watch]], [[important]] and [follow] as one set of rules."""
    options = _load_section("follow", FollowSettings, data.get("follow", {}))
    try:
        max_age = parse_duration(options.max_age)
    except ConfigError as exc:
        raise ConfigError(f"follow.max_age: {exc}") from exc
    if options.per_minute < 1:
        raise ConfigError("follow.per_minute: expected 1 or more")
    watches = [watch(t, f"watch[{i}]", _notification_url_ok)
               for i, t in enumerate(_load_tables("watch", data.get("watch", [])))]
    names = [w.name for w in watches]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"watch: names must be unique ({', '.join(duplicates)})")
    rules = []
    for index, table in enumerate(_load_tables("important", data.get("important", []))):
        rule = criterion(table, f"important[{index}]")
        if rule.picks_everything or table.notify or table.important:
            raise ConfigError(f"important[{index}]: give a query or stocks (and optionally "
                              "outlets); name, notify and important belong to [[watch]]")
        rules.append(rule)
    return FollowRules(tuple(watches), tuple(rules), max_age, options.per_minute)


def parse_settings(data: dict[str, Any], root: Path) -> Settings:
    sections = {
        "site": SiteSettings, "archive": ArchiveSettings, "jekyll": JekyllSettings,
        "fetch": FetchConfig, "build": BuildSettings, "stories": StoryRules,
    }
    settings = Settings(root=root)
    settings.follow = _load_follow(data)
    for key, value in data.items():
        if key in ("watch", "important", "follow"):
            continue
        if key in sections:
            setattr(settings, key, _load_section(key, sections[key], value))
        elif key == "categories":
            settings.categories = _check_value("categories", value, "dict[str, str]")
        elif key == "sources":
            settings.sources = _load_sources(value)
        else:
            known = ", ".join(sorted([*sections, "categories", "sources", "watch", "important", "follow"]))
            raise ConfigError(f"unknown section [{key}] (known: {known})")
    if os.environ.get(DATABASE_ENV):
        settings.archive.database_url = os.environ[DATABASE_ENV]
    _validate(settings)
    return settings


def load_settings(path: Path | None = None) -> Settings:
    """Read the config file, or ./finews.toml when it exists, or use the defaults."""
    if path is None:
        default = Path.cwd() / CONFIG_NAME
        if not default.exists():
            return parse_settings({}, Path.cwd())
        path = default
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist (run 'finews init' to make one)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    try:
        return parse_settings(data, path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


DEFAULT_CONFIG = """\
# finews configuration. Every setting is optional: the values shown are the defaults.

[site]
# The site's name, shown in page titles and feeds.
title = "金融消息"
# Where the site is published, without a trailing slash, e.g. "https://news.example.com"
# or "//finews.withounder.com". Empty means links are relative to the site root.
base_url = ""
# Time zone for dates on pages, in file names and in exported posts.
timezone = "Asia/Shanghai"

[archive]
# A SQLite file (relative to this file) or a postgresql:// URL.
# The environment variable FINEWS_DATABASE_URL overrides it.
database_url = "finews.db"

[jekyll]
# Categories that hold rolling news: their posts begin with a "> digest" line.
rolling_categories = ["emnews"]
# Back links of categories whose page is not /category/<slug>.html.
category_links = { emnews = "/emnews/" }

[build]
# Where `finews build` writes the site (relative to this file).
out = "_site"
# Build the static search index (/search/) and the search page.
search = true
# Keep only recent news on the site (0 = everything); the archive keeps everything.
keep_days = 0
keep_articles = 0
# Reload the home page every N minutes (0 = never). Other pages never reload.
refresh_minutes = 0
# A folder of templates overriding finews' own (base.html, article.html, list.html, ...).
theme = ""
# Articles per page on outlet and tag pages.
per_page = 100

[stories]
# Group the copies of one report from several outlets into a story, shown once.
enabled = true
# Copies are at most this many days apart.
window_days = 7
# How much of the shorter copy's text (0 to 1) the longer must contain, in order.
threshold = 0.7

[follow]
# Articles published longer ago than this when stored are never notified.
max_age = "1d"
# Messages per watch and target a minute; the rest of a burst goes out as one digest.
per_minute = 10

# Watches: saved searches with a page, a feed and notifications (README, "Following news").
# [[watch]]
# name = "chips"
# query = "芯片 OR 半导体 -港股"
# stocks = ["1.688981"]
# notify = ["ntfy://ntfy.example.com/chips"]

# Articles important by rule, besides those Eastmoney marks red:
# [[important]]
# query = "立案调查"

[categories]
# Fixed category slugs for outlets, overriding the pinyin of the outlet name:
# "南方都市报" = "nandu"
"""
