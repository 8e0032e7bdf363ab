"""Where the archive is: the one place that reads an archive's location.

A location is a SQLite file (a path, or ``sqlite:///path``; relative to a root folder,
the config file's) or a PostgreSQL URL. It is parsed once, into an ``ArchiveURL`` that
every caller uses: opening the store, the run lock, messages (without the password).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from finews.errors import ArchiveError

_SQLITE = "sqlite:///"
_POSTGRES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class ArchiveURL:
    kind: str
    """'sqlite' or 'postgresql'."""
    location: str
    """An absolute file path, or the PostgreSQL URL as given."""

    @classmethod
    def parse(cls, text: str, root: Path | None = None) -> ArchiveURL:
        """The archive a setting or ``--database`` names; a relative SQLite path is
        relative to ``root`` (the config file's folder; the current one by default)."""
        text = str(text).strip()
        if text.startswith(_POSTGRES):
            return cls("postgresql", text)
        if text.startswith(_SQLITE):
            text = text[len(_SQLITE):]
        elif "://" in text:
            raise ArchiveError(
                f"unsupported database URL {text!r}: use a file path, sqlite:///path or postgresql://…"
            )
        if not text:
            raise ArchiveError("no archive given: set archive.database_url or --database")
        path = Path(text).expanduser()
        return cls("sqlite", str(path if path.is_absolute() else (root or Path.cwd()) / path))

    @property
    def is_sqlite(self) -> bool:
        return self.kind == "sqlite"

    @property
    def path(self) -> Path:
        if not self.is_sqlite:
            raise ArchiveError(f"{self.redacted} is not a SQLite file")
        return Path(self.location)

    @property
    def redacted(self) -> str:
        """The location without a password, for messages and output."""
        if self.is_sqlite or "@" not in self.location:
            return self.location
        scheme, rest = self.location.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"

    def __str__(self) -> str:
        return self.location
