"""Files a visitor attaches to one conversation, answered from together with the corpus.

A conversation is known by a random id (``secrets``): whoever holds the id sees its files, nobody
else does, and ids are never listed. Each conversation's files become a small ``ChatBot`` of
their own: every file, whatever its type, is read by the same readers as any corpus and indexed
in a child process with CPU, memory and time limits (``bot.index.attached``, started through
``bot.sources.isolated.run_child``), which writes a saved index into the conversation's private
folder and measures what it takes loaded; the server loads it (``bot.index.store.load``: texts
stay in memory-mapped files), so reading and indexing never hold the server's memory nor its
interpreter lock. A question asked within the conversation goes to both bots and the stronger
reply is kept (``stronger``).

Limits, each refused with a message that names the file and the limit:
- the type is sniffed from the bytes (PDF magic, HTML tags, JSON Lines, UTF-8 or UTF-16 text; an
  HTML page in the encoding it declares, decoded as the corpus readers decode it), never taken
  from the name: ``report.exe`` holding text is read as text, a PNG named ``a.md``
  is refused;
- at most ``MAX_FILES`` files and ``MAX_BYTES`` bytes per conversation, PDFs at most
  ``isolated.MAX_PAGES`` pages and ``isolated.PARSE_SECONDS`` seconds to read;
- the memory all conversations' indexes take (measured by the child that built each, see
  ``bot.index.attached.measure``) stays within ``MEMORY_BUDGET``, and their files on disk within
  ``DISK_BUDGET``: the conversations used longest ago are removed to make room (their owners are
  told why, ``REMOVED``), and one conversation may take at most ``CONVERSATION_SHARE`` of the memory;
- at most ``PARALLEL_READS`` files are read at once and ``WAITING_READS`` wait; more are refused
  with "busy" (503) instead of holding the server's threads;
- a conversation idle for ``IDLE_SECONDS`` is removed with its files (the clock is injectable);
- at most ``MAX_CONVERSATIONS`` conversations in all and ``CONVERSATIONS_PER_ADDRESS`` made from
  one client address (429 past either). To make room for a new one, conversations never used
  (no file attached, nothing asked) go first, oldest first, then those idle for
  ``ACTIVE_SECONDS`` or more; one used within ``ACTIVE_SECONDS`` is never removed for a new one:
  10,053 creations in 8 s removed a conversation in use, and its owner got 404.

A file's bytes reach the store as a file already written in the conversation's folder
(``incoming``, streamed there by ``attach_routes``), room for them reserved before they arrive
(``reserve``); a file that arrives after its conversation was removed is dropped with the folder.

Files are written to a private temporary folder (mode 0700), one folder per conversation,
removed with the conversation.
"""
from __future__ import annotations

import atexit
import codecs
import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from bot.chatbot import ChatBot
from bot.config import CorpusError, Manifest
from bot.answer.understand import Question
from bot.index import store
from bot.model import Document, Reply
from bot.sources import isolated
from bot.sources.formats import READERS
from bot.sources.readers import decode_html, html_encoding

MAX_FILES = 10  # files in one conversation
MAX_BYTES = 20 * 1024 * 1024  # bytes of all the files of one conversation
MEMORY_BUDGET = 512 * 1024 * 1024  # measured memory of all conversations' indexes
DISK_BUDGET = 2 * 1024 * 1024 * 1024  # bytes of all conversations' files on disk
CONVERSATION_SHARE = 0.25  # of the budget, one conversation's files may take at most this much
IDLE_SECONDS = 3600  # a conversation not used for this long is removed
MAX_CONVERSATIONS = 10_000  # open conversations (most without files)
CONVERSATIONS_PER_ADDRESS = 1_000  # open conversations made from one client address
ACTIVE_SECONDS = 15 * 60  # a conversation used this recently is never removed to make room for a new one
MAX_NAME_CHARS = 120
SNIFF_HEAD = 1024 * 1024  # bytes of a file its kind is read from (more than the 200,000 characters looked at)
PARALLEL_READS = 2  # files read and indexed at once (each takes a core)
WAITING_READS = 8  # more files waiting than this are refused (503) rather than holding server threads
ATTACHED = "attached: "  # a cited source that is an attached file: "attached: report.pdf"
SUPPORTED = "PDF, Markdown, text, HTML, JSON Lines"
KINDS = {kind: reader.suffixes[0] for kind, reader in READERS.items()}  # a kind -> the suffix its file is saved under
INDEXER = "bot.index.attached"  # the child that reads and indexes a conversation's files
REMEMBERED = 100_000  # ids of removed conversations kept with why they went


