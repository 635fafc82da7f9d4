"""The per-input chain: Record → sniff → decode → extract → language → clean → segment → score → Document.

Pure and Beam-free; models are loaded by `DocumentChain.load()` (once per worker) and handed in.
Each step raises `Rejected(step, reason)` to drop; the scores it computes go into `Document.meta`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from transforms import clean, decode, extract, sniff
from transforms.config import CorpusConfig
from transforms.dedup import document_key
from transforms.language import LanguageIdentifier, lid176_path
from transforms.quality import BadWords, quality_scores
from transforms.script import ScriptDetector, opencc_dictionary_dir
from transforms.segment import Segmenter, load_segmenter, segment
from transforms.types import Document, Record

BADWORDS_PATH = os.path.join(os.path.dirname(__file__), "data", "badwords_zh.tsv")


@dataclass
class DocumentChain:
    config: CorpusConfig
    lid: LanguageIdentifier
    badwords: BadWords
    script: ScriptDetector
    segmenter: Segmenter

    @classmethod
    def load(cls, config: CorpusConfig) -> "DocumentChain":
        """Load every model the chain needs (lid.176, bad-word list, OpenCC tables, segmenter)."""
        a = config.annotate
        return cls(config, LanguageIdentifier(lid176_path()), BadWords.from_tsv(BADWORDS_PATH),
                   ScriptDetector(opencc_dictionary_dir()), load_segmenter(a.segmenter, a.segmenter_model))

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
        words = segment(text, self.segmenter)  # once: the filters, line dedup and the shards all use it
        meta.update(self.scores(text, words))
        return Document(key=document_key(record.url), url=record.url, text=text, meta=meta, words=words)

    def scores(self, text: str, words: list[int]) -> dict[str, object]:
        """Quality scores and bad-word rates of a (cleaned, segmented) text."""
        scores = quality_scores(text)
        bad = self.badwords.counts(text, words)
        scores["badwords"] = bad
        scores["badwords_per_1k"] = round(1000 * sum(bad.values()) / max(scores["n_chars"], 1), 3)
        return scores
