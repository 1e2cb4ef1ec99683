"""The real server in a process of its own, for tests that measure what a client sees on the wire
and what the server's process holds in memory: the JSON API and the attachments routes behind the
request guard, served by ``bot.serve.server`` on a free loopback port (no Gradio: it starts in a
second and its memory is the server's own, not the page's).

- ``LiveServer(tmp_path, limits={...}, store={...})``: ``limits`` are ``server.Limits`` fields,
  ``store`` are ``Attachments`` keyword arguments; the store's files are under ``tmp_path``.
- ``rss()`` / ``peak_rss()``: the process's resident memory now / at its peak since
  ``reset_peak()`` (``VmRSS`` / ``VmHWM`` of ``/proc/PID/status``).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, sys
config = json.loads(sys.argv[1])
from bot import ChatBot
from bot.serve import server
from bot.serve.attachments import Attachments
from bot.serve.guard import Guard
from bot.serve.web import make_app
sock = server.bind("127.0.0.1", 0)
bot = ChatBot.load()
store = Attachments(bot, root=config["root"], **config["store"])
app = Guard(make_app(bot, store), uploads=True)
print("READY", sock.getsockname()[1], flush=True)
server.serve(app, sock, server.Limits(**config["limits"]))
"""


class LiveServer:
    def __init__(self, tmp_path: Path, limits: dict[str, Any] | None = None, store: dict[str, Any] | None = None):
        self.root = tmp_path / "attached"
        config = {"root": str(self.root), "limits": limits or {}, "store": store or {}}
        self.proc = subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(config)], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # blocks until the server has bound its port (or died)
        if not line.startswith("READY"):
            self.proc.kill()
            raise RuntimeError(f"the server did not start: {line}{self.proc.stderr.read()}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def _status(self, key: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        raise KeyError(key)

    def rss(self) -> int:
        return self._status("VmRSS")

    def reset_peak(self) -> None:
        """The peak (VmHWM) starts again from the resident memory now (Linux: clear_refs 5)."""
        with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
            f.write("5")

    def peak_rss(self) -> int:
        return self._status("VmHWM")

    def stored_files(self) -> list[Path]:
        """Every attached or arriving file the store holds on disk (not the saved indexes made of
        them, ``index-N`` folders in a conversation's folder)."""
        if not self.root.exists():
            return []
        return sorted(p for p in self.root.rglob("*")
                      if p.is_file() and not any(part.startswith("index-") for part in p.relative_to(self.root).parts))

    def close(self) -> str:
        """Stop the server; its standard error."""
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


