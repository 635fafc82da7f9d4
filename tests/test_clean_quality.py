"""Boilerplate, PII, quality scores, bad words on word boundaries, script detection and the decision."""
import dataclasses

import pytest

from transforms.chars import ends_sentence, split_sentences
from transforms.clean import (boilerplate_category, is_content_line, redact_pii, remove_boilerplate,
                              trim_to_content, valid_resident_id)
from transforms.config import CorpusConfig, Thresholds
from transforms.decide import RULES, decide
from transforms.quality import line_scores, ngram_scores, quality_scores
from transforms.spam import SpamLexicon


@pytest.mark.parametrize("line,category", [
    ("京ICP备12345678号-1", "icp"), ("版权所有 © 示例日报社", "copyright"), ("上一篇：城东新区道路改造完成", "prev_next"),
    ("责任编辑：李明", "editor"), ("扫码关注我们的微信公众号", "follow"), ("登录后才能发表评论", "login"),
    ("您的位置：首页 > 新闻", "breadcrumb"), ("首页 > 新闻中心 > 本地新闻", "breadcrumb"), ("分享到：微信 微博", "share"),
    ("关于我们 | 联系我们 | 网站地图", "contact"),
])
def test_boilerplate_lines(line, category):
    assert boilerplate_category(line) == category


def test_content_mentioning_boilerplate_words_is_kept():
    long_line = "这家出版社强调，作品的版权所有人有权决定是否授权改编，任何单位未经许可不得擅自使用，否则将依法追究责任。"
    text, removed = remove_boilerplate("正文第一段。\n" + long_line + "\n责任编辑：李明")
    assert long_line in text and removed == {"editor": 1}


def test_trim_to_content_cuts_menus_and_headline_lists():
    article = ["城东新区图书馆开放", "经过两年多的建设，位于城东新区的市民图书馆于本周六正式向公众开放。",
               "新馆建筑面积约三万平方米，共设六层，藏书规模达到一百二十万册。", "小标题", "馆长表示，新馆将实行每周七天开放。"]
    # menu, title, paragraph, headline list, paragraph, subheading, paragraph, headline list, menu
    menu = ["首页", "新闻", "体育", "财经"]
    headlines = ["张三谈新馆：这么多人来看书", "累计借阅破三千！新馆一天增加读者八百人", "女子：终于找到安静读书的地方"]
    text, removed = trim_to_content("\n".join(menu + article[:2] + headlines + article[2:] + headlines + menu))
    assert text.split("\n") == article and removed == 2 * len(menu) + 2 * len(headlines)
    assert trim_to_content("首页\n新闻") == ("首页\n新闻", 0)  # nothing to anchor on: left for decide
    assert is_content_line("这是一个完整的句子，有十个以上的汉字。") and not is_content_line("累计借阅破三千！")


def test_resident_id_check_digit():
    assert valid_resident_id("110105199003071239")
    assert not valid_resident_id("110105199003071234")  # wrong check digit
    assert not valid_resident_id("110105199002301231")  # 30 February


def test_pii_redaction_in_context():
    text = ("身份证110105199003071239，订单号110105199003071234；手机13812345678或138-1234-5678；"
            "邮箱 a.b@example.com；加QQ：3527184960；阅读量3527184960次。")
    out, counts = redact_pii(text)
    assert "110105199003071239" not in out and "110105199003071234" in out
    assert "13812345678" not in out and "138-1234-5678" not in out and "a.b@example.com" not in out
    assert "QQ：<QQ号>" in out and "阅读量3527184960次" in out  # a bare number is no QQ number
    assert counts == {"email": 1, "id": 1, "mobile": 2, "qq": 1}


def test_sentence_ends_with_closing_quotes():
    assert ends_sentence("他说：“我明天再来。”") and ends_sentence("「好。」") and ends_sentence("真的吗？）")
    assert not ends_sentence("首页 新闻 体育") and not ends_sentence("第一章")
    assert ends_sentence("总体投资结构趋稳趋优。（德清县发改局）") and ends_sentence("全文完。(完)")
    assert not ends_sentence("新闻中心（更多）")
    assert split_sentences("他说：“走吧。”我们就走了。真的？\n第二行") == ["他说：“走吧。”", "我们就走了。", "真的？", "第二行"]


