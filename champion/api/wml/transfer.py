"""/v2/spaces/{id}/export and /import: a space as a downloadable archive, and archives or spaces imported into one."""

from __future__ import annotations

import shutil
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from champion.api.deps import ActorDep, SessionDep, SettingsDep, StoreDep
from champion.api.wml.errors import WMLRoute
from champion.artifacts.store import receive
from champion.transfer import service as transfer
from champion.transfer.types import ImportReport

router = APIRouter(route_class=WMLRoute)


@router.get("/v2/spaces/{space_id}/export", response_class=StreamingResponse)
def export_space(space_id: str, session: SessionDep, actor: ActorDep, store: StoreDep) -> StreamingResponse:
    export = transfer.export_space(session, actor, store, space_id=space_id)
    # Streamed: no Content-Length, as the compressed size is known only once the last blob is sent.
    disposition = f'attachment; filename="{export.file_name}"'
    return StreamingResponse(
        export.chunks(), media_type="application/gzip", headers={"Content-Disposition": disposition}
    )


@router.post("/v2/spaces/{space_id}/import")
async def import_into_space(
    space_id: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    store: StoreDep,
    settings: SettingsDep,
    from_space: str | None = None,
) -> dict[str, Any]:
    limit = settings.max_upload_bytes
    if from_space is not None:
        report = await run_in_threadpool(
            transfer.import_space, session, actor, store, space_id=space_id, source_space_id=from_space, limit=limit
        )
        return render(report)
    # Asked before the body is read, so a viewer is not made to upload a whole archive to hear no.
    await run_in_threadpool(transfer.check_importer, session, actor, space_id=space_id)
    folder = store.stage_dir()
    try:
        upload = folder / "archive.tar.gz"
        await receive(request.stream(), upload, limit=limit)
        report = await run_in_threadpool(
            transfer.import_archive, session, actor, store, space_id=space_id, upload=upload, limit=limit
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return render(report)


def render(report: ImportReport) -> dict[str, Any]:
    return {
        "space_id": report.space_id,
        "source": {
            "space_id": report.source_space_id,
            "space_name": report.source_space_name,
            "exported_at": report.exported_at.isoformat(),
        },
        "summary": report.summary(),
        "items": [
            {
                "type": item.kind.value,
                "name": item.name,
                "outcome": item.outcome.value,
                "id": item.id,
                "revisions": list(item.revisions),
                "reason": item.reason,
            }
            for item in report.items
        ],
    }
