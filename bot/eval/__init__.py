"""Evaluation: ``python -m bot eval gold / beir / wikiqa / squad / realdocs``. Not imported when
answering; ``beir`` needs the ``eval`` extra (``pip install -e ".[eval]"``)."""
