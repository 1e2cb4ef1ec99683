"""Files attached to a conversation, over HTTP: ``/api/conversations`` makes one, attaches files to
it (raw bytes or a multipart form), lists and removes them and removes it; an attached file's
document view and PDF page image are under ``/conversations/{id}/documents``. The store itself is
``attachments.Attachments``."""
from __future__ import annotations

from typing import Any, Callable

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from bot.serve.attachments import AttachError, Attachments
from bot.serve.document_view import document_view, page_response
from bot.serve.guard import ATTACH_OFF
from bot.serve.api import BotsByStrictness
from bot.serve.pdf_pages import MAX_ZOOM, PageCache


class ConversationReply(BaseModel):
    conversation: str = Field(description="the new conversation's id: keep it private, it is the only key to its files")
    limits: dict[str, Any] = Field(description="what a conversation may hold")


UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


def add_conversation_routes(app: FastAPI, bots: BotsByStrictness, store: Attachments | None, pages: PageCache) -> None:
    """``/api/conversations``: make one, attach files to it, list and remove them, remove it; the
    document view and PDF page image of an attached file under ``/conversations/{id}/documents``.
    Every route answers 403 when attachments are off (``store`` is None)."""

    def need() -> Attachments:
        if store is None:
            raise HTTPException(status_code=403, detail=ATTACH_OFF)
        return store

    def call(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except AttachError as exc:
            raise HTTPException(status_code=exc.status, detail=str(exc)) from None

    add_file_routes(app, need, call)
    add_attached_document_routes(app, need, call, pages)


def add_file_routes(app: FastAPI, need: Callable[[], Attachments], call: Callable[..., Any]) -> None:
    """Make a conversation, attach files to it, list and remove them, remove it (``need``: the store,
    or 403; ``call``: a store method, its refusal as the HTTP error it names)."""
    tags = ["conversations"]

    @app.post("/api/conversations", status_code=201, tags=tags, response_model=ConversationReply,
              summary="Start a conversation that files can be attached to")
    def new_conversation() -> dict[str, Any]:
        s = need()
        return {"conversation": s.create(), "limits": s.limits_dict()}

    @app.post("/api/conversations/{conversation}/files", status_code=201, tags=tags, openapi_extra=UPLOAD_BODY,
              summary="Attach a file (PDF, Markdown, text, HTML, JSON Lines) to a conversation",
              description="Send the file's bytes as the body (name it with `?filename=`), or as the `file` field "
                          "of a multipart form. The type is read from the bytes, not the name. A conversation holds "
                          "at most 10 files and 20 MB; PDFs at most 500 pages and 60 s to read. Each refusal says "
                          "which limit: 404 no such conversation, 409 too many files, 413 too large, 415 not a "
                          "supported type, 422 unreadable.")
    async def attach(conversation: str, request: Request,
                     filename: str = Query("", max_length=1000, description="the file's name, as cited")) -> JSONResponse:
        s = need()
        call(s.files, conversation)  # no such conversation: said before the body is read
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            try:
                form = await request.form(max_files=1, max_fields=5)
            except Exception:  # noqa: BLE001 - a malformed form
                raise HTTPException(status_code=400, detail="a malformed multipart form") from None
            part = form.get("file")
            if part is None or isinstance(part, str):
                raise HTTPException(status_code=422, detail="send the file as the 'file' field of the form")
            data, name = await part.read(), filename or part.filename or ""
            await form.close()
        else:
            data, name = await request.body(), filename
        if len(data) > s.max_bytes:
            raise HTTPException(status_code=413, detail=f"the file is over the {s.max_bytes // 1048576} MB limit")
        info = await run_in_threadpool(call, s.add, conversation, name, data)
        return JSONResponse({"conversation": conversation, "file": info, "files": call(s.files, conversation)},
                            status_code=201)

    @app.get("/api/conversations/{conversation}/files", tags=tags, summary="The files attached to a conversation")
    def list_files(conversation: str) -> dict[str, Any]:
        s = need()
        return {"conversation": conversation, "files": call(s.files, conversation), "limits": s.limits_dict()}

    @app.delete("/api/conversations/{conversation}/files/{file_id}", tags=tags,
                summary="Remove one attached file")
    def remove_file(conversation: str, file_id: str) -> dict[str, Any]:
        s = need()
        return {"conversation": conversation, "files": call(s.remove_file, conversation, file_id)}

    @app.delete("/api/conversations/{conversation}", status_code=204, tags=tags,
                summary="Remove a conversation and its files")
    def remove_conversation(conversation: str) -> Response:
        if not need().remove(conversation):
            raise HTTPException(status_code=404, detail="no such conversation")
        return Response(status_code=204)


def add_attached_document_routes(app: FastAPI, need: Callable[[], Attachments], call: Callable[..., Any],
                                 pages: PageCache) -> None:
    """The document view and PDF page image of a file attached to a conversation."""

    @app.get("/conversations/{conversation}/documents/{doc_id:path}/view", response_class=HTMLResponse,
             include_in_schema=False)
    def attached_view(conversation: str, doc_id: str, start: int = Query(-1), end: int = Query(-1),
                      hl: str = Query("", max_length=2000)):
        d, path = call(need().document, conversation, doc_id)
        return document_view(d, start, end, hl, path is not None)

    @app.get("/conversations/{conversation}/documents/{doc_id:path}/page.png", include_in_schema=False)
    def attached_page(conversation: str, doc_id: str, page: int = Query(..., ge=1, le=100_000),
                      hl: str = Query("", max_length=2000), zoom: int = Query(1, ge=1, le=MAX_ZOOM)):
        d, path = call(need().document, conversation, doc_id)
        return page_response(pages, d, path, page, hl, zoom)
