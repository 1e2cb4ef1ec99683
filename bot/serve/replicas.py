"""One saved index served by several app processes behind HAProxy:

    python -m bot.serve.replicas IDX --replicas 3 --port 8080

starts ``app.py --corpus IDX --replica rK`` N times on free loopback ports, writes an HAProxy
configuration for them, runs ``haproxy`` in the foreground in front of them on ``--host:--port``,
waits until every replica answers through it, and stops everything on Ctrl-C or SIGTERM.
``--print-config`` prints the configuration for replicas already running (to run HAProxy yourself).

What the configuration does, and why:
- A conversation's requests reach the replica holding its attached files: a replica's conversation
  ids start with its name and "-" (``health.id_prefix``), and HAProxy reads the id from the path
  (``/api/conversations/ID/...``, ``/conversations/ID/...``) or from the JSON body of ``POST
  /api/ask`` (``json_query``; the body is buffered, ``tune.bufsize`` holds the largest body the
  app accepts) and sends the request to that server (``use-server``). Creating a conversation can
  go to any replica: the id it answers names it.
- The page (Gradio: one tab's state and its event stream live in one process) stays on one
  replica: a cookie set by HAProxy (``cookie ... insert indirect nocache``).
- Everything else is spread by least connections.
- Health: ``GET /healthz`` every ``--check-ms``; a replica whose connection fails is marked down at
  once (``observe layer4``), a request that could not connect is sent elsewhere (``option
  redispatch``), and a request whose replica died before answering is sent again elsewhere when
  it is safe to repeat (GET, HEAD, ``POST /api/ask``, which changes nothing): only the other
  requests in flight on a killed replica are lost, with the conversations it held.
- Updates: every replica follows the index (``LiveBot``: ``index.json`` looked at, at most once a
  second, on a question or on the health check), so ``python -m bot index SRC --out IDX`` is seen
  by every replica within about a second and a half of its commit.

Standard library only; ``haproxy`` (Debian package ``haproxy``, 2.4 or later for ``json_query``)
must be on the PATH.
"""
from __future__ import annotations

import argparse
import ctypes
import http.client
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Sequence

from bot.serve.guard import MAX_BODY_BYTES
from bot.serve.health import ID_SEPARATOR, replica_name
from bot.serve.server import PortInUse, bind

APP = Path(__file__).resolve().parents[2] / "app.py"  # the page's launcher, beside the package in a checkout
COOKIE = "SERVERID"  # HAProxy's cookie naming a browser's replica
ASK_PATH = "/api/ask"
SERVING = re.compile(r"Serving the chat on (http://\S+?:(\d+))/")  # what app.py prints once it answers
CHECK_HOST = "localhost"  # the Host of health checks (the guard serves localhost)
BUFSIZE = MAX_BODY_BYTES + 32 * 1024  # a whole /api/ask body plus its headers fits HAProxy's buffer


@dataclass(frozen=True)
class Backend:
    """One app process as HAProxy sees it."""
    name: str
    host: str
    port: int


def haproxy_config(backends: Sequence[Backend], bind: str, check_ms: int = 500, maxconn: int = 2000) -> str:
    """The HAProxy configuration (see the module's docstring); ``bind``: HAProxy's bind address
    (``127.0.0.1:8080``, or ``fd@N`` for a socket this process opened)."""
    if not backends:
        raise ValueError("no replicas")
    servers = "\n".join(f"    server {b.name} {b.host}:{b.port} cookie {b.name}" for b in backends)
    sep = ID_SEPARATOR
    return f"""# written by python -m bot.serve.replicas: {len(backends)} app processes serving one index
global
    maxconn {maxconn}
    tune.bufsize {BUFSIZE}
    hard-stop-after 10s
    log stderr format raw local0 notice

defaults
    mode http
    log global
    option dontlognull
    timeout connect 2s
    timeout http-request 10s
    timeout client 10m
    timeout server 10m
    timeout tunnel 1h
    timeout queue 30s
    timeout check 30s

frontend chat
    bind {bind}
    default_backend replicas

backend replicas
    balance leastconn
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host {CHECK_HOST}
    http-check expect status 200
    default-server check inter {check_ms}ms fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down pool-purge-delay 1s
    # the page's tab stays on the replica that served it
    cookie {COOKIE} insert indirect nocache httponly
    # a request that could not connect goes elsewhere; one whose replica died before answering is
    # sent again elsewhere only when repeating it is harmless
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response junk-response
    acl safe method GET HEAD
    acl ask path {ASK_PATH}
    http-request disable-l7-retry if !safe !ask
    # a conversation's requests go to the replica named by its id ("NAME{sep}token")
    option http-buffer-request
    http-request set-var(txn.conversation) path,field(4,/) if {{ path_beg /api/conversations/ }}
    http-request set-var(txn.conversation) path,field(3,/) if {{ path_beg /conversations/ }}
    http-request set-var(txn.conversation) req.body,json_query('$.conversation') if ask METH_POST
    http-request set-var(txn.replica) var(txn.conversation),field(1,{sep}) if {{ var(txn.conversation) -m found }}
    use-server %[var(txn.replica)] if {{ var(txn.replica) -m found }}
    http-response set-header X-Replica %s
{servers}
"""


