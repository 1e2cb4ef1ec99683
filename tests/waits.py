"""Waiting for something to happen, never for a fixed time: a test that sleeps a fixed time fails
on a busy machine (the thing had not happened yet) and wastes time on an idle one.

- ``wait_until``: poll a condition (a file written, a server started) up to a generous deadline.
- ``settled``: a page whose animations (an accordion opening, a scroll) have all finished.
- ``Terminal``: a command whose stderr is a terminal, read as it writes, so a test can act when
  it says something (send Ctrl-C once the build reports progress).
"""
from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from typing import Any, Callable, Sequence


def wait_until(condition: Callable[[], Any], what: str, seconds: float = 30.0) -> Any:
    """The condition's first truthy value, polled every 10 ms; fails naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {seconds:g} s waiting for {what}"
        time.sleep(0.01)


SETTLED_JS = """() => document.getAnimations().every(a => a.playState !== 'running' && a.playState !== 'pending')"""


def settled(page, timeout: float = 20_000) -> None:
    """Wait until no CSS animation or transition runs on the page (before a screenshot or reading
    colours: an accordion opening draws a blank panel for a moment)."""
    page.wait_for_function(SETTLED_JS, timeout=timeout)


def _ctrl_c_as_at_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Terminal:
    """``cmd`` run with its stderr on a pseudo-terminal (what a user at a terminal sees: progress
    bars are drawn only there), stdout discarded. ``wait_for(text)`` blocks until stderr has shown
    ``text``; ``finish()`` waits for the exit and returns (returncode, everything stderr showed)."""

    def __init__(self, cmd: Sequence[str], **popen: Any):
        master, slave = pty.openpty()
        # a terminal of 24 rows by 120 columns: on a 0 x 0 one progress bars draw nothing
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
        try:
            # Ctrl-C as at a terminal: a test run started in the background by a shell without job
            # control inherits SIGINT ignored, and a child that inherits that never sees Ctrl-C
            self.proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave,
                                         preexec_fn=_ctrl_c_as_at_a_terminal, **popen)
        finally:
            os.close(slave)  # the child holds it now: reading the master ends when the child closes its end
        self.fd = master
        self.text = ""
        self.closed = False

    def _read(self, timeout: float) -> None:
        if self.closed:
            return
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if chunk:
            self.text += chunk.decode("utf-8", "replace")
        else:
            self.closed = True
            os.close(self.fd)

    def wait_for(self, text: str, seconds: float = 120.0) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.text:
            assert not self.closed, f"exited (code {self.proc.wait()}) without showing {text!r}: {self.text[-2000:]!r}"
            assert time.monotonic() < deadline, f"timed out after {seconds:g} s waiting for {text!r}"
            self._read(0.1)

    def finish(self, seconds: float = 120.0) -> tuple[int, str]:
        deadline = time.monotonic() + seconds
        while not self.closed:
            assert time.monotonic() < deadline, f"still running after {seconds:g} s: {self.text[-2000:]!r}"
            self._read(0.1)
        return self.proc.wait(timeout=max(1.0, deadline - time.monotonic())), self.text

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        if not self.closed:
            self.closed = True
            os.close(self.fd)
