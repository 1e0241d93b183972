"""The 企业微信 API double: application messages (cgi-bin/message/send) and group robot webhooks."""
from doubles.wecom.server import WeComDouble

__all__ = ["WeComDouble"]
