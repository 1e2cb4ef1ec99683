"""A folder of every supported format plus one broken file, written by the tests."""
from __future__ import annotations

import json
from pathlib import Path

HTML = """<!doctype html><html><head><title>API key rotation</title><script>window.tracker = 1;</script></head>
<body><nav><a href="/">Home</a> | <a href="/pricing">Pricing</a> | <a href="/login">Log in</a></nav>
<main><article><h1>Rotating API keys</h1>
<p>API keys should be rotated every 90 days to limit the damage if a key leaks. Rotation replaces the key without downtime.</p>
<h2>How to rotate a key</h2>
<p>Open the console, choose Settings, then Keys, and press Rotate. The old key keeps working for 24 hours so services can switch over.</p>
<ul><li>Update every service with the new key first.</li><li>Then revoke the old key in the console.</li></ul>
</article></main>
<footer>Copyright 2024 Example Corp. All rights reserved. Cookie settings. Privacy policy.</footer></body></html>
"""


def make_pdf(path: Path, pages: list[str]) -> None:
    """A small valid PDF with a line of text per page, or several split by "\\n" (no PDF library
    needed to write it)."""
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:  # a "\n" in a page's text starts a new line
        shown = " 0 -16 Td ".join(f"({line}) Tj" for line in text.split("\n"))
        stream = f"BT /F1 12 Tf 72 720 Td {shown} ET".encode()
        objs.append(f"<< /Length {len(stream)} >>\nstream\n{stream.decode()}\nendstream")
        content_id = len(objs)
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
                    "/Resources << /Font << /F1 3 0 R >> >> >>")
        kids.append(f"{len(objs)} 0 R")
    objs[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))


def write_mixed(root: Path) -> Path:
    (root / "notes").mkdir(parents=True, exist_ok=True)
    (root / "notes" / "backups.md").write_text(
        "# Backups\n\n## Schedule\n\nNightly backups run at 02:00 UTC and are kept for 30 days.\n\n"
        "## Restoring\n\nTo restore a backup, open the console and choose Restore from the Backups page.\n")
    (root / "notes" / "office.txt").write_text("The office coffee machine is descaled every Friday by facilities.\n")
    (root / "api-keys.html").write_text(HTML)
    make_pdf(root / "manual.pdf", ["The widget manual explains installation on page one.",
                                   "Calibrate the widget sensor every six months using the blue dial."])
    (root / "kb.jsonl").write_text("\n".join([
        json.dumps({"_id": "kb1", "title": "Password reset", "text": "Users reset a password from the login page "
                    "by choosing Forgot password."}),
        "{broken json line",
        json.dumps({"_id": "kb2", "title": "Two-factor authentication", "text": "Two-factor authentication (2FA) "
                    "adds a one-time code from an authenticator app."}),
    ]) + "\n")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    return root