UNAVAILABLE = "unavailable: "  # the page's hidden conversation id when none could be made, then why


class AttachError(Exception):
    """A request the store refuses; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


NOT_FOUND = ("no such conversation (it was removed after {idle} minutes idle, to make room, or with "
             "New conversation); start a new one")
REMOVED = {  # why a conversation this server held was removed, as its owner is told (404)
    "idle": "no such conversation: it was removed with its files after {idle} minutes idle; start a new one",
    "memory": ("no such conversation: it was removed with its files to make room in the server's memory for "
               "other conversations' files (it was the one used longest ago); start a new one and attach them again"),
    "disk": ("no such conversation: it was removed with its files to make room on the server's disk for "
             "other conversations' files (it was the one used longest ago); start a new one and attach them again"),
    "many": ("no such conversation: it was removed to make room for newer ones (the server keeps at most "
             "{most:,}); start a new one"),
    "closed": "no such conversation: it was closed (New conversation) and its files removed; start a new one",
}


ROOT_PREFIX = "bot-attached-"  # a server's private folder in the temporary folder
ROOT_LOCK = ".owner.lock"  # held (flock) by the server using the folder, as long as its process lives


def private_root() -> tuple[Path, int]:
    """A new private folder (0700) in the temporary folder, and the descriptor holding its lock
    (the kernel lets it go when the process ends, however it ends). Made under another name and
    renamed once locked, so no other server ever sees it unlocked."""
    making = Path(tempfile.mkdtemp(prefix=".making-" + ROOT_PREFIX))
    fd = os.open(making / ROOT_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    root = making.with_name(making.name[len(".making-"):])
    os.rename(making, root)
    return root, fd


def remove_orphans(tmp: Path) -> list[Path]:
    """Remove the attachment folders in ``tmp`` that belong to this user and whose server is gone
    (killed, so its exit handler never ran): nobody holds their lock. A lock, not a process id:
    servers in other containers sharing the folder have process ids this one cannot see. Folders
    without a lock file (another server creating its own right now) are left alone. Returns the
    folders removed; never raises."""
    removed = []
    for folder in tmp.glob(ROOT_PREFIX + "*"):
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.lstat().st_uid != os.getuid():
                continue
            fd = os.open(folder / ROOT_LOCK, os.O_RDWR | os.O_NOFOLLOW)
        except OSError:  # not ours, no lock file, or gone meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises while its server holds it
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        except OSError:  # in use
            continue
        finally:
            os.close(fd)
    return removed


def clean_name(name: Any) -> str:
    """A file name as shown and cited: its last path part, control characters dropped, at most
    ``MAX_NAME_CHARS`` characters; "file" when nothing is left."""
    text = str(name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C").strip()
    text = re.sub(r"\s+", " ", text)
    if len(text) > MAX_NAME_CHARS:
        stem, dot, ext = text.rpartition(".")
        text = (stem[: MAX_NAME_CHARS - len(ext) - 2] + "…." + ext) if dot and len(ext) <= 10 else \
            text[: MAX_NAME_CHARS - 1] + "…"
    return text or "file"


_HTML = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|meta|p|div|h[1-6]|article|section|table|ul|ol|"
                   rb"a\s|span|br|script|style)\b", re.I)
_MARKDOWN = re.compile(r"^(?:#{1,6} \S|[-*+] \S|\d{1,3}\. \S|```|> \S)|\[[^\]\n]+\]\([^)\n]+\)|\*\*\S", re.M)
_BINARY = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"PK\x03\x04", b"MZ", b"\x7fELF", b"\x1f\x8b", b"BZh",
           b"7z\xbc\xaf", b"Rar!", b"\xd0\xcf\x11\xe0", b"RIFF", b"OggS", b"\x00\x00\x00")


def decode_text(data: bytes) -> str | None:
    """The bytes as text (UTF-8, or UTF-16 with its byte-order mark), or None if they are not text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return _legible(text)


