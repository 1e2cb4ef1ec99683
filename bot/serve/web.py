"""The HTTP application around the page, put together from its routes: the JSON API (``api``:
``POST /api/ask``, ``GET /api/documents/{id}``), the document view and PDF page images
(``document_view``, ``pdf_pages``), files attached to a conversation (``attach_routes``:
``/api/conversations``), OpenAPI at ``/docs``. The safety rules every request passes are
``guard.Guard``'s; ``ui.py`` mounts the Gradio page on the app and wraps it in the guard.

FastAPI and Starlette come with Gradio; this module does not import Gradio itself.
"""
from __future__ import annotations

import contextlib
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from bot.chatbot import ChatBot, LiveBot
from bot.serve.api import BotsByStrictness, add_api_routes
from bot.serve.attach_routes import add_conversation_routes
from bot.serve.attachments import Attachments
from bot.serve.document_view import add_document_routes
from bot.serve.health import add_health_route
from bot.serve.pdf_pages import PageCache


def make_app(bot: "ChatBot | LiveBot", attachments: Attachments | None = None, replica: str = "") -> FastAPI:
    """The server: JSON API routes; the page is mounted on it by ``ui.serve_app``. With
    ``attachments``, conversations can hold files of their own (``/api/conversations``);
    without, those routes answer 403. ``GET /healthz`` for a load balancer (``replica``: this
    process's name among several, ``serve/replicas``)."""
    bots = BotsByStrictness(bot)
    pages = PageCache()
    # Swagger UI and ReDoc from the fastapi-offline package: FastAPI's own /docs loads them from a CDN
    app = FastAPIOffline(title="Grounded answers", version="1",
                  description="Answers only from the loaded sources, quoting them verbatim with citations. "
                              "The reply object is the same as `python -m bot ask --json`.")

    app.state.pages = pages  # the rendered PDF pages (tests read its render count)

    add_health_route(app, bot, replica)
    add_api_routes(app, bot, bots, attachments)
    add_document_routes(app, bot, pages)
    add_conversation_routes(app, bots, attachments, pages)
    app.state.attachments = attachments
    if attachments is not None:
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(a: Any) -> Any:
            """Attached files are deleted when the server stops (uvicorn ends a SIGTERM by raising
            it again once shut down, so no atexit handler would run)."""
            async with inner(a) as state:
                try:
                    yield state
                finally:
                    attachments.close()

        app.router.lifespan_context = lifespan
    return app
