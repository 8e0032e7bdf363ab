from __future__ import annotations

from collections.abc import Iterator

import pytest

from finews.store import Store, open_store


@pytest.fixture(params=["sqlite"])
def store(request, tmp_path) -> Iterator[Store]:
    """Every store test runs against each backend."""
    s = open_store(str(tmp_path / "archive.db"))
    yield s
    s.close()
