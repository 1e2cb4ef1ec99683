"""Index: the corpus index answering reads (``corpus``), its BM25 engines (``engines``), the
saved index on disk (``store``, ``files``) and the writing side (``indexer``, ``build``,
``update``), which the answering side never imports."""
