"""Main-text extraction with paragraph breaks, and language identification with lid.176."""
import pytest

from conftest import article
from transforms.config import ExtractConfig
from transforms.extract import extract, normalise_paragraphs
from transforms.types import Rejected

PARAS = ["第一段：经过两年多的建设，新馆正式开放。", "第二段：新馆建筑面积约三万平方米，共设六层。"]


def test_paragraphs_are_lines_and_title_is_kept():
    text, title = extract(article(PARAS, title="新馆开放"), ExtractConfig())
    assert title == "新馆开放"
    lines = text.split("\n")
    assert PARAS[0] in lines and PARAS[1] in lines


def test_size_guard_and_empty_page():
    with pytest.raises(Rejected) as e:
        extract("<html>" + "<p>字</p>" * 1000 + "</html>", ExtractConfig(max_html_chars=1000))
    assert e.value.label == "extract.html_too_large"
    with pytest.raises(Rejected) as e:
        extract("<html><body><script>var a = 1;</script></body></html>", ExtractConfig())
    assert e.value.label == "extract.empty"


def test_article_in_navigation_like_markup_is_not_lost():
    body = "".join(f'<div class="nav-item menu">{p}</div>' for p in PARAS * 10)
    text, _ = extract(f"<html><body>{body}</body></html>", ExtractConfig())
    assert PARAS[0] in text.split("\n")


def test_normalise_paragraphs():
    assert normalise_paragraphs("  a \u3000 b \n\n\n c\t\n") == "a b\nc"


def test_language_scores(chain):
    zh = chain.lid.scores("北京市民图书馆新馆于本周六正式开放，藏书一百二十万册。市民凭身份证即可免费办理借阅证。")
    ja = chain.lid.scores("新しい市立図書館が今週の土曜日に開館しました。館内には子ども向けの読書コーナーがあります。")
    en = chain.lid.scores("The city library reopened this week after a two-year renovation.")
    assert zh["lang"] == "zh" and zh["lang_score"] > 0.9
    assert ja["lang"] == "ja" and ja["lang_score"] < 0.1
    assert en["lang"] == "en" and en["lang_score"] < 0.1


def test_trafilatura_is_selectable_and_keeps_paragraphs():
    text, title = extract(article(PARAS * 3, title="新馆开放"), ExtractConfig(extractor="trafilatura"))
    assert PARAS[0] in text.split("\n") and title == "新馆开放"


def test_time_guard_stops_a_slow_extraction():
    html = article(PARAS * 4000)
    with pytest.raises(Rejected) as e:
        extract(html, ExtractConfig(extractor="trafilatura", timeout_s=0.001))
    assert e.value.label == "extract.timeout"
