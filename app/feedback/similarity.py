"""Similar complaints in Chinese without a network: character n-grams weighted by TF-IDF, compared by cosine.

Residents write the same problem in other words ("路灯不亮" / "路灯坏了" / "一盏都没亮"); word segmentation
needs a dictionary that knows 兴盛社区 or 育才路, while character bigrams match place names and problems alike
without one. Common phrasing (请问, 希望, 我们…) carries no meaning here: those bigrams are stop grams, and the
inverse document frequency, taken over the tickets being compared, lowers what every ticket of an item says.
docs/similar.md describes the measurement (tests/data/similar_complaints.yaml, scripts/similarity_quality.py).
"""
import functools
import math
import re
import unicodedata
from collections import Counter

# Bigrams that say nothing about which problem it is: how residents open, ask and close.
STOP_GRAMS = frozenset("""
请问 问一 一下 希望 建议 能不 不能 能否 是不 不是 我们 你们 他们 我家 家里 我的 大家 什么 怎么 时候 什么时
现在 已经 一直 还是 还没 没有 有没 没人 到现在 一个 这个 那个 这边 那边 这里 那里 好久 很久 麻烦 尽快 谢谢
感谢 反映 投诉 问题 情况 部门 相关 处理 解决 一点 有人 的人 了一 了， 就是 但是 可是 因为 所以 如果 而且
""".split())

_RUN = re.compile(r"[0-9a-z\u3400-\u9fff]+")

# The county's words for one thing, folded to one spelling before the n-grams are taken: residents call the
# same meal point 助餐点, 老年食堂 or 长者饭堂. Longest first, so 老年助餐点 is not read as 老年 + 助餐点.
SYNONYMS = {
    "助餐": ("老年助餐服务点", "老年助餐点", "长者饭堂", "长者食堂", "老年食堂", "助餐点", "食堂", "饭堂"),
    "广播": ("应急广播", "村村响", "大喇叭", "喇叭"),
    "保租房": ("保障性租赁住房", "保障房", "保租房", "公租房"),
    "下水": ("下水道", "下水管", "污水管", "排污管", "化粪池", "地漏"),
    "返水": ("倒灌", "往上冒", "往外冒", "漫到", "返臭水"),
    "楼道灯": ("楼道里的灯", "楼道灯", "楼梯灯", "感应灯"),
    "不亮": ("一盏都没亮", "不亮了", "黑漆漆", "漆黑", "摸黑", "黑的", "看不见路", "看不清路"),
    "太咸": ("咸得很", "偏咸", "盐放得多", "盐放太多", "盐多", "口味重", "口味太重", "放盐", "少盐", "这么咸"),
    "坑洼": ("坑坑洼洼", "大坑", "坑洞", "到处是坑", "塌陷", "塌了", "下沉", "压坏", "烂得"),
    "堵塞": ("堵住", "堵死", "淤塞", "淤泥", "清淤", "疏浚", "疏通", "堵了"),
    "水渠": ("灌溉渠", "排灌渠道", "水渠", "沟渠", "渠道"),
    "泵站": ("电排站", "排灌站", "排灌泵站", "泵站"),
    "发黄": ("黄黄的", "黄泥", "浑浊", "很浑", "铁锈"),
    "不响": ("没响过", "不响了", "没有声音", "没声音", "坏了", "听不见", "听不到"),
    "太吵": ("声音特别大", "声音太大", "音量太大", "吵得", "扰民", "吵醒", "睡不着", "睡不了", "噪音"),
    "清早": ("一大早", "天不亮", "五点多", "六点", "清早", "早上"),
    "夜间": ("晚上十一点", "十点以后", "凌晨", "半夜", "夜间", "晚上"),
    "补卡": ("补办", "补社保卡", "补卡", "制卡"),
    "没到账": ("没有到账", "没发", "停发", "漏发", "没变", "一分没多", "和以前一样", "老标准", "原来的数"),
    "没消息": ("没有审核结果", "没有审批结果", "没音信", "没有任何消息", "没动静", "没人来", "没有人上门", "没人评估"),
    "护栏": ("防护栏", "护栏", "防护"),
    "急弯": ("急转弯", "急弯"),
    "扶手": ("扶手",),
    "松动": ("不牢", "松了", "晃", "松动"),
    "停工": ("停了", "停工", "没人干活", "复工"),
    "停水": ("断了", "停水", "恢复供水"),
}
_FOLD = sorted(((word, canonical) for canonical, words in SYNONYMS.items() for word in words),
               key=lambda pair: -len(pair[0]))
