"""The page's script and style, kept as files in ``static/`` (package data) and read once at import:
``page.css`` and ``page.js`` (citations, scrolling, Copy, the question counter, message labels),
``clear_box.js`` (run as a question is sent) and, when files can be attached, ``attach.css`` and
``attach.js`` (the file button, drag-and-drop and the attached files' list). ``__NAME__`` markers
in a script are filled in by the server (``ui.serve_app``, ``attach_script``)."""
from __future__ import annotations

from importlib import resources

from bot.serve.attachments import UNAVAILABLE, Attachments

ATTACH_TYPES = ".pdf,.md,.markdown,.txt,.html,.htm,.jsonl,application/pdf,text/plain,text/markdown,text/html"


def _static(name: str) -> str:
    return (resources.files(__package__) / "static" / name).read_text("utf-8")


PAGE_CSS = _static("page.css")
ATTACH_CSS = _static("attach.css")

# The page's behaviour, in the browser (no data-* attributes: the chat's sanitizer drops them):
# - a citation [n] (click, tap, Enter or Space) opens its answer's Sources panel on source n and
#   scrolls it into view; a second click keeps it open; its preview then hides until the pointer
#   or focus leaves, so it never covers the source it opened;
# - previews are placed inside the viewport;
# - a new reply is scrolled so that its first line is in view (the chat's own autoscroll is off);
# - Copy puts the reply's plain text on the clipboard, not its markup;
# - a character counter under the question box near and over the limit;
# - messages are announced by their visible text.
PAGE_SCRIPT = "<script>\n" + _static("page.js") + "</script>"

# Runs in the browser as a question is sent: the box is emptied there and then (if it still holds
# that question), so nothing typed after it is lost; the question goes on to ``send`` unchanged.
# A question over the limit stays in the box to be shortened (the reply says how long it is).
CLEAR_BOX_JS = _static("clear_box.js").rstrip("\n")

# The attach controls, in the browser: a file button and drag-and-drop anywhere on the page send
# each file to the JSON API under the tab's conversation id as it was when the files were picked
# (kept in the hidden #attach-id element, which the server fills on load and renews on New
# conversation); each file shows its bytes sent, then how long it is being read; New conversation
# stops uploads under way and drops what they bring; a question sent while files are attached
# waits for them (or goes without them, saying so); the list shows the attached files with a
# remove control, and the header and Sources loaded name them; every refusal is shown as the
# server words it.
ATTACH_SCRIPT = "<script>\n" + _static("attach.js") + "</script>"


def attach_script(store: Attachments) -> str:
    return (ATTACH_SCRIPT.replace("__MAX_BYTES__", str(int(store.max_bytes)))
            .replace("__MAX_FILES__", str(int(store.max_files))).replace("__TYPES__", ATTACH_TYPES)
            .replace("__IDLE__", idle_phrase(store.idle_seconds)).replace("__UNAVAILABLE__", UNAVAILABLE))


def idle_phrase(seconds: float) -> str:
    """'an hour', '5 minutes', '90 seconds': how long a conversation may sit idle."""
    seconds = max(1, round(seconds))
    if seconds % 3600 == 0:
        return "an hour" if seconds == 3600 else f"{seconds // 3600} hours"
    if seconds % 60 == 0:
        return "a minute" if seconds == 60 else f"{seconds // 60} minutes"
    return f"{seconds} seconds"
