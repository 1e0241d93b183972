"""The WeChat API double (see doubles/__init__.py for the layout every double follows)."""
from doubles.wechat.rules import DEFAULT_TEMPLATES, FIELD_RULES
from doubles.wechat.server import WeChatDouble

__all__ = ["DEFAULT_TEMPLATES", "FIELD_RULES", "WeChatDouble"]
