"""Like/dislike feedback from the page, written to a JSON Lines file that only its owner can read,
with personal data taken out first.

What is taken out, plainly typed or spelt out to dodge filters: e-mail addresses ("jane dot
public at gmail dot com"), phone numbers ("tel 5550199", digits spelt as words), passwords and
other secrets after the word that names them, passport, account, card and other ID numbers,
street addresses, flat numbers and postcodes, and names a writer gives for themselves ("my name
is ...", "regards, ..."). A name mentioned without such a cue is not found: no rule short of a
trained recognizer finds every name (Presidio needs a spaCy model downloaded from the internet),
so the file is still personal data and is written with mode 0600.

Every pattern's repetitions are bounded, and the text is cut to ``FEEDBACK_CHARS`` before any of
them runs, so redaction takes time linear in that bounded length.
"""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

from bot.answer.render import jsonl

FEEDBACK_CHARS = 4000  # at most this much of a question or an answer is recorded
FILE_MODE = 0o600  # the feedback file: read and written by its owner only

_WORD = r"[A-Za-z0-9'+-]{1,40}"
_AT = r"(?:\s*@\s*|\s*[(\[{<]\s*at\s*[)\]}>]\s*|\s+at\s+)"
_DOT = r"(?:\s*\.\s*|\s*[(\[{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+)"
_DIGIT_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)"
_STREET = (r"street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|terrace|close|"
           r"crescent|square|sq|highway|hwy|parkway|pkwy|gardens|grove|row|walk|mews|alley|strasse|straße|rue")
_SECRET_WORDS = (r"password|passwd|pwd|pw|passcode|passphrase|pass phrase|pin|pin code|secret|token|api key|apikey|"
                 r"access key|security answer|login")
_ID_WORDS = (r"passport|ssn|social security|national insurance|ni|nhs|id|identity|driver'?s? licen[cs]e|licen[cs]e|"
             r"account|acct|iban|bic|swift|card|credit card|debit card|routing|sort code|tax|tin|vat|customer|"
             r"member(?:ship)?|policy|employee|student|order")
_NAME = r"[A-Z][a-zA-Z'’-]{1,30}(?:\s+(?:[A-Z]\.|[A-Z][a-zA-Z'’-]{1,30})){0,3}"

