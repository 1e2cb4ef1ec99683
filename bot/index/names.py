"""The engines a saved index can use, by the name its header records: written once, importable
without loading any engine (the CLI offers them as choices)."""

POSTINGS, TANTIVY = "postings", "tantivy"
ENGINES = (POSTINGS, TANTIVY)
