"""Traditional vs simplified: detect per document; convert (phrase-level, OpenCC dictionaries) only when asked."""
from __future__ import annotations

import os

MIN_EVIDENCE = 5  # distinguishing characters needed before a document gets a script label
DOMINANCE = 4.0  # one script must outnumber the other this many times


def opencc_dictionary_dir() -> str:
    """Folder of OpenCC's character and phrase tables, as shipped by opencc-python-reimplemented."""
    import opencc

    return os.path.join(os.path.dirname(opencc.__file__), "dictionary")


def _read_pairs(path: str) -> dict[str, list[str]]:
    table = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, values = line.rstrip("\n").partition("\t")
            if key:
                table[key] = values.split()
    return table


class ScriptDetector:
    """Counts characters that exist in only one script; optionally converts with OpenCC's phrase tables."""

    def __init__(self, dictionary_dir: str):
        t2s = _read_pairs(os.path.join(dictionary_dir, "TSCharacters.txt"))
        s2t = _read_pairs(os.path.join(dictionary_dir, "STCharacters.txt"))
        traditional = {c for c, targets in t2s.items() if len(c) == 1 and c not in targets}
        simplified = {c for c, targets in s2t.items() if len(c) == 1 and c not in targets}
        # A character in both sets is written the same in some words of each script (e.g. 乾, 后): no evidence.
        self.traditional_only = {ord(c): None for c in traditional - simplified}
        self.simplified_only = {ord(c): None for c in simplified - traditional}
        # Character-level traditional → simplified (first candidate): the scorers' view, trained on simplified text.
        self.to_simplified = {ord(c): targets[0] for c, targets in t2s.items()
                              if len(c) == 1 and targets and len(targets[0]) == 1 and targets[0] != c}
        self._converters: dict[str, object] = {}

    def detect(self, text: str) -> dict[str, object]:
        """{'script': simplified|traditional|mixed|unknown, 'trad_chars': n, 'simp_chars': n}."""
        n_trad = len(text) - len(text.translate(self.traditional_only))
        n_simp = len(text) - len(text.translate(self.simplified_only))
        if n_trad + n_simp < MIN_EVIDENCE:
            script = "unknown"
        elif n_trad >= DOMINANCE * max(n_simp, 1):
            script = "traditional"
        elif n_simp >= DOMINANCE * max(n_trad, 1):
            script = "simplified"
        else:
            script = "mixed"
        return {"script": script, "trad_chars": n_trad, "simp_chars": n_simp}

    def simplified_view(self, text: str) -> str:
        """Each traditional character replaced by its usual simplified form (cheap; not a faithful conversion)."""
        return text.translate(self.to_simplified)

    def convert(self, text: str, direction: str) -> str:
        """Phrase-level conversion, direction 't2s' or 's2t'."""
        if direction not in self._converters:
            import opencc

            self._converters[direction] = opencc.OpenCC(direction)
        return self._converters[direction].convert(text)
