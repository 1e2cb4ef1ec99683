"""A chatbot that answers only from its sources, quoting them verbatim with citations."""
from bot.chatbot import ChatBot
from bot.config import CorpusError
from bot.model import Citation, Document, Passage, Reply

__all__ = ["ChatBot", "Citation", "CorpusError", "Document", "Passage", "Reply"]
