"""Serve: the HTTP server and JSON API (``web``) and the Gradio page (``ui``, the only module
that imports gradio)."""
