"""The per-input chain: Record → sniff → decode → extract → language → clean → score → Document.

Pure and Beam-free; models are loaded by `DocumentChain.load()` (once per worker) and handed in.
Each step raises `Rejected(step, reason)` to drop; the scores it computes go into `Document.meta`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from transforms import clean, decode, extract, sniff
from transforms.config import CorpusConfig
from transforms.dedup import document_key
from transforms.language import LanguageIdentifier, lid176_path
from transforms.quality import BadWords, quality_scores
from transforms.script import ScriptDetector, opencc_dictionary_dir
from transforms.types import Document, Record

BADWORDS_PATH = os.path.join(os.path.dirname(__file__), "data", "badwords_zh.tsv")


def default_words() -> Callable[[str], list[str]]:
    """The fast offline segmenter used by the filters (rjieba: ships its dictionary)."""
    import rjieba

    return rjieba.cut


@dataclass
class DocumentChain:
    config: CorpusConfig
    lid: LanguageIdentifier
    badwords: BadWords
    script: ScriptDetector
    words: Callable[[str], list[str]]

    @classmethod
    def load(cls, config: CorpusConfig) -> "DocumentChain":
        """Load every model the chain needs (lid.176, bad-word list, OpenCC tables, segmenter)."""
        return cls(config, LanguageIdentifier(lid176_path()), BadWords.from_tsv(BADWORDS_PATH),
                   ScriptDetector(opencc_dictionary_dir()), default_words())

    def __call__(self, record: Record) -> Document:
        """Run every per-input step; returns the scored document or raises Rejected."""
        cfg = self.config
        signals = sniff.sniff(record.payload, record.http_charset, cfg.sniff)
        decoded = decode.decode(record.payload, record.http_charset, sniff.meta_charset(record.payload), cfg.decode)
        text, title = extract.extract(decoded.text, cfg.extract)
        meta = {
            "url": record.url,
            "warc_file": record.warc_file,
            "warc_offset": record.warc_offset,
            "warc_record_id": record.record_id,
            "fetch_time": record.fetch_time,
            "title": title,
            "html_lang": signals["html_lang"],
            "sniff": signals["sniff"],
            "charset": decoded.charset,
            "charset_declared": decoded.declared,
            "charset_source": decoded.source,
            "replacement_ratio": decoded.replacement_ratio,
            "private_use_removed": decoded.private_use_removed,
            "mojibake_per_1k": decode.mojibake_per_1k(text),
        }
        meta.update(self.lid.scores(text))
        text, meta["boilerplate_lines"] = clean.remove_boilerplate(text)
        text, meta["navigation_lines"] = clean.trim_to_content(text)
        if cfg.clean.redact_pii:
            text, meta["pii"] = clean.redact_pii(text)
        meta.update(self.script.detect(text))
        if cfg.clean.convert_script != "none":
            text = self.script.convert(text, cfg.clean.convert_script)
        meta["script_conversion"] = cfg.clean.convert_script
        meta.update(self.scores(text))
        return Document(key=document_key(record.url), url=record.url, text=text, meta=meta)

    def scores(self, text: str) -> dict[str, object]:
        """Quality scores and bad-word rates of a (cleaned) text; recomputed after line dedup."""
        scores = quality_scores(text)
        bad = self.badwords.counts(text, self.words)
        scores["badwords"] = bad
        scores["badwords_per_1k"] = round(1000 * sum(bad.values()) / max(scores["n_chars"], 1), 3)
        return scores
