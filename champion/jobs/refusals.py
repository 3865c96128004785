"""A humility refusal met while scoring part of a job's block, named by the row counted in the block.

The engine applies a deployment's humility rules to each call it answers, so a `throw_error` rule names
the row within the chunk (in-process) or partition (Dask) it saw; a job fails naming the row of its
input block or data asset instead, the same row however the job was cut up.
"""

from __future__ import annotations

from champion.serving.humility import HumilityRefused


def in_block(refusal: HumilityRefused, first_row: int) -> HumilityRefused:
    """`refusal` from rows starting at `first_row` of a block, naming the row counted in the block."""
    if not first_row:
        return refusal
    row = refusal.row + first_row
    # The rule's own error_message is kept as written; the default one ends with the row it names.
    suffix = f" refused row {refusal.row}"
    message = refusal.message
    if message.endswith(suffix):
        message = message.removesuffix(suffix) + f" refused row {row}"
    return HumilityRefused(message, rule=refusal.rule, row=row)
