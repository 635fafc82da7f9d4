"""Spam lexicon on word boundaries, keyword stuffing, the fastText classifier, the character LM and the decision."""
import dataclasses
import hashlib
import os
import subprocess
import sys

import pytest

from conftest import ROOT, requires_shared
from transforms.charlm import CharLM, train as train_lm
from transforms.chain import CLASSIFIER_PATH, LANGUAGE_MODEL_PATH, LEXICON_PATH
from transforms.classifier import QualityClassifier, fasttext_line
from transforms.config import CorpusConfig, Thresholds
from transforms.decide import decide, tier
from transforms.segment import load_segmenter, segment
from transforms.spam import SpamLexicon, spam_signals, title_stuffing

NEWS_ON_LOTTERY = ("记者从市福利彩票发行中心获悉，今年一季度全市彩票销售额同比增长百分之八。"
                   "业内人士提醒，购买彩票应量力而行，警方近期还破获一起利用境外博彩网站组织网上赌博的案件。")
INJECTED = ("城东新区图书馆本周六正式开放，新馆共设六层，藏书一百二十万册。"
            "点击进入星河娱乐，真人视讯、电子游艺、体育投注一站式体验，注册即送八十八元彩金。"
            "馆长表示，新馆将实行每周七天开放，并提供古籍修复展示。")


@pytest.fixture(scope="module")
def lexicon():
    return SpamLexicon.from_tsv(LEXICON_PATH)


@pytest.fixture(scope="module")
def jieba():
    return load_segmenter("jieba")


def signals(lexicon, jieba, title, text):
    return spam_signals(lexicon, title, segment(title, jieba), text, segment(text, jieba))


def test_lexicon_ignores_legitimate_lottery_news_and_words_inside_words(lexicon, jieba):
    s = signals(lexicon, jieba, "一季度彩票销售额增长", NEWS_ON_LOTTERY)
    assert s["spam_title_hits"] == 0 and s["spam_sentences"] <= 1
    assert lexicon.counts("这台电脑的性能很好，楼下就是彩票投注站。", segment("这台电脑的性能很好，楼下就是彩票投注站。", jieba)) == {}


def test_lexicon_finds_seo_titles_and_injected_sentences(lexicon, jieba):
    s = signals(lexicon, jieba, "城东新区图书馆开放_星河体育app下载", INJECTED)
    assert s["spam_title"] == {"seo": 1} and s["spam_title_hits"] == 1
    assert s["spam_sentences"] == 1 and s["badwords"].get("gambling", 0) >= 2


def test_title_stuffing_counts_repeated_title_phrases():
    title = "城东新区图书馆开放_星河体育官方网站"
    body = "本文摘要：城东新区图书馆开放，星河体育官方网站。" + "星河体育官方网站为您带来最新消息。" * 3
    assert title_stuffing(title, body) == 4
    assert title_stuffing("城东新区图书馆开放", "城东新区图书馆开放\n经过两年的建设，新馆开放。") == 1
    assert title_stuffing("新馆", "新馆新馆新馆新馆") == 0  # pieces under four characters never count


def test_classifier_input_is_characters_and_latin_words():
    assert fasttext_line("标题2024", "Hello 世界，123") == "标 题 0 ¶ hello 世 界 ， 0"


def test_committed_classifier_separates_spam_from_news():
    clf = QualityClassifier(CLASSIFIER_PATH)
    casino = "澳门新葡京官方网站，真人百家乐在线投注，注册送彩金，首存即送百分之百，日返水百分之一点五，提款秒到账。"
    assert clf.spam_probability("新葡京娱乐官网_注册送彩金", casino) > 0.9
    report = ("本报讯 今年以来，我市坚持稳中求进工作总基调，全市经济运行总体平稳。一季度，全市地区生产总值同比增长百分之六点五，"
              "社会消费品零售总额增长百分之九。\n市统计局有关负责人介绍，消费市场持续回暖，文化、体育和旅游消费增长较快。\n"
              "记者从市福利彩票发行中心获悉，今年一季度全市彩票销售额同比增长百分之八。业内人士提醒，购买彩票应量力而行。")
    assert clf.spam_probability("一季度消费市场持续回暖", report) < CorpusConfig().thresholds.max_spam_score


def test_char_lm_prefers_fluent_chinese_and_scores_each_line():
    texts = ["今天天气很好，我们去公园散步。\n公园里有很多人在锻炼身体。"] * 5 + ["图书馆新馆今天开放，很多市民前来参观。"] * 5
    lm = train_lm(texts, order=3, min_count=1)
    doc, lines = lm.perplexity("今天天气很好，我们去公园散步。\n杂乱无章字符串彼此毫无关联")
    assert len(lines) == 2 and lines[0] < lines[1] and lines[0] < doc < lines[1]
    assert lm.perplexity("") == (0.0, [])