_FOLD_RE = re.compile("|".join(re.escape(word) for word, _ in _FOLD))
_CANONICAL = dict(_FOLD)


def normalise(text):
    """Runs of letters, digits and Chinese characters, full-width forms folded, lower case."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _RUN.findall(_FOLD_RE.sub(lambda match: _CANONICAL[match.group(0)], text))


@functools.lru_cache(maxsize=65536)
def grams(text):
    """The text's character bigrams (and single characters of one-character runs), stop grams removed.
    Cached per text, since the same recent tickets are candidates of draft after draft; callers must not change
    the Counter."""
    counts = Counter()
    for run in normalise(text):
        if len(run) == 1:
            counts[run] += 1
            continue
        for i in range(len(run) - 1):
            gram = run[i:i + 2]
            if gram not in STOP_GRAMS:
                counts[gram] += 1
    return counts


class Corpus:
    """TF-IDF vectors of a set of documents (the candidate tickets and the draft), compared by cosine."""

    def __init__(self, documents):
        self.counts = [grams(text) for text in documents]
        frequency = Counter(gram for counts in self.counts for gram in counts)
        size = len(self.counts)
        self.idf = {gram: math.log((1 + size) / (1 + df)) + IDF_FLOOR for gram, df in frequency.items()}
        self.vectors = [self._vector(counts) for counts in self.counts]

    def _vector(self, counts):
        vector = {gram: (1 + math.log(tf)) * self.idf[gram] for gram, tf in counts.items()}
        norm = math.sqrt(sum(w * w for w in vector.values())) or 1.0
        return {gram: w / norm for gram, w in vector.items()}

    def cosine(self, i, j):
        a, b = self.vectors[i], self.vectors[j]
        if len(a) > len(b):
            a, b = b, a
        return sum(w * b.get(gram, 0.0) for gram, w in a.items())


# Scores include the township and item bonuses below; under this a ticket is shown to nobody (docs/similar.md).
IDF_FLOOR = 1.0
THRESHOLD = 0.18
# The resident's own choice of township and item says as much as a shared word or two.
SAME_TOWNSHIP = 0.10
SAME_ITEM = 0.05


def _field(ticket, name):
    return ticket.get(name) if isinstance(ticket, dict) else getattr(ticket, name)


def comparable(draft, candidate):
    """Whether a ticket may be the draft's problem at all: not in another township or about another item than
    the ones the draft names (a ticket that names none may still be)."""
    for name in ("township", "project"):
        wanted, theirs = _field(draft, name), _field(candidate, name)
        if wanted and theirs and wanted != theirs:
            return False
    return True


def rank(draft, candidates, limit=3, threshold=THRESHOLD):
    """[(score, candidate)] best first, at most `limit`, none under `threshold`; draft and candidates carry
    content, township and project (dicts or objects)."""
    candidates = list(candidates)
    corpus = Corpus([_field(draft, "content")] + [_field(c, "content") for c in candidates])
    township, item = _field(draft, "township"), _field(draft, "project")
    scored = []
    for index, candidate in enumerate(candidates, start=1):
        score = corpus.cosine(0, index)
        if township and _field(candidate, "township") == township:
            score += SAME_TOWNSHIP
        if item and _field(candidate, "project") == item:
            score += SAME_ITEM
        if score >= threshold:
            scored.append((score, candidate))
    scored.sort(key=lambda pair: -pair[0])
    return scored[:limit]
