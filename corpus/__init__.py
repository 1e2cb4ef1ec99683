"""The default corpus (an article and its manifest), installed as package data ``bot.corpus``."""
