"""What a load balancer asks of one app process: ``GET /healthz`` (up, which replica, how many
passages its loaded index holds, how many times it has loaded a newer one), and the replica's name,
which starts its conversation ids so the balancer can send a conversation's requests to the
process that holds its attached files (``serve/replicas`` writes the HAProxy rules that read it).

The health check also looks for a newer index generation (``LiveBot.current``): a replica nobody
asks picks up an update at the balancer's next check, not at its next user's question.
Standard library only (app.py checks ``--replica`` before anything heavy is imported).
"""
from __future__ import annotations

import re
from typing import Any

# a replica's conversation ids are "NAME-" + a random token: the name holds no "-", so the id's first
# "-" ends it; and the id stays in the alphabet the page's script accepts ([A-Za-z0-9_-])
ID_SEPARATOR = "-"
_NAME = re.compile(r"[a-z][a-z0-9]{0,30}")


def replica_name(text: str) -> str:
    """``text`` as a replica name (a lower-case letter, then at most 30 lower-case letters or
    digits), or ValueError: it is written into conversation ids, URLs and the balancer's config."""
    if not _NAME.fullmatch(text):
        raise ValueError(f"{text!r} is no replica name: a lower-case letter, then at most 30 of a-z, 0-9")
    return text


def id_prefix(replica: str) -> str:
    """What starts the conversation ids of ``replica`` ("" when the process serves alone)."""
    return replica_name(replica) + ID_SEPARATOR if replica else ""


def add_health_route(app: Any, bot: Any, replica: str = "") -> None:
    """``GET /healthz`` on ``app`` (a FastAPI app serving ``bot``, a ChatBot or LiveBot)."""

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:  # a plain def: FastAPI runs it in a worker thread, so a reload blocks no one
        current = bot.current()  # a LiveBot loads a newer index here if there is one
        return {"status": "ok", "replica": replica, "passages": int(current.index.retriever.size),
                "reloads": int(getattr(bot, "reloads", 0))}
