"""The labelled spam/quality material, assembled from ../shared/data plus generated SEO-injected variants, with a
fixed split: train (the models learn from it), dev (thresholds were tuned on it), test (read once, at the end).

Each example is a document with a category (what it is) and a label (spam or good). Splits are by a hash of the
example's id, and the brand names injected into dev and test articles are disjoint from the training ones, so the
classifier is never scored on text or brands it learned from.
"""
from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
import random
import re
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")

GOOD, SPAM = "good", "spam"

# Brand stems and SEO suffixes as gambling SEO pages write them (our own list, from reading the casino templates).
BRAND_STEMS = ["亚博", "乐鱼", "开云", "半岛", "米乐", "华体会", "必威", "九游", "博鱼", "星空", "爱游戏", "金博宝", "沙巴",
               "威廉", "博天堂", "新葡京", "太阳城", "银河", "金沙", "永利", "美高梅", "皇冠", "凯发", "利记", "雷竞技",
               "天博", "欧宝", "球速", "万博", "明升", "宝博", "leyu", "kaiyun", "bob", "ayx", "hth", "ob", "im"]
BRAND_KINDS = ["体育", "娱乐", "棋牌", "彩票", "电竞", "真人", "国际", "平台"]
SEO_SUFFIXES = ["app下载", "官网", "官方网站", "登录入口", "网页版", "手机版", "下载安装", "官方入口", "注册", "网址"]
INJECTED_SENTENCES = [
    "{b}是亚洲领先的在线娱乐平台，注册即送{n}元彩金，首存再送{n}%。",
    "想要体验更多精彩赛事，请下载{b}，{b}为您提供最稳定的投注服务。",
    "{b}官方网站最新备用网址已经更新，老会员可直接登录领取体验金。",
    "据{b}数据显示，本场比赛的让球盘口在开赛前出现了明显变化。",
    "点击进入{b}，真人视讯、电子游艺、体育投注一站式体验，日返水{n}%。",
    "（来源：{b}）",
    "{b}提醒您：理性投注，{b}app下载请认准唯一官方入口。",
]


@dataclass
class Example:
    id: str
    category: str
    label: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    split: str = ""

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


def split_of(key: str) -> str:
    """train 60% / dev 20% / test 20% by the key's hash."""
    h = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "train" if h < 6 else "dev" if h < 8 else "test"


def _path(*parts: str) -> str:
    return os.path.join(DATA, *parts)


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items) - size + 1, size)]


def _lines(*parts: str) -> list[str]:
    with open(_path(*parts), encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def good_examples() -> list[Example]:
    """News (People's Daily, SXU), encyclopaedia (UD GSD), web text (CLUECorpusSmall), e-mail and reviews."""
    out = []
    for i, chunk in enumerate(_chunks(_lines("prose", "peopledaily1998_sentences.txt"), 10)):
        out.append(Example(f"pd-{i}", "news", GOOD, chunk[0][:24], chunk))
    sxu = [line.replace("  ", "") for line in _lines("segmentation", "sxu_train.txt")]
    for i, chunk in enumerate(_chunks(sxu, 8)):
        out.append(Example(f"sxu-{i}", "news", GOOD, chunk[0][:24], chunk))
    gsd = _conll_sentences(_path("segmentation", "ud_gsd_train.conll"))  # the file has no "# text" comments
    for i, chunk in enumerate(_chunks(gsd, 6)):
        out.append(Example(f"gsd-{i}", "encyclopedia", GOOD, chunk[0][:16], chunk))
    for i, doc in enumerate(_lines("prose", "cluecorpussmall_sample.txt")):
        out.append(Example(f"clue-{i}", "web", GOOD, "", [doc]))
    for row in _jsonl("quality", "trec06c_ham.jsonl"):
        out.append(Example(f"ham-{row['id']}", "email_ham", GOOD, "", row["text"].split("\n")))
    with open(_path("quality", "reviews_waimai_10k.csv"), encoding="utf-8") as f:
        reviews = [r["review"].strip() for r in csv.DictReader(f) if r["review"].strip()]
    for i, chunk in enumerate(_chunks(reviews, 6)):
        out.append(Example(f"rev-{i}", "reviews", GOOD, "", chunk))
    return out


def _conll_sentences(path: str) -> list[str]:
    sentences, words = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) > 1 and cols[0].isdigit():
                words.append(cols[1])
            elif not line.strip() and words:
                sentences.append("".join(words))
                words = []
    return sentences