def test_char_lm_round_trips_and_trains_deterministically(tmp_path):
    texts = [f"第{i}段：市民图书馆新馆开放，藏书一百二十万册。" for i in range(50)]
    a, b = train_lm(texts), train_lm(texts)
    assert a.to_bytes() == b.to_bytes()
    path = tmp_path / "lm.npz"
    path.write_bytes(a.to_bytes())
    loaded = CharLM.load(str(path))
    assert loaded.perplexity("市民图书馆新馆开放") == a.perplexity("市民图书馆新馆开放")


def test_committed_lm_ranks_news_above_keyword_lists():
    lm = CharLM.load(LANGUAGE_MODEL_PATH)
    news, _ = lm.perplexity("国务院新闻办公室今天举行新闻发布会，介绍今年一季度国民经济运行情况。")
    spam, _ = lm.perplexity("亚洲精品无码 久久国产视频 日韩在线 最新高清无码专区 免费视频在线观看")
    assert news * 3 < spam


def scores(**changes):
    base = {"mojibake_per_1k": 0, "lang_score": 1.0, "kana_ratio": 0, "hangul_ratio": 0, "latin_ratio": 0.0,
            "n_han": 400, "han_ratio": 0.95, "badwords_per_1k": 0, "terminal_punct_lines": 0.9, "short_line_ratio": 0,
            "dup_line_chars": 0, "top_2gram": 0.02, "dup_5gram": 0, "symbol_ratio": 0, "digit_ratio": 0,
            "spam_title_hits": 0, "quality_spam": 0.01, "spam_sentences": 0, "title_stuffing": 1, "perplexity": 120.0}
    return {**base, **changes}


def test_decide_spam_rules_overrule_and_tiers():
    t = Thresholds()
    assert decide(scores(), t) is None
    assert decide(scores(quality_spam=0.95), t) == "spam_classifier"
    assert decide(scores(spam_title_hits=1, quality_spam=0.0), t) == "spam_title"
    assert decide(scores(spam_sentences=3), t) == "spam_sentences"
    # a confident clean score waives a soft rule, never the length rule
    assert decide(scores(terminal_punct_lines=0.0), t) is None
    assert decide(scores(terminal_punct_lines=0.0, quality_spam=0.2), t) == "few_sentences"
    assert decide(scores(n_han=20), t) == "too_short"
    assert decide(scores(perplexity=5000.0), t) == "perplexity"
    assert [tier(scores(perplexity=p), t) for p in (80, 300, 900)] == ["head", "middle", "tail"]
    strict = dataclasses.replace(t, max_spam_score=0.005)
    assert decide(scores(), strict) == "spam_classifier"


def test_overrides_reach_the_new_thresholds():
    config = CorpusConfig().with_overrides(["thresholds.max_spam_score=0.9", "quality.classifier_model=/x.ftz"])
    assert config.thresholds.max_spam_score == 0.9 and config.quality.classifier_model == "/x.ftz"


def test_quality_model_rebuilds_the_committed_files(tmp_path):
    """`make quality-model` is deterministic and reproduces what is committed (needs ../shared/data)."""
    requires_shared("quality", "trec06c_spam.jsonl")
    subprocess.run([sys.executable, "-m", "recipes.train_quality", "--out", str(tmp_path)], cwd=ROOT, check=True,
                   capture_output=True)
    for name, committed in (("quality_zh.ftz", CLASSIFIER_PATH), ("charlm_zh.npz", LANGUAGE_MODEL_PATH)):
        fresh = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        assert fresh == hashlib.sha256(open(committed, "rb").read()).hexdigest(), name
    assert os.path.getsize(CLASSIFIER_PATH) < 4 << 20 and os.path.getsize(LANGUAGE_MODEL_PATH) < 4 << 20


def test_lexicon_rarely_fires_on_real_prose(lexicon, jieba):
    """People's Daily and CLUECorpusSmall: almost no document has a hit (needs ../shared/data)."""
    pd = [line.strip() for line in open(requires_shared("prose", "peopledaily1998_sentences.txt"), encoding="utf-8")]
    docs = ["".join(pd[i:i + 10]) for i in range(0, 20_000, 10)]
    docs += [line.strip() for line in open(requires_shared("prose", "cluecorpussmall_sample.txt"), encoding="utf-8")]
    with_hits = sum(bool(lexicon.hits(d, segment(d, jieba))) for d in docs)
    assert with_hits / len(docs) < 0.005, with_hits
