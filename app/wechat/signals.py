"""What the WeChat side of the app announces, for whoever wants to hear it in-process.

`templates_accepted` (sender: the app; openid, template_ids): a resident accepted these one-time templates and
the grant is committed. The development wiring (doubles/wechat/wiring.py) uses it to give the WeChat double its
side of the quota, as WeChat keeps its own; production has no receiver.
"""
from flask.signals import Namespace

_signals = Namespace()

templates_accepted = _signals.signal("wechat.templates-accepted")
