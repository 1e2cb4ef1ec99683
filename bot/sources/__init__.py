"""Sources: files and corpus folders read into Documents (``readers``, ``ingest``, ``load``) and
Documents split into Passages (``split``)."""
