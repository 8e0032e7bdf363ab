"""Every error finews raises on purpose, each with a message written for the person running
it (what went wrong, where, and what to do). The CLI prints one line and exits 1.

    FinewsError
    ├── ConfigError       a setting or the config file is wrong
    ├── ArchiveError      the archive cannot be opened or used: no driver, no server, a
    │                     damaged or read-only file, an unsupported URL
    ├── InvalidArticle    one article cannot be accepted; the rest of its batch goes on
    │   └── PostError     a Jekyll post cannot be read
    ├── FetchError        a request failed for good, after its retries
    ├── ParseError        a response arrived but is not what the source should send
    ├── ExtractError      an article page holds no article text
    ├── QueryError        a search query that cannot be searched (empty, only punctuation)
    └── BadRequest        an API or CLI parameter that cannot be answered (``field``)
"""

from __future__ import annotations


class FinewsError(Exception):
    """An error with a message written for the person running finews."""


class ConfigError(FinewsError):
    pass


class ArchiveError(FinewsError):
    pass


class InvalidArticle(FinewsError):
    """One article cannot be accepted; the rest of its batch goes on."""


class PostError(InvalidArticle):
    pass


class FetchError(FinewsError):
    """A request failed for good (after retries): the message says what and where."""


class ParseError(FinewsError):
    """A response arrived but is not what the source should send."""


class ExtractError(FinewsError):
    pass


class QueryError(FinewsError):
    """A search query that cannot be searched (empty, or only punctuation)."""


class BadRequest(FinewsError):
    """Input that cannot be answered; ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