# (pattern, replacement), applied in this order: the most specific first.
_RULES: list[tuple[re.Pattern[str], str]] = [
    # secrets: the word naming it, then the value (one token, however written)
    (re.compile(rf"\b((?:(?:my|the|our|your)\s+(?:{_SECRET_WORDS})\b\s*(?:is|was|=|:)?|(?:{_SECRET_WORDS})\s*"
                rf"(?:is|was|=|:))\s*)[^\s,;]{{1,100}}", re.I), r"\1[secret]"),
    # e-mail addresses, plain or spelt out ("jane dot public at gmail dot com")
    (re.compile(rf"{_WORD}(?:{_DOT}{_WORD}){{0,4}}{_AT}{_WORD}(?:{_DOT}{_WORD}){{1,6}}", re.I), "[email]"),
    # ID numbers named by their kind: "passport number X1234567", "account no: 12-34-56"
    (re.compile(rf"\b((?:{_ID_WORDS})\s*(?:number|numbers|num|no\.?|nr\.?|#|code)?\s*(?:is|was|=|:)?\s*)"
                r"(?=[A-Za-z0-9-]{0,30}\d)[A-Za-z0-9][A-Za-z0-9-]{1,30}(?:\s\d{2,6}){0,4}\b", re.I), r"\1[id]"),
    # phone numbers after a word that names them, however short: "tel 5550199", "call me on 555 0199"
    (re.compile(r"\b((?:tel|telephone|phone|mobile|cell|fax|whatsapp|sms|call me on|call me at|ring me on|text me on)"
                r"\b\.?\s*(?:no\.?|number|#)?\s*:?\s*)\+?\d[\d ()./-]{2,30}\d", re.I), r"\1[phone]"),
    # any other run of digits long enough to be a phone, card or ID number
    # (dots are left out: "127.0.0.1:7860" and "3.11.4" are addresses and versions, not numbers of a person)
    (re.compile(r"(?<![\w.])\+?\d[\d ()/-]{6,30}\d(?![\w.])"), "[number]"),
    # digits spelt as words: "five five five zero one nine nine"
    (re.compile(rf"\b{_DIGIT_WORD}(?:[\s,-]{{1,3}}{_DIGIT_WORD}){{4,20}}\b", re.I), "[number]"),
    # a token holding five digits or more among letters: passport and licence numbers
    (re.compile(r"\b(?=[A-Za-z0-9]{6,30}\b)(?:[A-Za-z]{0,6}\d){5}[A-Za-z0-9]{0,24}\b"), "[id]"),
    # street addresses: "221B Baker Street", "12 rue de la Paix", and flats and suites
    (re.compile(rf"\b\d{{1,6}}[A-Za-z]?,?\s+(?:[A-Za-z'’.-]{{1,30}}\s+){{0,4}}(?:{_STREET})\b\.?", re.I), "[address]"),
    (re.compile(r"\b\d{1,6},?\s+(?:rue|calle|avenida)\s+(?:[A-Za-z'’.-]{1,30}\s+){0,4}[A-Za-z'’.-]{1,30}", re.I),
     "[address]"),
    (re.compile(r"\b(?:apt|apartment|flat|suite|unit|floor)\.?\s*#?\s*\d{1,5}[A-Za-z]?\b", re.I), "[address]"),
    (re.compile(r"\b((?:i live at|i live in|my address is|address\s*:|ship(?:ping)? to|deliver to)\s+)"
                r"[^.;\n]{1,80}", re.I), r"\1[address]"),
    # postcodes: UK and Canadian shapes anywhere, US ZIP codes after a state or the word
    (re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b"), "[postcode]"),
    (re.compile(r"\b[A-Z]\d[A-Z]\s?\d[A-Z]\d\b"), "[postcode]"),
    (re.compile(r"\b((?:zip|zip code|zipcode|postcode|post code|postal code|plz)\s*:?\s*)[A-Z0-9 -]{3,10}\b", re.I),
     r"\1[postcode]"),
    (re.compile(r"\b([A-Z]{2},?\s+)\d{5}(?:-\d{4})?\b"), r"\1[postcode]"),
    # names the writer gives for themselves
    (re.compile(r"\b((?:my name is|my name's|my names|name\s*:|call me)\s+)[A-Za-z'’-]{1,30}"
                r"(?:\s+(?:[A-Z]\.|[A-Za-z'’-]{1,30})){0,2}", re.I), r"\1[name]"),
    (re.compile(rf"\b((?i:i am|i'm|i’m|regards|kind regards|best wishes|cheers|sincerely|signed)\s*,?\s+){_NAME}"),
     r"\1[name]"),
]


def redact(text: str, found: set[str] | None = None) -> str:
    """``text`` with the personal data described above replaced by ``[email]``, ``[phone]``,
    ``[secret]`` and the like; each value taken out is added to ``found``."""
    for pattern, replacement in _RULES:
        def swap(m: re.Match[str], replacement: str = replacement) -> str:
            out = m.expand(replacement)
            if found is not None:
                kept = m.group(1) if m.re.groups else ""
                found.add(m.group(0)[len(kept):].strip())
            return out
        text = pattern.sub(swap, text)
    return text


def redact_exchange(question: str, answer: str) -> tuple[str, str]:
    """Both redacted, and what was found in the question taken out of the answer too: a reply
    such as "The sources do not mention Jane Public" repeats a name that only the question's
    "my name is" marked."""
    found: set[str] = set()
    question = redact(question, found)
    answer = redact(answer, found)
    words = {w for value in found for w in [value, *value.split()] if len(w) >= 3 and any(c.isalnum() for c in w)}
    if words:
        pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.I)
        answer = pattern.sub("[redacted]", answer)
        question = pattern.sub("[redacted]", question)
    return question, answer


class FeedbackLog:
    """Appends like/dislike records, redacted, to a file only its owner can read."""

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()

    def record(self, question: str, answer: str, liked: bool) -> None:
        if self.path is None:
            return
        question, answer = redact_exchange(question[:FEEDBACK_CHARS], answer[:FEEDBACK_CHARS])
        row = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "liked": bool(liked), "question": question,
               "answer": answer}
        line = jsonl(row)  # U+2028, U+2029, U+0085 escaped: readers that split lines on them break records
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            try:
                os.fchmod(fd, FILE_MODE)  # a file made earlier with a looser mode is tightened
                os.write(fd, (line + "\n").encode("utf-8"))
            finally:
                os.close(fd)