def _legible(text: str) -> str | None:
    """The text, or None when control characters show it is binary data."""
    if "\x00" in text:
        return None
    controls = sum(1 for c in text[:20000] if unicodedata.category(c) == "Cc" and c not in "\n\r\t\f\v")
    return None if controls > 0.01 * max(1, min(len(text), 20000)) else text


def sniff(data: bytes, name: str = "") -> str:
    """The file's kind read from its bytes: "pdf", "html", "jsonl", "markdown" or "text". The name
    only tells Markdown from plain text (both read the same way). Raises AttachError otherwise."""
    shown = clean_name(name)
    if not data.strip():
        raise AttachError(f"{shown}: the file is empty", 422)
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(_BINARY):
        raise AttachError(f"{shown}: not a supported type ({SUPPORTED})", 415)
    text = decode_text(data)
    if text is None and html_encoding(data) is not None:
        text = _legible(decode_html(data))  # a page in the encoding it declares (Latin-1, Shift JIS, ...)
    if text is None:
        raise AttachError(f"{shown}: not a supported type ({SUPPORTED}); it is not text (UTF-8 or UTF-16)", 415)
    return _text_kind(text, name)


def sniff_file(path: Path, name: str = "") -> str:
    """``sniff`` for a file on disk, reading at most ``SNIFF_HEAD`` bytes at a time: the kind is
    read from its first ``SNIFF_HEAD`` bytes (all ``sniff`` looks at), and the rest of a text is
    only checked to decode."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_HEAD)
        rest = f.read(1)
        if not rest:
            return sniff(head, name)
        shown = clean_name(name)
        if b"%PDF-" in head[:1024]:
            return "pdf"
        if head.startswith(_BINARY):
            raise AttachError(f"{shown}: not a supported type ({SUPPORTED})", 415)
        utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
        decoder = codecs.getincrementaldecoder("utf-16" if utf16 else "utf-8-sig")()
        text: str | None = None
        try:
            chunk, text = head + rest, ""
            while chunk:
                if not utf16 and b"\x00" in chunk:
                    raise ValueError("a NUL byte: not text")
                piece = decoder.decode(chunk)
                if len(text) < SNIFF_HEAD:
                    text += piece[:SNIFF_HEAD]
                chunk = f.read(SNIFF_HEAD)
            decoder.decode(b"", final=True)
        except (UnicodeDecodeError, ValueError):
            text = None
    text = _legible(text) if text is not None else \
        _legible(decode_html(head)) if html_encoding(head) is not None else None
    if text is None:
        raise AttachError(f"{shown}: not a supported type ({SUPPORTED}); it is not text (UTF-8 or UTF-16)", 415)
    return _text_kind(text, name)


def _text_kind(text: str, name: str) -> str:
    """A text's kind: "html", "jsonl", "markdown" or "text" (read from its first 200,000 characters)."""
    head = text.lstrip()[:4096]
    if head.startswith("<") and _HTML.search(head.encode("utf-8", "replace")):
        return "html"
    lines = [line for line in text[:200_000].split("\n") if line.strip()][:50]
    if lines and lines[0].lstrip().startswith("{") and all(_json_object(line) for line in lines):
        return "jsonl"
    if name.lower().endswith((".md", ".markdown")) or len(_MARKDOWN.findall(text[:100_000])) >= 2:
        return "markdown"
    return "text"


def _json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


@dataclass
class AttachedFile:
    id: str  # "1", "2", ... within the conversation
    name: str  # as shown and cited
    kind: str
    size: int
    path: Path
    documents: tuple[str, ...]  # its documents' ids (their text is in the conversation's saved index)
    pages: int | None = None  # a PDF's
    problems: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return ATTACHED + self.name

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "source": self.source, "type": self.kind,
                               "bytes": self.size, "documents": len(self.documents)}
        if self.pages is not None:
            out["pages"] = self.pages
        if self.problems:
            out["problems"] = self.problems[:20]
        return out


class Conversation:
    """One conversation's files and the bot made of them."""

    def __init__(self, cid: str, now: float, owner: str | None = None):
        self.id = cid
        self.owner = owner  # the client address that made it (None: made by the page's own events)
        self.files: list[AttachedFile] = []
        self.bot: ChatBot | None = None
        self.used = now
        self.receiving_bytes = 0  # reserved by files still arriving (``Reservation``)
        self.receiving_files = 0
        self.folder: Path | None = None
        self.next_id = 1
        self.lock = threading.Lock()  # one file added or removed at a time
        self.pending_bytes = 0  # of files being read now
        self.pending_files = 0
        self.removed = False
        self.index: Path | None = None  # its files' saved index (in its folder), loaded as ``bot``
        self.memory = 0  # what that index takes loaded, as measured by the child that built it
        self.versions = 0  # indexes written (each in a folder of its own)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


