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
from transforms.charlm import CharLM
from transforms.classifier import QualityClassifier
from transforms.language import LanguageIdentifier, lid176_path
from transforms.quality import quality_scores
from transforms.script import ScriptDetector, opencc_dictionary_dir
from transforms.segment import Segmenter, load_segmenter, segment
from transforms.spam import SpamLexicon, spam_signals
from transforms.types import Document, Record

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
LEXICON_PATH = os.path.join(DATA_DIR, "spam_lexicon_zh.tsv")
CLASSIFIER_PATH = os.path.join(DATA_DIR, "quality_zh.ftz")
LANGUAGE_MODEL_PATH = os.path.join(DATA_DIR, "charlm_zh.npz")


def model_paths(config: CorpusConfig) -> dict[str, str]:
    """The classifier and language-model files the config selects (the committed ones by default)."""
    q = config.quality
    return {"classifier": q.classifier_model or CLASSIFIER_PATH, "language_model": q.language_model or LANGUAGE_MODEL_PATH,
            "spam_lexicon": LEXICON_PATH}


def clean_text(text: str, config: CorpusConfig) -> tuple[str, dict]:
    """Boilerplate lines, navigation around the content, PII: the text the scorers see (and were trained on)."""
    counts: dict = {}
    text, counts["boilerplate_lines"] = clean.remove_boilerplate(text)
    text, counts["navigation_lines"] = clean.trim_to_content(text)
    if config.clean.redact_pii:
        text, counts["pii"] = clean.redact_pii(text)
    return text, counts


def page_view(html: str, config: CorpusConfig) -> tuple[str, str]:
    """(title, cleaned text) of a decoded page, as the chain's scorers see it: the classifier's training view."""
    text, title = extract.extract(html, config.extract)
    return title, clean_text(text, config)[0]


@dataclass
class DocumentChain:
    config: CorpusConfig
    lid: LanguageIdentifier
    lexicon: SpamLexicon
    script: ScriptDetector
    segmenter: Segmenter
    classifier: QualityClassifier
    lm: CharLM

    @classmethod
    def load(cls, config: CorpusConfig) -> "DocumentChain":
        """Load every model the chain needs (lid.176, spam lexicon and classifier, LM, OpenCC tables, segmenter)."""
        a, paths = config.annotate, model_paths(config)
        return cls(config, LanguageIdentifier(lid176_path()), SpamLexicon.from_tsv(paths["spam_lexicon"]),
                   ScriptDetector(opencc_dictionary_dir()), load_segmenter(a.segmenter, a.segmenter_model),
                   QualityClassifier(paths["classifier"]), CharLM.load(paths["language_model"]))

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
        text, cleaning = clean_text(text, cfg)
        meta.update(cleaning)
        meta.update(self.script.detect(text))
        if cfg.clean.convert_script != "none":
            text = self.script.convert(text, cfg.clean.convert_script)
        meta["script_conversion"] = cfg.clean.convert_script
        words = segment(text, self.segmenter)  # once: the filters, line dedup and the shards all use it
        meta.update(self.scores(title, text, words))
        return Document(key=document_key(record.url), url=record.url, text=text, meta=meta, words=words)

    def scores(self, title: str, text: str, words: list[int]) -> dict[str, object]:
        """Quality scores, spam signals, the classifier's P(spam) and LM perplexities of a cleaned, segmented text."""
        scores = quality_scores(text)
        scores.update(spam_signals(self.lexicon, title, segment(title, self.segmenter), text, words))
        # The classifier and the LM learned simplified text: traditional pages are scored through a simplified view.
        view = self.script.simplified_view
        scores["quality_spam"] = self.classifier.spam_probability(view(title), view(text))
        scores["perplexity"], scores["line_perplexity"] = self.lm.perplexity(view(text))
        return scores
