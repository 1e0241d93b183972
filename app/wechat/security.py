"""Content security: resident text through WeChat's msg_sec_check v2 before anyone else sees it.

wechatpy 1.8.18 only knows v1, so the v2 call is posted through the client (its token handling included).
"""
import logging

from app.wechat.client import CALL_ERRORS, get_client

log = logging.getLogger(__name__)

# WeChat's scenes: 1 资料, 2 评论, 3 论坛, 4 社交日志.
SCENE_PROFILE = 1
SCENE_COMMENT = 2
SCENE_FORUM = 3
SCENE_SOCIAL_LOG = 4

MAX_CHARS = 2500
_SEVERITY = {"pass": 0, "review": 1, "risky": 2}


def check_text(openid, content, scene=SCENE_FORUM):
    """"pass", "review" or "risky" for a resident's text.

    When WeChat cannot answer, "review": the text is kept and the office looks at it by hand, so an outage
    neither loses a complaint nor lets unchecked text through to the public.
    """
    text = (content or "").strip()
    if not text:
        return "pass"
    client = get_client()
    worst = "pass"
    # WeChat checks at most 2500 characters per call; a longer text is as risky as its worst part.
    for start in range(0, len(text), MAX_CHARS):
        try:
            answer = client.post("wxa/msg_sec_check", api_base_url=client.wxa.API_BASE_URL, data={
                "openid": openid, "scene": scene, "version": 2, "content": text[start:start + MAX_CHARS],
            })
        except CALL_ERRORS as exc:
            log.warning("msg_sec_check unavailable (%s); holding the text for manual review", exc)
            return "review"
        suggest = (answer.get("result") or {}).get("suggest")
        if suggest not in _SEVERITY:
            log.warning("msg_sec_check answered without a suggestion (%r); holding for manual review", answer)
            return "review"
        if _SEVERITY[suggest] > _SEVERITY[worst]:
            worst = suggest
    return worst