RANK = {"answer": 2, "closest": 1, "none": 0}


ABOUT_THE_FILES = ("author", "published", "title", "about")  # questions about the sources the files answer first


def stronger(corpus: Reply, attached: Reply | None, about_the_files: bool = False) -> Reply:
    """The reply to keep: the higher support level (answer > closest > none), then the higher
    confidence; the corpus's on a tie, and always for small talk and refused input. A question
    about the sources themselves (``about_the_files``: who wrote them, when, their title, what
    they are about) is answered from the attached files whenever they answer it: both replies
    come from metadata at full confidence, and "who made this manual?" with a PDF attached was
    answered with the bundled corpus's author."""
    if attached is None or corpus.kind in ("smalltalk", "invalid"):
        return corpus
    if about_the_files and attached.support == "answer":
        return attached
    if (RANK[attached.support], attached.confidence) > (RANK[corpus.support], corpus.confidence):
        return attached
    return corpus


class Incoming:
    """A file arriving for a conversation (``Attachments.receive``): written to a private file in
    the conversation's folder as its bytes arrive, the room it takes in the conversation held
    (and refused, 413, past what is left) as it grows, never the whole file in memory."""

    def __init__(self, store: "Attachments", conv: Conversation, name: str, reserved: int):
        self.store, self.conv, self.name = store, conv, name
        self.reserved = reserved  # bytes held in conv.receiving_bytes
        self.received = 0
        self.path: Path | None = None
        self.file: Any = None
        self._held = True

    def write(self, chunk: bytes) -> None:
        """Write what arrived; AttachError 404 once its conversation is removed, 413 past its room."""
        if self.conv.removed:
            raise self.store._not_found(self.conv.id)
        if self.received + len(chunk) > self.reserved:
            with self.store._lock:
                if not self._held:
                    raise self.store._not_found(self.conv.id)
                more = self.received + len(chunk) - self.reserved
                self.store._room(self.conv, self.name, more)
                self.conv.receiving_bytes += more
                self.reserved += more
        self.file.write(chunk)
        self.received += len(chunk)

    def finish(self) -> None:
        """All its bytes have arrived."""
        self.file.close()

    def release(self) -> None:
        """Give back the room held (the store's lock is held)."""
        if self._held:
            self._held = False
            self.conv.receiving_bytes -= self.reserved
            self.conv.receiving_files -= 1

    def discard(self) -> None:
        """Close and delete the file if ``add`` did not take it, and give back its room."""
        if self.file is not None:
            self.file.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        with self.store._lock:
            self.release()


