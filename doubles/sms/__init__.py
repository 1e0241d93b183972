"""The SMS provider double: Tencent Cloud SMS (API 3.0, SendSms 2021-01-11)."""
from doubles.sms.server import SmsDouble

__all__ = ["SmsDouble"]
