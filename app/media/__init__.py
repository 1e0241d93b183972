"""Uploads: intake, WeChat's content check, storage, and who may see an image (from its owners)."""


def init_app(app):
    from app.media import service
    from app.wechat import callback

    callback.on_event("wxa_media_check", lambda message: service.record_check_result(
        message.get("trace_id"), (message.get("result") or {}).get("suggest")))