class Attachments:
    """The store: conversations by id, their files on disk and their bots in memory."""

    def __init__(self, corpus: Any, root: str | Path | None = None,
                 max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES, budget: int = MEMORY_BUDGET,
                 idle_seconds: float = IDLE_SECONDS, clock: Callable[[], float] = time.monotonic,
                 max_conversations: int = MAX_CONVERSATIONS, limits: isolated.Limits = isolated.Limits(),
                 share: float = CONVERSATION_SHARE, disk_budget: int = DISK_BUDGET,
                 per_address: int = CONVERSATIONS_PER_ADDRESS, active_seconds: float = ACTIVE_SECONDS,
                 id_prefix: str = ""):
        self.corpus = corpus  # a ChatBot or LiveBot: attached files are indexed and answered with its settings
        self.max_files, self.max_bytes, self.budget, self.share = max_files, max_bytes, budget, share
        self.disk_budget = disk_budget
        self.id_prefix = id_prefix  # a replica's "NAME-": a load balancer routes the conversation by it (serve/replicas)
        self.idle_seconds, self.clock, self.max_conversations, self.limits = idle_seconds, clock, max_conversations, limits
        self._root_given = root
        self._root_lock: int | None = None  # the descriptor holding the private folder's lock
        self._root: Path | None = None
        self.per_address, self.active_seconds = per_address, active_seconds
        self._items: OrderedDict[str, Conversation] = OrderedDict()  # least recently used first
        self._unused: OrderedDict[str, None] = OrderedDict()  # never used since made, oldest first
        self._owned: dict[str, int] = {}  # client address -> its open conversations
        self._lock = threading.Lock()
        self._reads = threading.Semaphore(PARALLEL_READS)
        self._loading = threading.Lock()  # one index loaded at a time: their passing peaks never add up
        self._waiting = 0  # files read now or waiting to be
        self._gone: OrderedDict[str, str] = OrderedDict()  # removed conversations' ids -> why (``REMOVED``)
        self.evicted = 0  # conversations removed to make room (tests read it)

    # ---- conversations ------------------------------------------------------------------
    def create(self, owner: str | None = None) -> str:
        """A new conversation's id; ``owner``: the client address asking (at most ``per_address``
        open conversations each). Raises AttachError 429 past a limit."""
        with self._lock:
            self._sweep()
            if owner is not None and self._owned.get(owner, 0) >= self.per_address:
                raise AttachError(f"this address has {self.per_address:,} conversations open, the most one address "
                                  f"may have; close some (New conversation closes the old one) or wait for idle ones "
                                  f"to be removed after {int(self.idle_seconds // 60)} minutes", 429)
            while len(self._items) >= self.max_conversations:
                if not self._make_room_for_one():
                    raise AttachError(f"the server has {self.max_conversations:,} conversations open, all in use in "
                                      f"the last {int(self.active_seconds // 60)} minutes; try again in a few minutes",
                                      429)
            cid = self.id_prefix + secrets.token_urlsafe(24)
            self._items[cid] = Conversation(cid, self.clock(), owner)
            self._unused[cid] = None
            if owner is not None:
                self._owned[owner] = self._owned.get(owner, 0) + 1
            return cid

    def _make_room_for_one(self) -> bool:
        """Remove the oldest conversation never used, else the one used longest ago if that was
        ``active_seconds`` ago or more; False when every conversation is in use (the lock is held)."""
        if self._unused:
            cid = next(iter(self._unused))
        else:
            cid, oldest = next(iter(self._items.items()))
            if self.clock() - oldest.used < self.active_seconds:
                return False
        self._drop(cid, "many")
        self.evicted += 1
        return True

    def exists(self, cid: str) -> bool:
        with self._lock:
            self._sweep()
            return isinstance(cid, str) and cid in self._items

    def _get(self, cid: Any) -> Conversation:
        """The conversation (marked as used now), or AttachError 404."""
        with self._lock:
            self._sweep()
            conv = self._items.get(cid) if isinstance(cid, str) else None
            if conv is None:
                raise self._not_found(cid)
            conv.used = self.clock()
            self._items.move_to_end(cid)
            self._unused.pop(cid, None)
            return conv

    def remove(self, cid: str) -> bool:
        """Remove a conversation and its files; False if there was none."""
        with self._lock:
            self._sweep()
            if cid not in self._items:
                return False
            self._drop(cid, "closed")
            return True

    def _not_found(self, cid: Any) -> AttachError:
        """The 404 for a conversation this store does not hold: why it was removed when it held it."""
        why = self._gone.get(cid) if isinstance(cid, str) else None
        if why is None:
            return AttachError(NOT_FOUND.format(idle=int(self.idle_seconds // 60)), 404)
        return AttachError(REMOVED[why].format(idle=int(self.idle_seconds // 60), most=self.max_conversations), 404)

    def __len__(self) -> int:
        with self._lock:
            self._sweep()
            return len(self._items)

    @property
    def memory(self) -> int:
        with self._lock:
            return sum(c.memory for c in self._items.values())

    def close(self) -> None:
        """Remove every conversation and the private folder."""
        with self._lock:
            for cid in list(self._items):
                self._drop(cid, "closed")
            if self._root is not None and self._root_given is None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None
            if self._root_lock is not None:
                os.close(self._root_lock)
                self._root_lock = None

    def _sweep(self) -> None:
        """Remove conversations idle for ``idle_seconds`` (the lock is held)."""
        now = self.clock()
        while self._items:
            cid, conv = next(iter(self._items.items()))
            if now - conv.used < self.idle_seconds:
                break
            self._drop(cid, "idle")

    def _drop(self, cid: str, why: str) -> None:
        """Remove a conversation (the lock is held), remembering why (``REMOVED``) for its owner."""
        conv = self._items.pop(cid)
        self._unused.pop(cid, None)
        if conv.owner is not None:
            left = self._owned.pop(conv.owner) - 1
            if left:
                self._owned[conv.owner] = left
        conv.removed = True
        conv.bot = None
        self._gone[cid] = why
        while len(self._gone) > REMEMBERED:
            self._gone.popitem(last=False)
        if conv.folder is not None:
            shutil.rmtree(conv.folder, ignore_errors=True)

    def _folder(self, conv: Conversation) -> Path:
        with self._lock:
            if self._root is None:
                if self._root_given is not None:
                    self._root = Path(self._root_given)
                    self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
                else:
                    with contextlib.suppress(OSError):
                        remove_orphans(Path(tempfile.gettempdir()))  # left by servers that were killed
                    self._root, self._root_lock = private_root()
                    atexit.register(shutil.rmtree, self._root, True)  # a server stopped: its files go too
            if conv.removed:
                raise self._not_found(conv.id)
            if conv.folder is None:
                conv.folder = Path(tempfile.mkdtemp(dir=self._root, prefix="c-"))  # 0700, its name not the id
            return conv.folder

    # ---- files --------------------------------------------------------------------------
    def files(self, cid: str) -> list[dict[str, Any]]:
        conv = self._get(cid)
        return [f.to_dict() for f in conv.files]

    def add(self, cid: str, name: Any, data: "bytes | Incoming") -> dict[str, Any]:
        """Attach a file, its bytes or a file received into the conversation's folder
        (``incoming``): sniff, check the limits, read and index it (with the conversation's other
        files, in a child process), load the conversation's new bot.
        Returns the file's description; raises AttachError saying what limit it meets."""
        conv = self._get(cid)
        shown = clean_name(name)
        received = data if isinstance(data, Incoming) else None
        if received is not None and received.conv is not conv:
            raise ValueError("a file received for another conversation")
        size = received.received if received is not None else len(data)
        try:
            kind = sniff_file(received.path, shown) if received is not None else sniff(data, shown)
        except FileNotFoundError:  # its conversation was removed while it arrived: so was its folder
            raise self._not_found(conv.id) from None
        with self._lock:
            if received is not None:
                received.release()  # its room, held while it arrived, is now held as pending
            if len(conv.files) + conv.pending_files + conv.receiving_files >= self.max_files:
                raise AttachError(f"{shown}: a conversation holds at most {self.max_files} files; remove one first", 409)
            if conv.size + conv.pending_bytes + conv.receiving_bytes + size > self.max_bytes:
                left = max(0, self.max_bytes - conv.size - conv.pending_bytes - conv.receiving_bytes)
                raise AttachError(f"{shown}: {_mb(size)} is over the {_mb(self.max_bytes)} a conversation's files "
                                  f"may take together ({_mb(left)} left)", 413)
            conv.pending_bytes += size
            conv.pending_files += 1
        try:
            with conv.lock:
                if conv.removed:
                    raise self._not_found(conv.id)
                shown = self._unique(conv, shown)
                folder = self._folder(conv)
                path = folder / f"{conv.next_id:02d}{KINDS[kind]}"
                if received is not None:
                    try:
                        os.link(received.path, path)  # fails if the name is taken, as O_EXCL does
                    except FileNotFoundError:  # removed with its conversation's folder meanwhile
                        raise self._not_found(conv.id) from None
                    received.path.unlink(missing_ok=True)
                else:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as out:
                        out.write(data)
                try:
                    with self._turn(shown):
                        out, added, memory = self._index(conv, shown, conv.files, (path, ATTACHED + shown))
                    attached = AttachedFile(str(conv.next_id), shown, kind, size, path,
                                            tuple(added["documents"]), added.get("pages"),
                                            [str(x) for x in added.get("problems") or ()])
                    bot = self._load(out)
                except BaseException:
                    path.unlink(missing_ok=True)
                    raise
                try:  # closed while its file was read: the file goes with its folder, never elsewhere
                    self._switch(conv, conv.files + [attached], bot, out, memory)
                except AttachError:
                    path.unlink(missing_ok=True)
                    raise
                conv.next_id += 1
                return attached.to_dict()
        finally:
            with self._lock:
                conv.pending_bytes -= size
                conv.pending_files -= 1

    def receive(self, cid: str, name: Any, declared: int) -> "Incoming":
        """A private file in the conversation's folder for a file about to arrive, with room
        for ``declared`` bytes held in the conversation (more is asked for as it arrives,
        ``Incoming.write``): refused at once (404, 409, 413) when the conversation is gone, full,
        or has less room than that. The caller closes it (``Incoming.discard``) unless ``add``
        took it."""
        conv = self._get(cid)
        shown = clean_name(name)
        with self._lock:
            if len(conv.files) + conv.pending_files + conv.receiving_files >= self.max_files:
                raise AttachError(f"{shown}: a conversation holds at most {self.max_files} files; remove one first", 409)
            self._room(conv, shown, declared)
            conv.receiving_files += 1
            conv.receiving_bytes += declared
        incoming = Incoming(self, conv, shown, declared)
        try:
            fd, path = tempfile.mkstemp(dir=self._folder(conv), prefix=".receiving-")  # 0600
        except BaseException:
            with self._lock:
                incoming.release()
            raise
        incoming.path, incoming.file = Path(path), os.fdopen(fd, "wb")
        return incoming

    def _room(self, conv: Conversation, shown: str, more: int) -> None:
        """Refuse (413) ``more`` bytes the conversation has no room for (the lock is held)."""
        taken = conv.size + conv.pending_bytes + conv.receiving_bytes
        if taken + more > self.max_bytes:
            raise AttachError(f"{shown}: {_mb(more)} more is over the {_mb(self.max_bytes)} a conversation's files "
                              f"may take together ({_mb(max(0, self.max_bytes - taken))} left)", 413)

    def remove_file(self, cid: str, file_id: str) -> list[dict[str, Any]]:
        conv = self._get(cid)
        with conv.lock:
            gone = next((f for f in conv.files if f.id == file_id), None)
            if gone is None:
                raise AttachError("no such file in this conversation", 404)
            rest = [f for f in conv.files if f is not gone]
            if rest:
                with self._turn(gone.name):
                    out, _, memory = self._index(conv, gone.name, rest, None)
                self._switch(conv, rest, self._load(out), out, memory)
            else:
                self._switch(conv, rest, None, None, 0)
            gone.path.unlink(missing_ok=True)
            return [f.to_dict() for f in rest]

    def _switch(self, conv: Conversation, files: list[AttachedFile], bot: ChatBot | None, index: Path | None,
                memory: int) -> None:
        """Make ``files`` (answered by ``bot``, loaded from ``index``) the conversation's, drop its
        earlier index, and fit the budgets (the conversation's lock is held)."""
        with self._lock:
            if conv.removed:
                if index is not None:
                    shutil.rmtree(index, ignore_errors=True)
                raise self._not_found(conv.id)
            old = conv.index
            conv.files, conv.bot, conv.index, conv.memory = files, bot, index, memory
            conv.used = self.clock()
            self._fit(keep=conv.id)
        if old is not None:  # a reply being made from it keeps reading its mapped files
            shutil.rmtree(old, ignore_errors=True)

    def _unique(self, conv: Conversation, name: str) -> str:
        """``name``, or ``name (2).md`` when the conversation holds one of that name already."""
        taken = {f.name for f in conv.files}
        if name not in taken:
            return name
        stem, dot, ext = name.rpartition(".")
        stem, ext = (stem, "." + ext) if dot and stem else (name, "")
        n = 2
        while f"{stem} ({n}){ext}" in taken:
            n += 1
        return f"{stem} ({n}){ext}"

    @contextlib.contextmanager
    def _turn(self, name: str) -> Iterator[None]:
        """Wait for one of the ``PARALLEL_READS`` turns; refuse (503) when too many files wait."""
        with self._lock:
            if self._waiting >= PARALLEL_READS + WAITING_READS:
                raise AttachError(f"{name}: the server is busy reading other files; try again in a minute", 503)
            self._waiting += 1
        try:
            with self._reads:
                yield
        finally:
            with self._lock:
                self._waiting -= 1

    def _index(self, conv: Conversation, name: str, files: Sequence[AttachedFile],
               add: tuple[Path, str] | None) -> tuple[Path, dict[str, Any], int]:
        """Index ``files`` (kept from the conversation's current index) and the file ``add`` (its
        path and source), read in a limited child (``INDEXER``) into a new folder of the
        conversation's: (that folder, what the child says of the added file, the memory the index
        takes loaded, measured). Refuses (413) an index over the conversation's share of the
        memory budget."""
        folder = self._folder(conv)
        conv.versions += 1
        out = folder / f"index-{conv.versions}"
        request = {"out": str(out), "previous": str(conv.index) if conv.index is not None else None,
                   "keep": [d for f in files for d in f.documents], "max_pages": self.limits.max_pages,
                   "read_seconds": self.limits.seconds, "settings": self.corpus.current().settings.flat(),
                   "add": {"path": str(add[0]), "source": add[1]} if add is not None else None}
        try:
            got = isolated.run_child(INDEXER, request, self.limits.seconds + self.limits.index_seconds,
                                     self.limits.index_memory, "read and index")
        except CorpusError as exc:
            shutil.rmtree(out, ignore_errors=True)
            message = str(exc)
            if add is not None and message.startswith(str(add[0])):
                message = message[len(str(add[0])):].lstrip(":0123456789 ")
            raise AttachError(f"{name}: {message}", 422) from None
        memory = int(got["memory"])
        share = int(self.budget * self.share)
        if memory > share:
            shutil.rmtree(out, ignore_errors=True)
            raise AttachError(f"{name}: with it, this conversation's files take {_mb(memory)} of memory to answer from, "
                              f"more than this server indexes for one conversation ({_mb(share)})", 413)
        return out, got.get("added") or {}, memory

    def _load(self, index: Path) -> ChatBot:
        """The bot of a conversation's saved index, answering with the corpus's settings (loads one
        at a time)."""
        with self._loading:
            manifest, docs, loaded, problems = store.load(index, check_stale=False)
        settings = self.corpus.current().settings
        return ChatBot(Manifest(manifest.path, manifest.name, "", (), settings), docs, index=loaded, problems=problems)

    def _fit(self, keep: str) -> None:
        """Remove the conversations used longest ago until all fit the memory and disk budgets
        (the lock is held)."""
        memory = sum(c.memory for c in self._items.values())
        disk = sum(c.size for c in self._items.values())
        for cid in list(self._items):
            if memory <= self.budget and disk <= self.disk_budget:
                break
            if cid == keep or not self._items[cid].files:
                continue
            why = "memory" if memory > self.budget else "disk"
            memory -= self._items[cid].memory
            disk -= self._items[cid].size
            self._drop(cid, why)
            self.evicted += 1

    # ---- answering ----------------------------------------------------------------------
    def bot(self, cid: str) -> ChatBot | None:
        return self._get(cid).bot

    def ask(self, cid: str, corpus: ChatBot, question: Any, history: Sequence[dict[str, Any]] | None = None,
            strictness: float | None = None) -> Reply:
        """Ask the corpus and the conversation's files; the stronger reply (``stronger``)."""
        attached = self.bot(cid)
        reply = corpus.ask(question, history)
        if attached is None or reply.kind in ("smalltalk", "invalid"):
            return reply
        if strictness is not None and strictness != attached.settings.answer.strictness:
            attached = attached.with_strictness(strictness)
        return stronger(reply, attached.ask(question, history), about_the_files(corpus, question, history))

    def document(self, cid: str, doc_id: str) -> tuple[Document, Path | None]:
        """An attached document and, for a PDF, its file (for the page image)."""
        conv = self._get(cid)
        bot = conv.bot
        for f in conv.files:
            if doc_id in f.documents and bot is not None:
                return bot.index.documents[doc_id], (f.path if f.kind == "pdf" else None)
        raise AttachError("no document with that id in this conversation's files", 404)

    def limits_dict(self) -> dict[str, Any]:
        return {"max_files": self.max_files, "max_bytes": self.max_bytes, "max_pdf_pages": self.limits.max_pages,
                "parse_seconds": self.limits.seconds, "idle_seconds": self.idle_seconds,
                "max_memory": int(self.budget * self.share), "types": SUPPORTED}


def about_the_files(corpus: ChatBot, question: Any, history: Sequence[dict[str, Any]] | None = None) -> bool:
    """Whether ``question`` asks about the sources themselves (``ABOUT_THE_FILES``), as the
    corpus's own question pipeline reads it."""
    q = corpus.question(question, history)
    return isinstance(q, Question) and q.kind == "meta" and q.extra.get("meta") in ABOUT_THE_FILES


def _mb(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 104858 else f"{n / 1024:.0f} KB"