def _jsonl(*parts: str) -> list[dict]:
    with open(_path(*parts), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def spam_examples() -> list[Example]:
    """Real spam: Chinese advertising e-mail and casino-site text (grouped into pages)."""
    out = [Example(f"spam-{row['id']}", "email_spam", SPAM, "", row["text"].split("\n"))
           for row in _jsonl("quality", "trec06c_spam.jsonl")]
    for name in sorted(glob.glob(_path("quality", "casino_site_templates_*.txt"))):
        lines = _lines("quality", os.path.basename(name))
        random.Random(name.rsplit("_", 1)[-1]).shuffle(lines)
        stem = os.path.basename(name)[:-4]
        for i, chunk in enumerate(_chunks(lines, 4)):
            out.append(Example(f"{stem}-{i}", "casino", SPAM, chunk[0][:30], chunk[1:]))
    return out


def brand_split(stem: str) -> str:
    """Brands are split apart too: an injected dev article never names a brand seen in training."""
    return "train" if split_of("brand:" + stem) == "train" else "heldout"


def inject(article: Example, rng: random.Random, stems: list[str]) -> Example:
    """An SEO-injected copy: a brand-suffixed title, often a stuffed 本文摘要, one to three brand sentences."""
    brand = rng.choice(stems) + rng.choice(BRAND_KINDS)
    title = (article.title or article.paragraphs[0][:20]).rstrip("。，")
    seo_title = f"{title}_{brand}{rng.choice(SEO_SUFFIXES)}"
    paragraphs = list(article.paragraphs)
    style = rng.randrange(3)
    n = str(rng.choice([18, 28, 38, 58, 88, 188]))
    sentences = [rng.choice(INJECTED_SENTENCES).format(b=brand, n=n) for _ in range(rng.randint(1, 3))]
    for s in sentences:
        paragraphs.insert(rng.randrange(len(paragraphs) + 1), s)
    if style >= 1:  # keyword-stuffed summary: the title's phrases again, around the brand
        paragraphs.insert(0, f"本文摘要：{title}，{brand}{rng.choice(SEO_SUFFIXES)}。{title}。{brand}为您带来{title}的最新消息。")
    if style == 2:  # brand as the page's own byline too
        paragraphs.append(f"{brand}{rng.choice(SEO_SUFFIXES)}：{title}")
    return Example(f"inj-{article.id}", "seo_injected", SPAM, seo_title, paragraphs, article.split)


def injected_examples(good: list[Example]) -> list[Example]:
    """One injected variant for every 4th news, encyclopaedia or web article (train brands for train articles)."""
    stems = {s: [b for b in BRAND_STEMS if brand_split(b) == s] for s in ("train", "heldout")}
    out = []
    for ex in good:
        if ex.category in ("news", "encyclopedia", "web") and int(hashlib.sha256(ex.id.encode()).hexdigest()[:4], 16) % 4 == 0:
            rng = random.Random(ex.id)
            out.append(inject(ex, rng, stems["train" if ex.split == "train" else "heldout"]))
    return out


PORN_HINT_RE = re.compile(r"无码|视频|观看|精品|久久|亚洲|日韩|毛片|特黄|字幕|福利|欧美|伦理|影院|看片|偷拍|人成|色")


def porn_seo_examples() -> list[Example]:
    """Porn SEO pages as crawls see them: titles and link lists of the spam phrases that became o200k tokens."""
    rows = [line.split("\t")[1].strip(" _,+") for line in _lines("quality", "o200k_zh_long_tokens.txt")]
    phrases = sorted({r for r in rows if PORN_HINT_RE.search(r)})
    out = []
    for i in range(400):
        rng = random.Random(f"porn-{i}")
        title = "_".join(rng.sample(phrases, 4))
        links = ["".join(rng.sample(phrases, 2)) for _ in range(rng.randint(6, 16))]
        out.append(Example(f"porn-{i}", "porn_seo", SPAM, title, links))
    return out


def examples() -> list[Example]:
    """Every labelled example, each with its split."""
    good = good_examples()
    for ex in good:
        ex.split = split_of(ex.id)
    spam = spam_examples() + porn_seo_examples()
    for ex in spam:
        ex.split = split_of(ex.id)
    return good + spam + injected_examples(good)


def gne_pages() -> list[tuple[str, str, bytes]]:
    """(id, split, html bytes) of the real news pages: scored through the whole chain, never trained on."""
    out = []
    for path in sorted(glob.glob(_path("html", "gne", "*", "*.html"))):
        site, name = path.split(os.sep)[-2:]
        key = f"gne-{site}-{name[:-5]}"
        with open(path, "rb") as f:
            out.append((key, "dev" if split_of(key) != "test" else "test", f.read()))
    return out


def as_html(ex: Example) -> str:
    """The example as a web page: its title, its paragraphs, a site's navigation and footer."""
    from sample.make_sample import page

    return page(ex.title, ex.paragraphs)


def available() -> bool:
    return os.path.isdir(os.path.join(DATA, "quality"))
