"""Serve the chat page: python app.py [--corpus DIR] [--host 127.0.0.1] [--port 7860] [--strictness S]
[--no-attachments] [--replica NAME]."""
import argparse
import sys

from bot.config import setting_arg  # light: the manifest reader (PyYAML), no gradio
from bot.serve.health import replica_name  # standard library only


def main() -> int:
    p = argparse.ArgumentParser(description="Chat page that answers only from its sources.")
    p.add_argument("--corpus", help="corpus folder (default: the bundled corpus/)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860, help="port to serve on (0: any free port, printed)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a host name the page may be reached by besides --host, localhost and IP addresses "
                        "(for a reverse proxy or a LAN name; repeatable; '*' allows any)")
    p.add_argument("--rebuild", action="store_true", help="rebuild a saved index whose sources changed or whose files are damaged")
    p.add_argument("--feedback", metavar="FILE",
                   help="record likes/dislikes to this JSON Lines file (off unless given or set in corpus.yaml)")
    p.add_argument("--no-attachments", action="store_true",
                   help="turn off attaching files to a conversation (the page shows no file button; the "
                        "/api/conversations routes answer 403)")
    p.add_argument("--replica", type=replica_name, default=None, metavar="NAME",  # None: argparse checks a str default
                   help="this process's name as one of several behind a load balancer (python -m bot.serve.replicas "
                        "starts them): its conversation ids start with NAME- and /healthz reports it")
    p.add_argument("--strictness", type=setting_arg("strictness"), default=None,
                   help="0..1: how sure the bot must be to answer (default: the corpus setting, 0.5)")
    args = p.parse_args()
    from bot.config import CorpusError
    from bot.serve.server import PortInUse, bind  # standard library only: no gradio yet

    try:
        sock = bind(args.host, args.port)  # a port in use is reported before anything else happens
        if args.rebuild:  # the launcher writes; the page only answers
            from bot.index.indexer import refresh

            refresh(args.corpus)
        from bot.serve.ui import launch

        launch(args.corpus, args.host, args.port, args.feedback, args.strictness, tuple(args.allow_host), sock,
               attachments=not args.no_attachments, replica=args.replica or "")
    except (CorpusError, PortInUse) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
