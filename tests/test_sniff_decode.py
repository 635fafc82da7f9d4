"""Sniffing Chinese candidates on raw bytes, and decoding them right whatever the page declares."""
import pytest

from conftest import article
from transforms.config import DecodeConfig, SniffConfig
from transforms.decode import decode, mojibake_per_1k, normalise_charset, plausibility
from transforms.sniff import html_lang, meta_charset, sniff
from transforms.types import Rejected

ZH = ["北京市民图书馆新馆于本周六正式开放，藏书一百二十万册。", "市民凭身份证即可免费办理借阅证，首次办证可借图书十册。"] * 3
TRAD = ["臺灣的高山茶以清香聞名，茶園多分佈在海拔一千公尺以上的山區。", "這裡終年雲霧繚繞，日夜溫差大，茶葉生長緩慢。"] * 3
CFG = DecodeConfig()


def test_sniff_accepts_each_kind_of_chinese_signal():
    s = SniffConfig()
    assert sniff(article(ZH).encode("utf-8"), "", s)["sniff"] == "declared"  # lang="zh-CN"
    plain = "<html><body>" + "".join(f"<p>{p}</p>" for p in ZH) + "</body></html>"
    assert sniff(plain.encode("utf-8"), "", s)["sniff"] == "utf8_cjk"
    assert sniff(plain.encode("gbk"), "", s)["sniff"] == "double_byte"
    assert sniff(plain.encode("gbk"), "gb2312", s)["sniff"] == "declared"
    entities = "<html><title>" + "".join(f"&#{ord(c)};" for c in "".join(ZH)) + "</title></html>"
    assert sniff(entities.encode("ascii"), "", s)["sniff"] == "entities"


def test_sniff_rejects_english_and_cyrillic():
    s = SniffConfig()
    english = ("<html><body>" + "<p>The library reopened after two years.</p>" * 50 + "</body></html>").encode()
    with pytest.raises(Rejected) as e:
        sniff(english, "", s)
    assert e.value.label == "sniff.not_chinese"
    russian = ("<html><body>" + "<p>Стратегия пожарной безопасности компании.</p>" * 50 + "</body></html>")
    with pytest.raises(Rejected):
        sniff(russian.encode("cp1251"), "windows-1251", s)


def test_meta_and_lang_are_read_from_the_head():
    page = b'<html lang="zh-TW"><head><meta http-equiv="Content-Type" content="text/html; charset=BIG5"></head>'
    assert meta_charset(page) == "big5" and html_lang(page) == "zh-tw"


@pytest.mark.parametrize("http,meta,encoding,source", [
    ("gbk", "", "gbk", "http"),  # right declaration
    ("", "", "gbk", "detector"),  # no declaration
    ("gb2312", "", "utf-8", "utf8"),  # header lies: the bytes are UTF-8
    ("", "utf-8", "gbk", "detector"),  # meta lies: the bytes are GBK
    ("", "gb18030", "gb18030", "meta"),
])
def test_decode_simplified(http, meta, encoding, source):
    text = "".join(ZH) + "㐀𠀀" if encoding == "gb18030" else "".join(ZH)
    d = decode(text.encode(encoding), http, meta, CFG)
    assert d.text == text and d.source == source
    assert d.charset == ("utf-8" if encoding == "utf-8" else "gb18030")


def test_big5_declared_as_gb2312_is_read_as_big5():
    text = "".join(TRAD)
    payload = text.encode("big5")
    assert payload.decode("gb18030", errors="strict")  # GBK happily decodes Big5 bytes... into nonsense
    d = decode(payload, "gb2312", "", CFG)
    assert d.text == text and d.charset == "big5hkscs" and d.declared == "gb18030"


def test_plausibility_separates_right_from_wrong_decoding():
    payload = "".join(TRAD).encode("big5")
    assert plausibility(payload.decode("big5")) > 0.95 > 0.6 > plausibility(payload.decode("gb18030"))


def test_bom_private_use_and_controls():
    d = decode(b"\xef\xbb\xbf" + "中文\ue000内容\x07。".encode("utf-8"), "gbk", "", CFG)
    assert d.source == "bom" and d.text == "中文内容。" and d.private_use_removed == 1


def test_undecodable_bytes_are_a_named_failure():
    junk = bytes((i * 131 + 17) % 256 for i in range(4000))
    with pytest.raises(Rejected) as e:
        decode(junk, "big5", "", CFG)
    assert e.value.label == "decode.failed_big5hkscs"
    with pytest.raises(Rejected) as e:
        decode(junk, "", "", CFG)
    assert e.value.label == "decode.failed_undeclared"


def test_charset_names():
    assert normalise_charset("GB2312") == "gb18030" and normalise_charset("x-big5") == "big5hkscs"
    assert normalise_charset("UTF8") == "utf-8" and normalise_charset("no-such-charset") == ""


def test_mojibake_signatures():
    assert mojibake_per_1k("正常的中文句子。" * 20) == 0
    assert mojibake_per_1k("锟斤拷" + "正常的中文句子。" * 20) > 5
    latin1 = "中文内容".encode("utf-8").decode("latin-1")
    assert mojibake_per_1k(latin1 + " and some text") > 100
