"""Text: words to index terms (``analyze``), acronyms and long forms (``glossary``), typo
correction (``spelling``) and what static word vectors know of words (``paraphrase``)."""
