"""What an import did, item by item: the report a face renders."""

from __future__ import annotations

import datetime as dt
import enum
from collections import Counter
from dataclasses import dataclass


class ItemKind(enum.StrEnum):
    MODEL = "model"
    DATA_ASSET = "data_asset"
    DEPLOYMENT = "deployment"


class Outcome(enum.StrEnum):
    """What became of one archive item in the target space."""

    CREATED = "created"
    NEW_REVISIONS = "new_revisions"
    """A model of that name existed; the revisions it lacked were added to it."""
    REPLACED = "replaced"
    """A data asset of that name existed; its content is now the archive's."""
    UNCHANGED = "unchanged"
    """The space already held it as the archive has it."""
    SKIPPED = "skipped"
    """The space holds an item of that name that differs, and an import does not change it."""


@dataclass(frozen=True)
class ItemReport:
    kind: ItemKind
    name: str
    outcome: Outcome
    id: str | None
    """The item's id in the target space."""
    reason: str
    revisions: tuple[int, ...] = ()
    """For a model: the revision numbers this import added, in the target's numbering."""


@dataclass(frozen=True)
class ImportReport:
    space_id: str
    source_space_id: str
    source_space_name: str
    exported_at: dt.datetime
    items: tuple[ItemReport, ...]

    def summary(self) -> dict[str, int]:
        counts = Counter(item.outcome for item in self.items)
        return {outcome.value: counts[outcome] for outcome in Outcome}
