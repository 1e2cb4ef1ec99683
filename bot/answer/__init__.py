"""Answer: a question understood (``understand``), its support in a passage (``support``), the
sentences quoted (``quote``), what the sources lack (``explain``), the reply chosen
(``respond``, ``decide``) and written (``render``)."""
