"""Files attached to a conversation, over HTTP: ``/api/conversations`` makes one, attaches files to
it (raw bytes or a multipart form), lists and removes them and removes it; an attached file's
document view and PDF page image are under ``/conversations/{id}/documents``. The store itself is
``attachments.Attachments``.

A file's body is streamed to a private file in its conversation's folder as it arrives, never
held whole in memory (30 bodies of 19 MB sent at once grew the server by 980 MB): the
conversation's room is checked on the declared length before any of it is read and again on every
chunk; at most ``RECEIVING`` bodies are received at once, more are answered 503 with
``Retry-After`` at once (the server reads and drops a refused body, so the client sees the reply).
"""
from __future__ import annotations

from typing import Any, Callable

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from bot.serve.attachments import AttachError, Attachments, Incoming
from bot.serve.document_view import document_view, page_response
from bot.serve.guard import ATTACH_OFF, UPLOAD_SLACK
from bot.serve.api import BotsByStrictness
from bot.serve.pdf_pages import MAX_ZOOM, PageCache


class ConversationReply(BaseModel):
    conversation: str = Field(description="the new conversation's id: keep it private, it is the only key to its files")
    limits: dict[str, Any] = Field(description="what a conversation may hold")


UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


RECEIVING = 4  # upload bodies received at once (each a file being written); more are refused 503
RETRY_AFTER = 10  # seconds a client refused as busy is told to wait
FORM_FIELDS_BYTES = 64 * 1024  # a multipart form's parts other than the file, together


class Receiving:
    """The upload bodies being received now (the event loop's only: no lock)."""

    def __init__(self, most: int = RECEIVING):
        self.most, self.now = most, 0

    def take(self) -> None:
        """One more, or HTTPException 503 with Retry-After when ``most`` are being received."""
        if self.now >= self.most:
            raise HTTPException(status_code=503, headers={"Retry-After": str(RETRY_AFTER)},
                                detail=f"the server is receiving {self.most} other files; try again in "
                                       f"{RETRY_AFTER} seconds")
        self.now += 1

    def done(self) -> None:
        self.now -= 1


async def receive_raw(request: Request, incoming: Incoming) -> None:
    """The body written to ``incoming`` as it arrives."""
    async for chunk in request.stream():
        if chunk:
            incoming.write(chunk)


async def receive_form(request: Request, incoming: Incoming) -> str:
    """The 'file' part of a multipart form written to ``incoming`` as it arrives; its file name.
    HTTPException 400 for a malformed form, 422 for one without a file."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise HTTPException(status_code=400, detail="a malformed multipart form (no boundary)")
    part: dict[str, Any] = {"headers": {}, "field": b"", "value": b"", "to_file": False}
    form = {"name": None, "fields": 0}  # the file's name once its part started; bytes of other parts

    def header_end() -> None:
        part["headers"][bytes(part["field"]).lower()] = bytes(part["value"])
        part["field"], part["value"] = b"", b""

    def headers_finished() -> None:
        _, opts = parse_options_header(part["headers"].get(b"content-disposition", b""))
        if opts.get(b"name") == b"file" and form["name"] is None:
            form["name"] = opts.get(b"filename", b"").decode("utf-8", "replace")
            part["to_file"] = True

    def data(chunk: bytes, start: int, end: int) -> None:
        if part["to_file"]:
            incoming.write(chunk[start:end])
            return
        form["fields"] += end - start
        if form["fields"] > FORM_FIELDS_BYTES:
            raise HTTPException(status_code=413, detail=f"a form's fields other than the file take at most "
                                                        f"{FORM_FIELDS_BYTES // 1024} KB")

    def part_begin() -> None:
        part.update(headers={}, field=b"", value=b"", to_file=False)

    callbacks: Any = {
        "on_part_begin": part_begin, "on_headers_finished": headers_finished, "on_part_data": data,
        "on_header_field": lambda d, s, e: part.update(field=part["field"] + d[s:e]),
        "on_header_value": lambda d, s, e: part.update(value=part["value"] + d[s:e]),
        "on_header_end": header_end, "on_part_end": lambda: part.update(to_file=False)}
    parser = MultipartParser(boundary, callbacks, max_header_count=8, max_header_size=4096)
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError:
        raise HTTPException(status_code=400, detail="a malformed multipart form") from None
    if form["name"] is None:
        raise HTTPException(status_code=422, detail="send the file as the 'file' field of the form")
    return form["name"]


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
            busy = {"Retry-After": str(RETRY_AFTER)} if exc.status in (429, 503) else None
            raise HTTPException(status_code=exc.status, detail=str(exc), headers=busy) from None

    add_file_routes(app, need, call)
    add_attached_document_routes(app, need, call, pages)


def add_file_routes(app: FastAPI, need: Callable[[], Attachments], call: Callable[..., Any]) -> None:
    """Make a conversation, attach files to it, list and remove them, remove it (``need``: the store,
    or 403; ``call``: a store method, its refusal as the HTTP error it names)."""
    tags = ["conversations"]

    receiving = Receiving()

    @app.post("/api/conversations", status_code=201, tags=tags, response_model=ConversationReply,
              summary="Start a conversation that files can be attached to",
              description="429 when the client's address, or the server, holds as many conversations as it may.")
    def new_conversation(request: Request) -> dict[str, Any]:
        s = need()
        owner = request.client.host if request.client else None
        return {"conversation": call(s.create, owner), "limits": s.limits_dict()}

    @app.post("/api/conversations/{conversation}/files", status_code=201, tags=tags, openapi_extra=UPLOAD_BODY,
              summary="Attach a file (PDF, Markdown, text, HTML, JSON Lines) to a conversation",
              description="Send the file's bytes as the body (name it with `?filename=`), or as the `file` field "
                          "of a multipart form. The type is read from the bytes, not the name. A conversation holds "
                          "at most 10 files and 20 MB; PDFs at most 500 pages and 60 s to read. Each refusal says "
                          "which limit: 404 no such conversation (or it was closed while the file arrived: the "
                          "file is dropped), 409 too many files, 413 too large (said on the declared length before "
                          "the body is read), 415 not a supported type, 422 unreadable, 503 busy (see Retry-After).")
    async def attach(conversation: str, request: Request,
                     filename: str = Query("", max_length=1000, description="the file's name, as cited")) -> Response:
        s = need()
        form = request.headers.get("content-type", "").split(";")[0].strip().lower() == "multipart/form-data"
        length = request.headers.get("content-length", "")
        declared = int(length) if length.isdigit() else 0  # the guard refused a malformed one
        if form:
            declared = max(0, declared - UPLOAD_SLACK)  # the form's framing is not the file's
        # no such conversation, no room for that many bytes: said before the body is read
        incoming = call(s.receive, conversation, filename or "file", declared)
        try:
            receiving.take()  # 503 at once, its room given back
            try:
                name = await receive_form(request, incoming) if form else await receive_raw(request, incoming)
                incoming.finish()
            except AttachError as exc:
                raise HTTPException(status_code=exc.status, detail=str(exc)) from None
            except ClientDisconnect:  # gone, or cut off for sending too slowly (answered 408 by the server)
                return Response(status_code=400)
            finally:
                receiving.done()
            info = await run_in_threadpool(call, s.add, conversation, filename or name or "", incoming)
        finally:
            incoming.discard()
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
