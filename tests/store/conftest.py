from __future__ import annotations

from collections.abc import Iterator

import pytest

from finews.store import Store, open_store
from tests.pg import fresh_postgres_url


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path) -> Iterator[Store]:
    """Every store test runs against each backend."""
    if request.param == "sqlite":
        s = open_store(str(tmp_path / "archive.db"))
        yield s
        s.close()
        return
    with fresh_postgres_url() as url:
        s = open_store(url)
        yield s
        s.close()