def _die_with_parent() -> None:
    """In a child before it runs: the kernel sends it SIGTERM if this launcher dies (killed with
    SIGKILL, its children would serve on as orphans)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _forward(stream: IO[str], name: str, lines: "queue.Queue[str] | None" = None) -> None:
    """Copy a child's output to this process's stderr, each line prefixed with its name (and
    handed to ``lines`` too, until the child said it serves)."""
    for line in stream:
        if lines is not None:
            lines.put(line)
            if SERVING.search(line):
                lines = None
                continue
        sys.stderr.write(f"[{name}] {line}")
    if lines is not None:
        lines.put("")  # the child closed its output: it ended


class Replica:
    """One ``app.py`` process serving the index on a free loopback port, started at once;
    ``wait_serving`` blocks until it has loaded the index and listens."""

    def __init__(self, name: str, index: Path, app_args: Sequence[str], app: Path = APP):
        self.name = name
        self.port = 0
        self._lines: queue.Queue[str] = queue.Queue()
        cmd = [sys.executable, str(app), "--corpus", str(index), "--host", "127.0.0.1", "--port", "0",
               "--replica", name, *app_args]
        # a session of its own: Ctrl-C at a terminal reaches this launcher only, which stops the
        # replicas after HAProxy
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True, preexec_fn=_die_with_parent)
        threading.Thread(target=_forward, args=(self.proc.stdout, name, self._lines), daemon=True).start()
        threading.Thread(target=_forward, args=(self.proc.stderr, name), daemon=True).start()

    def wait_serving(self, deadline: float) -> None:
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"replica {self.name} did not start serving in time") from None
            m = SERVING.search(line)
            if m:
                self.port = int(m.group(2))
                return
            if not line:
                raise RuntimeError(f"replica {self.name} ended before serving (exit code {self.proc.wait()}); "
                                   "its messages are above")
            sys.stderr.write(f"[{self.name}] {line}")


def _get(host: str, port: int, path: str, timeout: float = 5.0) -> tuple[int, str, str]:
    """(status, X-Replica header, body) of a GET, or (0, "", error)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": CHECK_HOST})
        r = conn.getresponse()
        return r.status, r.getheader("X-Replica") or "", r.read().decode("utf-8", "replace")
    except OSError as exc:
        return 0, "", str(exc)
    finally:
        conn.close()


