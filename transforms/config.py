"""The one configuration of the corpus job: every size cap, threshold and option, with a stable digest."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ReadConfig:
    max_record_bytes: int = 4 * 1024 * 1024  # payload cap; larger responses are dropped, not truncated
    max_member_bytes: int = 16 * 1024 * 1024  # decompressed gzip member cap (header + payload)
    html_types: tuple[str, ...] = ("text/html", "application/xhtml+xml", "text/plain")


@dataclass(frozen=True)
class SniffConfig:
    min_han_bytes_seqs: int = 20  # UTF-8 / GB / Big5 double-byte Han sequences, or &#NNNNN; entities
    min_han_share: float = 0.002  # of the payload bytes, for long pages with few Han characters in a sea of markup


@dataclass(frozen=True)
class DecodeConfig:
    max_replacement_ratio: float = 0.01  # U+FFFD per character after the best decoding


@dataclass(frozen=True)
class ExtractConfig:
    extractor: str = "resiliparse"  # or "trafilatura" (more accurate, ~30x slower)
    max_html_chars: int = 2_000_000
    timeout_s: float = 10.0  # trafilatura only: resiliparse is linear-time C++ on a bounded input


@dataclass(frozen=True)
class CleanConfig:
    redact_pii: bool = True
    convert_script: str = "none"  # "none", "t2s" or "s2t" (phrase-level, OpenCC dictionaries)


@dataclass(frozen=True)
class QualityConfig:
    classifier_model: str = ""  # fastText spam classifier; "" = transforms/data/quality_zh.ftz (make quality-model)
    language_model: str = ""  # character n-gram LM for perplexity; "" = transforms/data/charlm_zh.npz


@dataclass(frozen=True)
class Thresholds:
    """Applied once, in transforms.decide, to scores stored with each document."""

    min_han_chars: int = 150
    min_han_ratio: float = 0.45  # Han / non-space characters
    max_latin_ratio: float = 0.30  # Latin letters / non-space characters ("too much English")
    min_lang_score: float = 0.50  # lid.176 probability of zh (or wuu/yue)…
    han_ratio_overrides_lid: float = 0.70  # …unless the text is this Han-dense with no kana or hangul (lid.176
    # misreads long unspaced Chinese: measured 4 of 837 CLUECorpusSmall documents called en/ja/ko)
    max_kana_hangul_for_override: float = 0.01
    max_kana_ratio: float = 0.05  # Japanese
    min_terminal_punct_lines: float = 0.12  # share of lines ending in sentence punctuation (FineWeb-2 cmn: 0.106)
    max_dup_line_chars: float = 0.30  # characters in lines that repeat inside the document
    max_top_2gram: float = 0.20  # share of Han characters covered by the most frequent character 2-gram
    max_dup_5gram: float = 0.50  # share of characters inside repeated character 5-grams (Chinese repeats more)
    max_symbol_ratio: float = 0.10
    max_digit_ratio: float = 0.20
    max_badwords_per_1k: float = 2.0
    max_mojibake_per_1k: float = 1.0
    max_short_line_ratio: float = 0.75  # lines under 10 characters: navigation and lists
    max_spam_score: float = 0.7  # fastText P(spam) (BENCHMARKS.md: the dev-set curve this was read from)
    max_spam_title_hits: int = 0  # spam-lexicon hits in the title (gambling/lottery/porn terms, SEO templates)
    max_spam_sentences: int = 2  # body sentences carrying a spam-lexicon hit (news on gambling has one or two)
    max_title_stuffing: int = 3  # occurrences in the body of the most repeated title phrase of >= 4 characters
    max_perplexity: float = 3000.0  # character LM perplexity: text no Chinese writer produced (lists, junk)
    overrule_max_spam_score: float = 0.05  # at or below this P(spam) the soft rules below are waived…
    soft_rules: tuple[str, ...] = ("title_stuffing", "too_much_latin", "few_sentences", "short_lines", "duplicate_lines",
                                   "digits")  # …(never language, length or the lexicon)
    tier_head_max_perplexity: float = 150.0  # quality tiers of kept documents, cc_net style: head / middle / tail
    tier_middle_max_perplexity: float = 400.0


@dataclass(frozen=True)
class DedupConfig:
    shingle_chars: int = 5
    minhash_perms: int = 112
    lsh_bands: int = 14  # 14 bands x 8 rows: pairs at Jaccard 0.8 are found with p > 0.99
    min_line_chars: int = 10  # lines shorter than this are not considered for cross-document line dedup
    tree_fanout: int = 16  # an LSH bucket's members are linked as a tree of this fanout: bounded degree per key
    max_rounds: int = 64  # label-propagation rounds before the job stops with an error (rounds ~ graph diameter)
    rounds_per_pipeline: int = 1  # >1 saves job launches on Dataflow/Flink/Spark; keep 1 on Beam's Dask runner
    seed: int = 1


@dataclass(frozen=True)
class AnnotateConfig:
    segmenter: str = "jieba"  # jieba | ltp-perceptron | ltp
    segmenter_model: str = ""  # model folder or file (ltp: also a hub id)
    vocab_file: str = ""  # a BERT vocab.txt to use (ids compatible with its checkpoints); "" builds one
    vocab_size: int = 23236  # the released ChineseBERT's size, as an upper bound
    min_char_count: int = 1
    fonts_manifest: str = ""  # "" = fonts/fonts.json


@dataclass(frozen=True)
class ShardConfig:
    target_bytes: int = 64 * 1024 * 1024
    prefix: str = "shard"


@dataclass(frozen=True)
class CorpusConfig:
    read: ReadConfig = field(default_factory=ReadConfig)
    sniff: SniffConfig = field(default_factory=SniffConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    thresholds: Thresholds = field(default_factory=Thresholds)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    annotate: AnnotateConfig = field(default_factory=AnnotateConfig)
    shards: ShardConfig = field(default_factory=ShardConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), stable key order."""
        return json.loads(json.dumps(dataclasses.asdict(self), sort_keys=True))

    def digest(self) -> str:
        """sha256 of the canonical JSON form: the identity of this configuration."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CorpusConfig":
        """Build from a (partial) nested dict; unknown keys are an error."""
        sections = {}
        for f in dataclasses.fields(cls):
            section_cls = f.default_factory  # type: ignore[misc]
            values = dict(data.get(f.name, {}))
            known = {sf.name: sf for sf in dataclasses.fields(section_cls)}
            unknown = set(values) - set(known)
            if unknown:
                raise ValueError(f"unknown config keys in [{f.name}]: {sorted(unknown)}")
            for name, value in values.items():
                if isinstance(known[name].default, tuple):
                    values[name] = tuple(value)
            sections[f.name] = section_cls(**values)
        extra = set(data) - set(sections)
        if extra:
            raise ValueError(f"unknown config sections: {sorted(extra)}")
        return cls(**sections)

    def with_overrides(self, assignments: list[str]) -> "CorpusConfig":
        """Apply `section.key=value` strings (value parsed as JSON, else kept as a string)."""
        data = self.to_dict()
        for item in assignments:
            path, _, raw = item.partition("=")
            section, _, key = path.partition(".")
            if section not in data or key not in data[section]:
                raise ValueError(f"unknown config key: {path}")
            try:
                data[section][key] = json.loads(raw)
            except json.JSONDecodeError:
                data[section][key] = raw
        return CorpusConfig.from_dict(data)
