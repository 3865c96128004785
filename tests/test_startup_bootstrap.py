"""Start-up housekeeping (`context.bootstrap`) with one server: what it removes, and what it costs.

Alone on its database, a server's start finds no upload of another in the artifact store, so it lists
the store once, to sweep the blobs no row names: each listing of a bucket is a request per thousand
objects, of a folder a walk through it, and the start waits for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from champion.artifacts import ArtifactStore
from champion.context import ServerContext, bootstrap


class CountingStore:
    """The context's store, counting how often it is listed."""

    def __init__(self, store: ArtifactStore) -> None:
        self._store = store
        self.listings = 0

    def digests(self, *, older_than: float = 0) -> Iterable[str]:
        self.listings += 1
        return self._store.digests(older_than=older_than)

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def test_alone_a_start_lists_the_store_once_and_still_sweeps_what_no_row_names(
    context: ServerContext, tmp_path: Path
) -> None:
    orphan = tmp_path / "kept, then the server died before committing"
    orphan.write_bytes(b"model bytes")
    digest = context.store.keep(context.store.stage(orphan))
    counting = CountingStore(context.store)
    bootstrap(dataclasses.replace(context, store=counting))  # type: ignore[arg-type]
    assert counting.listings == 1
    assert not context.store.exists(digest)