def test_line_and_ngram_scores():
    s = line_scores("一句话。\n一句话。\n另一行没有句号而且比较长一些\n短")
    assert s["n_lines"] == 4 and s["terminal_punct_lines"] == 0.5 and s["short_line_ratio"] == 0.75
    assert s["dup_line_chars"] == round(8 / 23, 4)
    clean = ngram_scores("秋天到了，树叶变黄，大雁南飞，农民伯伯忙着收割庄稼，孩子们在田野里奔跑。")
    spam = ngram_scores("哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈" + "点击下载点击下载点击下载点击下载")
    assert clean["dup_5gram"] == 0 and spam["dup_5gram"] > 0.9 and spam["top_2gram"] > clean["top_2gram"]


def test_bad_words_count_only_on_word_boundaries():
    from transforms.segment import load_segmenter, segment

    jieba = load_segmenter("jieba")
    bad = SpamLexicon([("porn", "性爱"), ("gambling", "投注"), ("gambling", "赌博"), ("porn", "性")])
    clean = "这台电脑的性能很好，彩票投注站就在楼下。"
    spam = "网上赌博危害大，切勿在线投注。"
    assert bad.counts(clean, segment(clean, jieba)) == {}
    assert bad.counts(spam, segment(spam, jieba)) == {"gambling": 2}


def test_quality_profile_counts_characters():
    s = quality_scores("中文ABC123，。😀")
    assert s["n_han"] == 2 and s["n_chars"] == 11
    assert s["latin_ratio"] == s["digit_ratio"] == round(3 / 11, 4) and s["symbol_ratio"] == round(1 / 11, 4)


def test_script_detection_and_conversion(chain):
    assert chain.script.detect("这是一个关于图书馆开放的新闻报道，读者们都很高兴。")["script"] == "simplified"
    assert chain.script.detect("這是一個關於圖書館開放的新聞報導，讀者們都很高興。")["script"] == "traditional"
    assert chain.script.detect("中文")["script"] == "unknown"
    assert chain.script.convert("頭髮發展很快", "t2s") == "头发发展很快"


def test_decide_names_the_first_failed_rule():
    good = {score: (10_000 if kind == "min" else 0) for _, score, kind, _ in RULES}
    good.update(han_ratio=0.5, hangul_ratio=0.0, quality_spam=0.5)  # not confident enough to waive a soft rule
    t = Thresholds()
    assert decide(good, t) is None
    for reason, score, kind, field in RULES:
        limit = getattr(t, field)
        bad = dict(good, **{score: limit - 1e-3 if kind == "min" else limit + 1e-3})
        assert decide(bad, t) == reason


def test_dense_han_text_overrides_a_wrong_language_id():
    scores = {score: (10_000 if kind == "min" else 0) for _, score, kind, _ in RULES}
    scores.update(lang_score=0.14, han_ratio=0.85, kana_ratio=0.0, hangul_ratio=0.0)
    assert decide(scores, Thresholds()) is None
    assert decide(dict(scores, kana_ratio=0.02), Thresholds()) == "not_chinese"
    assert decide(dict(scores, han_ratio=0.6), Thresholds()) == "not_chinese"


def test_config_digest_overrides_and_unknown_keys():
    base = CorpusConfig()
    assert base.digest() == CorpusConfig().digest()
    changed = base.with_overrides(["thresholds.min_han_chars=300", "extract.extractor=trafilatura"])
    assert changed.thresholds.min_han_chars == 300 and changed.extract.extractor == "trafilatura"
    assert changed.digest() != base.digest()
    assert CorpusConfig.from_dict(base.to_dict()) == base
    with pytest.raises(ValueError):
        base.with_overrides(["thresholds.no_such=1"])
    with pytest.raises(ValueError):
        CorpusConfig.from_dict({"dedup": {"bands": 3}})
    assert dataclasses.is_dataclass(base)


def test_chain_converts_script_only_when_asked(config):
    from conftest import article, html_record
    from sample import texts as T
    from transforms.chain import DocumentChain

    page = article(T.TEA_TRADITIONAL, title="高山烏龍茶").encode("utf-8")
    plain = DocumentChain.load(config)(html_record(page))
    assert plain.meta["script"] == "traditional" and plain.meta["script_conversion"] == "none" and "臺灣" in plain.text
    converted_config = config.with_overrides(["clean.convert_script=t2s"])
    converted = DocumentChain.load(converted_config)(html_record(page))
    assert converted.meta["script"] == "traditional" and converted.meta["script_conversion"] == "t2s"
    assert "台湾" in converted.text and "臺灣" not in converted.text
