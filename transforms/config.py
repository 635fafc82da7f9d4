"""The one configuration of the corpus job: every size cap, threshold and option, with a stable digest."""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ReadConfig:
    max_record_bytes: int = 4 * 1024 * 1024  # payload cap; larger responses are dropped, not truncated
    max_member_bytes: int = 16 * 1024 * 1024  # decompressed gzip member / uncompressed record cap (header + payload)
    max_header_bytes: int = 64 * 1024  # a WARC header block; longer is damage, never read on
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
    timeout_s: float = 10.0  # trafilatura only (main thread); resiliparse is bounded by max_depth instead
    max_depth: int = 256  # deeper element nesting (main-content extraction is quadratic in it) → tags flattened


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
    segmenter: str = "crf"  # crf | ltp-perceptron | jieba | ltp
    segmenter_model: str = ""  # model folder or file (ltp: also a hub id); "" = the bundled gold-trained model
    pinyin: str = "g2pm"  # g2pm: pypinyin's phrases, then g2pM's BiLSTM for lone polyphones | pypinyin: phrases only
    polyphone_context: int = 8  # characters either side that the BiLSTM reads
    polyphone_min_confidence: float = 0.7  # below this the BiLSTM's choice is ignored and pypinyin's reading stays
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
            for name, value in values.items():
                check_value(f"{f.name}.{name}", known[name].default, value)
            sections[f.name] = section_cls(**values)
        extra = set(data) - set(sections)
        if extra:
            raise ValueError(f"unknown config sections: {sorted(extra)}")
        config = cls(**sections)
        check_relations(config)
        return config

    def with_overrides(self, assignments: list[str]) -> "CorpusConfig":
        """Apply `section.key=value` strings (value parsed as JSON, else kept as a string)."""
        data = self.to_dict()
        for item in assignments:
            path, _, raw = item.partition("=")
            section, _, key = path.partition(".")
            if section not in data or key not in data[section]:
                close = difflib.get_close_matches(path, [f"{s}.{k}" for s in data for k in data[s]], n=1)
                raise ValueError(f"unknown config key: {path}" + (f" (did you mean {close[0]}?)" if close else ""))
            try:
                data[section][key] = json.loads(raw)
            except json.JSONDecodeError:
                data[section][key] = raw
        return CorpusConfig.from_dict(data)


# Allowed values beyond "the default's type, and not negative": (low, high) bounds or a set of choices.
CHOICES = {"extract.extractor": {"resiliparse", "trafilatura"}, "clean.convert_script": {"none", "t2s", "s2t"},
           "annotate.segmenter": {"crf", "jieba", "ltp-perceptron", "ltp"}, "annotate.pinyin": {"g2pm", "pypinyin"}}
BOUNDS = {"dedup.lsh_bands": (1, None), "dedup.minhash_perms": (1, None), "dedup.shingle_chars": (1, None),
          "dedup.tree_fanout": (2, None), "dedup.max_rounds": (1, None), "dedup.rounds_per_pipeline": (1, None),
          "shards.target_bytes": (1, None), "annotate.vocab_size": (6, None), "annotate.polyphone_context": (1, 64), "read.max_record_bytes": (1, 1 << 26),
          "read.max_member_bytes": (1, None), "read.max_header_bytes": (64, None), "extract.max_html_chars": (1, None), "extract.max_depth": (8, None), "extract.timeout_s": (0.001, None),
          "thresholds.max_perplexity": (0, None), "thresholds.tier_head_max_perplexity": (0, None),
          "thresholds.tier_middle_max_perplexity": (0, None), "thresholds.max_spam_title_hits": (0, None),
          "thresholds.max_spam_sentences": (0, None), "thresholds.max_title_stuffing": (0, None),
          "thresholds.min_han_chars": (0, None), "thresholds.max_badwords_per_1k": (0, None),
          "thresholds.max_mojibake_per_1k": (0, None), "sniff.min_han_bytes_seqs": (0, None)}
UNIT_INTERVAL = (0, 1)  # every other float threshold is a share or a probability


def _describe(low, high, kind: str) -> str:
    if high is None:
        return f"{kind} >= {low}"
    return f"{kind} in [{low}, {high}]"


def check_value(path: str, default: Any, value: Any) -> None:
    """Raise ValueError with one line naming the key and what it allows, if the value does not fit."""
    kind = {bool: "true or false", int: "an integer", float: "a number", str: "a string", tuple: "a list of strings"}
    expected = type(default)
    ok = {bool: lambda v: isinstance(v, bool),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          str: lambda v: isinstance(v, str),
          tuple: lambda v: isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v)}[expected]
    if not ok(value):
        raise ValueError(f"config: {path} must be {kind[expected]} (got {value!r})")
    if path in CHOICES and value not in CHOICES[path]:
        raise ValueError(f"config: {path} must be one of {sorted(CHOICES[path])} (got {value!r})")
    if expected in (int, float):
        low, high = BOUNDS.get(path, UNIT_INTERVAL if expected is float else (0, None))
        if value < low or (high is not None and value > high):
            raise ValueError(f"config: {path} must be {_describe(low, high, kind[expected])} (got {value!r})")


def check_relations(config: "CorpusConfig") -> None:
    """Constraints between keys."""
    d, t = config.dedup, config.thresholds
    if d.minhash_perms % d.lsh_bands:
        raise ValueError(f"config: dedup.lsh_bands must divide dedup.minhash_perms ({d.minhash_perms}) "
                         f"(got {d.lsh_bands})")
    if t.tier_head_max_perplexity > t.tier_middle_max_perplexity:
        raise ValueError("config: thresholds.tier_head_max_perplexity must be <= thresholds.tier_middle_max_perplexity")
    unknown = set(t.soft_rules) - SOFT_RULE_NAMES
    if unknown:
        raise ValueError(f"config: thresholds.soft_rules may name only {sorted(SOFT_RULE_NAMES)} (got {sorted(unknown)})")


SOFT_RULE_NAMES = {"title_stuffing", "too_much_latin", "few_sentences", "short_lines", "duplicate_lines", "digits",
                   "repeated_2gram", "repeated_5gram", "symbols"}