def stop(procs: Sequence[subprocess.Popen], seconds: float = 15.0) -> None:
    """SIGTERM to each process still running, then wait; SIGKILL those still running after ``seconds``."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + seconds
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Cluster:
    """N replicas and HAProxy in front of them (``start``, ``stop``); what ``main`` runs."""

    def __init__(self, index: Path, replicas: int, host: str, port: int, app_args: Sequence[str] = (),
                 check_ms: int = 500, haproxy: str = "haproxy", app: Path = APP):
        if replicas < 1:
            raise ValueError("--replicas must be at least 1")
        self.index, self.count, self.host, self.port = Path(index), replicas, host, port
        self.app_args, self.check_ms, self.haproxy_bin, self.app = list(app_args), check_ms, haproxy, app
        self.replicas: list[Replica] = []
        self.haproxy: subprocess.Popen | None = None
        self.config_path: Path | None = None
        self._folder: str | None = None

    def start(self, seconds: float = 600.0) -> None:
        """Start the replicas (all at once: they load in parallel), then HAProxy once they serve;
        return once each replica answers its health check through HAProxy."""
        sock = bind(self.host, self.port)  # the port in use is said before anything starts
        try:
            self.port = sock.getsockname()[1]
            deadline = time.monotonic() + seconds
            self.replicas = [Replica(f"r{k}", self.index, self.app_args, self.app) for k in range(1, self.count + 1)]
            for r in self.replicas:
                r.wait_serving(deadline)
            backends = [Backend(r.name, "127.0.0.1", r.port) for r in self.replicas]
            self._folder = tempfile.mkdtemp(prefix="bot-haproxy-")
            self.config_path = Path(self._folder) / "haproxy.cfg"
            self.config_path.write_text(haproxy_config(backends, f"fd@{sock.fileno()}", self.check_ms), encoding="utf-8")
            check = subprocess.run([self.haproxy_bin, "-c", "-q", "-f", str(self.config_path)], capture_output=True,
                                   text=True, pass_fds=[sock.fileno()])
            if check.returncode != 0:
                raise RuntimeError(f"haproxy refused the configuration {self.config_path}: {check.stderr.strip()}")
            self.haproxy = subprocess.Popen([self.haproxy_bin, "-db", "-f", str(self.config_path)],
                                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            text=True, pass_fds=[sock.fileno()], start_new_session=True,
                                            preexec_fn=_die_with_parent)
            threading.Thread(target=_forward, args=(self.haproxy.stdout, "haproxy"), daemon=True).start()
        finally:
            sock.close()  # HAProxy holds its own copy
        self._wait_healthy(deadline)

    def _wait_healthy(self, deadline: float) -> None:
        """Until every replica has answered ``/healthz`` through HAProxy (least connections sends
        the checks round the replicas)."""
        seen: set[str] = set()
        names = {r.name for r in self.replicas}
        while seen != names:
            if self.haproxy is not None and self.haproxy.poll() is not None:
                raise RuntimeError(f"haproxy ended (exit code {self.haproxy.returncode}); its messages are above")
            if time.monotonic() > deadline:
                raise RuntimeError(f"replicas {sorted(names - seen)} did not answer through haproxy in time")
            host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # any: loopback
            status, replica, _ = _get(host, self.port, "/healthz")
            if status == 200:
                seen.add(replica)
            else:
                time.sleep(0.05)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def stop(self) -> None:
        """HAProxy first (no new requests), then the replicas (which delete their attached files)."""
        stop([self.haproxy] if self.haproxy is not None else [])
        stop([r.proc for r in self.replicas])
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)

    def ended(self) -> list[str]:
        """What has ended on its own: 'haproxy' and the names of replicas no longer running."""
        gone = [r.name for r in self.replicas if r.proc.poll() is not None]
        return (["haproxy"] if self.haproxy is not None and self.haproxy.poll() is not None else []) + gone


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bot.serve.replicas",
                                description="Serve one saved index from several app processes behind HAProxy.")
    p.add_argument("index", help="a saved index (python -m bot index SOURCES --out INDEX)")
    p.add_argument("--replicas", type=int, default=2, help="app processes (default 2; about one per core)")
    p.add_argument("--host", default="127.0.0.1", help="where HAProxy listens (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="HAProxy's port (default 8080; 0: a free one, printed)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a host name clients reach the service by (passed to every replica; repeatable)")
    p.add_argument("--no-attachments", action="store_true", help="turn off attached files (passed to every replica)")
    p.add_argument("--strictness", help="passed to every replica")
    p.add_argument("--check-ms", type=int, default=500, help="HAProxy's health check interval (default 500)")
    p.add_argument("--print-config", nargs="+", metavar="NAME=HOST:PORT",
                   help="print the HAProxy configuration for replicas already running (each started with "
                        "app.py --replica NAME) and exit; --host/--port name HAProxy's address")
    args = p.parse_args(argv)
    if args.print_config:
        try:
            backends = [_backend(x) for x in args.print_config]
        except ValueError as exc:
            p.error(str(exc))
        print(haproxy_config(backends, f"{args.host}:{args.port}", args.check_ms), end="")
        return 0
    from bot.index.layout import is_index  # the index side, only when starting

    if not is_index(args.index):
        print(f"error: {args.index} is not a saved index; make one with python -m bot index SOURCES --out "
              f"{args.index}", file=sys.stderr)
        return 2
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        print("error: haproxy is not installed (Debian: apt-get install haproxy)", file=sys.stderr)
        return 2
    if not APP.is_file():
        print(f"error: {APP} is missing: run this from a checkout of the project", file=sys.stderr)
        return 2
    app_args = [a for h in args.allow_host for a in ("--allow-host", h)]
    app_args += ["--no-attachments"] if args.no_attachments else []
    app_args += ["--strictness", args.strictness] if args.strictness else []
    cluster = Cluster(Path(args.index), args.replicas, args.host, args.port, app_args, args.check_ms, haproxy)
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if cluster.haproxy is None:  # still starting: leave start() at once
            raise KeyboardInterrupt
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        cluster.start()
        for r in cluster.replicas:
            print(f"replica {r.name}: pid {r.proc.pid}, http://127.0.0.1:{r.port}/", flush=True)
        print(f"Serving {cluster.count} replicas of {args.index} behind haproxy on {cluster.url} "
              f"(configuration: {cluster.config_path}); Ctrl-C stops them", flush=True)
        reported: set[str] = set()
        while not stopping.wait(0.2):
            gone = cluster.ended()
            for name in sorted(set(gone) - reported):
                print(f"{name} ended; " + ("stopping" if name == "haproxy" or len(gone) == cluster.count else
                                           "haproxy sends its requests to the others"), file=sys.stderr, flush=True)
            reported.update(gone)
            if "haproxy" in gone or len([g for g in gone if g != "haproxy"]) == cluster.count:
                return 1
        return 0
    except (PortInUse, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        cluster.stop()


def _backend(text: str) -> Backend:
    name, _, address = text.partition("=")
    host, _, port = address.rpartition(":")
    if not (name and host and port.isdigit()):
        raise ValueError(f"{text!r}: expected NAME=HOST:PORT")
    return Backend(replica_name(name), host, int(port))


if __name__ == "__main__":
    sys.exit(main())
