"""A cheap language guess from stop words, for documents whose source does not say."""

from __future__ import annotations

import re

_STOP_WORDS = {
    "en": "the and of to a in that is was he it for with as his on be at by i had not are",
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als",
    "fr": "le la les de et des un une du en que qui est dans pour pas au sur ne se",
    "es": "de la que el en y los del se las por un para con no una su al lo como",
    "it": "di e il la che in un per non una del le si da con sono gli della al",
    "nl": "de het een en van in is dat op te zijn met die voor niet aan er ook",
    "pt": "de a o que e do da em um para com não uma os no se na por mais",
    "la": "et in est non ad cum ut sed quod qui quae esse enim etiam atque",
}
_SETS = {code: frozenset(words.split()) for code, words in _STOP_WORDS.items()}
_WORD = re.compile(r"[^\W\d_]+")
_SAMPLE_CHARS = 20_000
_MIN_HITS = 20


def guess_language(text: str) -> str:
    """ISO 639-1 code of the language with the most stop-word hits, or "" when unsure."""
    words = _WORD.findall(text[:_SAMPLE_CHARS].casefold())
    hits = {code: sum(w in stop for w in words) for code, stop in _SETS.items()}
    code, best = max(hits.items(), key=lambda item: item[1])
    return code if best >= _MIN_HITS and best >= 0.1 * len(words) else ""
