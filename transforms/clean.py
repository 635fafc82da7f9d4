"""Remove Chinese boilerplate lines and redact personal data; every removal counted by category."""
from __future__ import annotations

import re
from collections import Counter
from datetime import date

from transforms.chars import HAN_RE, ends_sentence

MAX_BOILERPLATE_LINE = 60  # a long paragraph that mentions 版权所有 is content, not a footer
MIN_SENTENCE_LINE = 30  # nor is a full sentence of this length: footers and menus do not end in 。

BOILERPLATE = {
    "icp": re.compile(r"ICP[备证]|[京沪粤浙苏鲁川渝津冀豫闽湘鄂皖赣晋陕辽吉黑桂琼黔滇藏甘青宁新蒙]ICP|备案号|公网安备|网安备\d"),
    "copyright": re.compile(r"版权所有|版权声明|copyright|©|\(c\)\s*\d{4}|保留所有权利|未经授权.{0,10}(转载|复制)", re.I),
    "prev_next": re.compile(r"^(上一篇|下一篇|上一页|下一页|上一章|下一章|返回列表|返回首页|返回顶部)"),
    "editor": re.compile(r"^[（(\[【]?\s*(责任编辑|责编|编辑|来源|作者|校对|审核)\s*[:：]"),
    "follow": re.compile(r"扫码关注|扫一扫|关注(我们的)?(微信)?公众号|微信扫码|长按(识别)?二维码|关注官方微博"),
    "login": re.compile(r"^(请)?(登录|注册|登陆)|登录后(才能|可以|即可)|立即注册|忘记密码|发表评论|我要评论|网友评论|已有\d+人评论|评论\s*\(\d+\)|^(回复|点赞|举报|收藏|分享)(\s|$)"),
    "share": re.compile(r"^分享到|^分享至|一键分享"),
    "breadcrumb": re.compile(r"^(您的位置|当前位置|你的位置|所在位置)\s*[:：]|^首页\s*[>›»/]|\s[>›»]\s.*\s[>›»]\s"),
    "contact": re.compile(r"^(关于我们|联系我们|网站地图|友情链接|免责声明|隐私政策|广告服务|意见反馈)(\s*[|｜丨·]\s*|$)"),
}

ID_RE = re.compile(r"(?<![0-9A-Za-z])([1-8]\d{5})((?:18|19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(\d{3})([0-9Xx])(?![0-9A-Za-z])")
MOBILE_RE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?![0-9A-Za-z])")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}")
QQ_RE = re.compile(r"((?:QQ|Q\s?Q|qq|扣扣|企鹅)(?:号码|号|群|群号)?\s*[:：]?\s*)([1-9]\d{4,11})(?!\d)")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

PLACEHOLDERS = {"id": "<身份证号>", "mobile": "<手机号>", "email": "<邮箱>", "qq": "<QQ号>"}


def boilerplate_category(line: str) -> str | None:
    """The boilerplate category of a short line, or None when the line is content."""
    if len(line) > MAX_BOILERPLATE_LINE or (len(line) >= MIN_SENTENCE_LINE and ends_sentence(line)):
        return None
    for category, pattern in BOILERPLATE.items():
        if pattern.search(line):
            return category
    return None


def remove_boilerplate(text: str) -> tuple[str, dict[str, int]]:
    """Text without boilerplate lines, and the number of lines removed per category."""
    kept, removed = [], Counter()
    for line in text.split("\n"):
        category = boilerplate_category(line)
        if category is None:
            kept.append(line)
        else:
            removed[category] += 1
    return "\n".join(kept), dict(sorted(removed.items()))


CONTENT_MIN_HAN = 10  # a content line has at least this many Han characters
LONG_LINE = 40  # ...and ends a sentence, or is this long with clause punctuation (a paragraph missing its 。)
LINK_RUN = 3  # this many shorter non-content lines in a row are a menu or a list of headlines
CLAUSE_PUNCT = re.compile("[，。；！？、：]")


def is_content_line(line: str) -> bool:
    """A line of prose: enough Han characters, and a sentence end (or the length and commas of a paragraph)."""
    if len(HAN_RE.findall(line)) < CONTENT_MIN_HAN:
        return False
    return ends_sentence(line) or (len(line) >= LONG_LINE and CLAUSE_PUNCT.search(line) is not None)


def trim_to_content(text: str) -> tuple[str, int]:
    """Cut navigation the extractor left: lines before the first and after the last content line (but the
    heading just before it), and runs of short non-content lines (menus, headline lists) inside.
    Returns (text, lines removed)."""
    lines = text.split("\n")
    good = [is_content_line(line) for line in lines]
    if not any(good):
        return text, 0
    first, last = good.index(True), len(good) - 1 - good[::-1].index(True)
    if first > 0 and len(lines[first - 1]) < LONG_LINE and len(HAN_RE.findall(lines[first - 1])) >= 4:
        first -= 1  # the article's heading
        good[first] = True
    kept: list[str] = []
    run: list[str] = []
    for line, ok in zip(lines[first:last + 1], good[first:last + 1]):
        if ok or len(line) >= LONG_LINE:
            if len(run) < LINK_RUN:
                kept.extend(run)
            run = []
            kept.append(line)
        else:
            run.append(line)
    return "\n".join(kept), len(lines) - len(kept)


def valid_resident_id(number: str) -> bool:
    """True for an 18-digit PRC resident ID with a real birth date and a correct ISO 7064 check digit."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], ID_WEIGHTS))
    return ID_CHECK[total % 11] == number[17].upper()


def redact_pii(text: str) -> tuple[str, dict[str, int]]:
    """Replace resident IDs (check digit valid), mobile numbers, e-mail addresses and QQ numbers in context."""
    counts: Counter = Counter()

    def _id(m: re.Match) -> str:
        if valid_resident_id(m.group(0)):
            counts["id"] += 1
            return PLACEHOLDERS["id"]
        return m.group(0)

    def _count(kind: str):
        def repl(m: re.Match) -> str:
            counts[kind] += 1
            return PLACEHOLDERS[kind]
        return repl

    def _qq(m: re.Match) -> str:
        counts["qq"] += 1
        return m.group(1) + PLACEHOLDERS["qq"]

    text = ID_RE.sub(_id, text)
    text = EMAIL_RE.sub(_count("email"), text)
    text = QQ_RE.sub(_qq, text)
    text = MOBILE_RE.sub(_count("mobile"), text)
    return text, dict(sorted(counts.items()))
