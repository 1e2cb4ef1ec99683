"""A chatbot that answers only from its sources, quoting them verbatim with citations."""
from .chatbot import ChatBot
from .config import CorpusError
from .model import Citation, Document, Passage, Reply

__all__ = ["ChatBot", "Citation", "CorpusError", "Document", "Passage", "Reply"]
