"""The socket side of serving the page: the port is taken before anything says "Serving", a
connection must finish its request headers in time, keep its body arriving and read its reply,
open connections are capped below the process's file limit, and the server's logs cannot flood
the disk.

uvicorn has a keep-alive timeout but none for a request in progress: 300 connections that never
finished their headers stayed open for minutes, and at 1,100 the server ran out of file handles.
Nothing here imports gradio.
"""
from __future__ import annotations

import errno
import logging
import socket
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

BUSY_REPLY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 32\r\n"
              b"connection: close\r\n\r\ntoo many open connections, retry")
MIN_BODY_RATE = 8 * 1024  # bytes a second a request body must keep arriving at (64 kbit/s)


def too_slow_reply(text: str) -> bytes:
    """A 408 saying why, for a request cut off for arriving too slowly (it was cut with no reply)."""
    body = text.encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))


@dataclass(frozen=True)
class Limits:
    """How long a client may take to send its request, and how many connections may be open."""
    header_seconds: float = 10.0  # from connecting (or the end of the last reply) to the end of the headers
    body_seconds: float = 30.0  # a body is judged over each such span: min_body_rate bytes a second, or cut (408)
    min_body_rate: int = MIN_BODY_RATE
    linger_seconds: float = 2.0  # after a 408, what the client still sends is read and dropped this long
    drain_bytes: int = 64 * 1024 * 1024  # of a body still arriving after its reply (a refusal), read and dropped
    max_connections: int = 500  # more are answered 503 and closed at once
    keep_alive_seconds: float = 5.0  # an idle connection between requests
    stalled_reply_seconds: float = 60.0  # a client that reads none of its reply for this long is cut off

    def within_file_limit(self) -> "Limits":
        """The connection cap lowered, if need be, to leave file handles for the index and logs."""
        try:
            import resource

            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            wanted = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
            if soft != resource.RLIM_INFINITY and soft < wanted:
                resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
                soft = wanted
        except (ImportError, ValueError, OSError):
            return self
        if soft == resource.RLIM_INFINITY:
            return self
        room = max(16, int(soft) // 2)
        return self if self.max_connections <= room else replace(self, max_connections=room)


class PortInUse(Exception):
    """The address cannot be listened on; the message says why and what to do."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), or PortInUse saying what to do."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
    # that say they are TCP, and with it on every small reply waited for a delayed ACK (p50 50 ms
    # instead of 26 ms, half the requests a second)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"port {port} on {host} is already in use (another server is running "
                                       "there); stop it, or pick another port with --port (--port 0 picks a "
                                       "free one)") from None
        raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


class _RequestDeadlines:
    """Part of the guarded protocol: a connection over the cap is answered 503 and closed; a
    client must send its request headers within ``header_seconds`` (a slow trickle of bytes does
    not extend it) and keep its body arriving at ``min_body_rate`` bytes a second or more, judged
    over each ``body_seconds``: an upload of 3 MB at 80 KB/s was cut at 30 s, and a body that
    stalls is cut within ``body_seconds`` as before. A request cut off for slowness is answered
    408 saying so (it was a bare reset), and what the client still sends is read and dropped for
    ``linger_seconds`` so that it can read the reply. A body still arriving after its reply (a
    refusal said before the body was read) is read and dropped, at most ``drain_bytes`` of it."""
    guard_limits: Limits
    _deadline: Any = None
    _phase = ""
    _window = 0  # body bytes received since the span being judged began
    _drained = 0  # body bytes received after the reply was sent
    _cut = False  # answered 408: reading only to drop

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if len(self.connections) > self.guard_limits.max_connections:
            transport.write(BUSY_REPLY)
            transport.close()
            return
        self._expect("headers", self.guard_limits.header_seconds)

    def data_received(self, data: bytes) -> None:
        import h11

        if self._cut:
            return
        if self._phase == "body":
            self._window += len(data)
            if self.conn.our_state in (h11.DONE, h11.MUST_CLOSE):
                self._drained += len(data)
                if self._drained > self.guard_limits.drain_bytes:
                    self.transport.close()
                    return
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _follow(self) -> None:
        """Set the deadline for what the client must send next."""
        import h11

        state = self.conn.their_state
        if state is h11.IDLE:
            self._expect("headers", self.guard_limits.header_seconds)
        elif state is h11.SEND_BODY:
            self._expect("body", self.guard_limits.body_seconds)
        else:  # the request is in: the app answers in its own time
            self._phase = "answered"
            self._cancel()

    def _expect(self, phase: str, seconds: float) -> None:
        if self._phase == phase and self._deadline is not None:
            return  # a slow trickle of bytes does not extend the deadline
        self._cancel()
        self._phase = phase
        self._window = self._drained = 0
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        import h11

        self._deadline = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # closed, or handed to a WebSocket protocol
        limits = self.guard_limits
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            # arriving fast enough, or not read because the server is busy: judged again later
            if self._window >= limits.min_body_rate * limits.body_seconds or self.flow.read_paused:
                self._window = 0
                self._deadline = self.loop.call_later(limits.body_seconds, self._expired)
                return
            cycle = getattr(self, "cycle", None)
            if cycle is None or cycle.response_started:
                self.transport.close()  # it has its reply (a refusal) already
                return
            cycle.disconnected = True  # the application reading the body is told the client is gone
            cycle.message_event.set()
            self._too_slow(f"the request body stopped arriving: less than {limits.min_body_rate // 1024} KB a "
                           f"second over {limits.body_seconds:g} s; send it again")
        elif state is h11.IDLE:
            if self.conn.trailing_data[0]:  # part of a request came
                self._too_slow(f"the request headers did not arrive within {limits.header_seconds:g} s; "
                               f"send the request again")
            else:
                self.transport.close()

    def _too_slow(self, text: str) -> None:
        """Answer 408 with ``text``, stop sending, read and drop what still comes, then close."""
        self._cut = True
        self.transport.write(too_slow_reply(text))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self.loop.call_later(self.guard_limits.linger_seconds, self.transport.close)


class _StalledReplies:
    """Part of the guarded protocol. A reply the client does not read fills the socket's buffer
    and writing pauses; a client that reads none of it for ``stalled_reply_seconds`` is cut off (it
    held a connection and the reply's memory for as long as it liked). A slow reader resumes
    writing each time it reads, which restarts the clock."""
    guard_limits: Limits
    _stall: Any = None

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall is None:
            self._stall = self.loop.call_later(self.guard_limits.stalled_reply_seconds, self._stalled)

    def connection_lost(self, exc: Exception | None) -> None:
        self._reading()
        super().connection_lost(exc)

    def resume_writing(self) -> None:
        self._reading()
        super().resume_writing()

    def _reading(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _stalled(self) -> None:
        self._stall = None
        if not self.transport.is_closing() and self.transport.get_protocol() is self:
            self.transport.abort()  # close() would wait to send the buffer nobody reads


def guarded_protocol(limits: Limits) -> type:
    """uvicorn's h11 protocol with request deadlines, a connection cap and a deadline for a reply
    nobody reads (uvicorn and h11 are imported only when a server is made)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(_RequestDeadlines, _StalledReplies, H11Protocol):
        guard_limits = limits

    return GuardedH11Protocol


class RateLimit(logging.Filter):
    """Lets through at most ``per_minute`` records of one kind (logger and message template) a
    minute, then one line saying how many were dropped: a flood of "Too many open files" grew the
    log by 339 MB in 40 s."""

    def __init__(self, per_minute: int = 20, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[tuple[str, str], list[float]] = {}  # kind -> [window start, count]

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg)[:200])
        now = self.clock()
        window = self._seen.get(key)
        if window is None or now - window[0] >= 60:
            dropped = int(window[1]) - self.per_minute if window else 0
            if len(self._seen) > 1000:
                self._seen.clear()
            self._seen[key] = [now, 1.0]
            if dropped > 0:
                record.msg = f"{record.msg} (and {dropped:,} more like it in the last minute, not shown)"
            return True
        window[1] += 1
        return window[1] <= self.per_minute


LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio")


def limit_logs(per_minute: int = 20) -> RateLimit:
    rate = RateLimit(per_minute)
    for name in LOGGERS:
        logging.getLogger(name).addFilter(rate)
    return rate


def make_server(app: Any, limits: Limits = Limits(), log_level: str = "warning") -> Any:
    """A uvicorn server for ``app`` with these limits; run it with ``.run(sockets=[bind(...)])``."""
    import uvicorn

    config = uvicorn.Config(app, http=guarded_protocol(limits), log_level=log_level,
                            timeout_keep_alive=limits.keep_alive_seconds,
                            # open page connections must not hold a shutdown (Ctrl-C, SIGTERM) for long
                            timeout_graceful_shutdown=2)
    return uvicorn.Server(config)


def serve(app: Any, sock: socket.socket, limits: Limits = Limits()) -> None:
    """Serve ``app`` on an already bound socket until Ctrl-C or SIGTERM."""
    limit_logs()
    make_server(app, limits.within_file_limit()).run(sockets=[sock])
