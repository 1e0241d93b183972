"""The double's `latency` option (used by bench/publish_fanout.py): every subscribe send answers that much
later, and sends in flight at once wait side by side, as they would on WeChat."""
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from doubles.wechat import WeChatDouble

DATA = {"thing1": {"value": "城乡供水一体化工程"}, "phrase2": {"value": "推进中"},
        "thing3": {"value": "主管网铺设完成六成"}, "date4": {"value": "2024年10月1日"}}


def test_latency_delays_each_send_but_not_concurrent_ones_in_turn():
    double = WeChatDouble(latency=0.3).start()
    try:
        token = requests.get(double.url + "cgi-bin/token", params={
            "grant_type": "client_credential", "appid": double.appid, "secret": double.secret}, timeout=5,
        ).json()["access_token"]

        def send(n):
            started = time.monotonic()
            answer = requests.post(double.url + "cgi-bin/message/subscribe/send", params={"access_token": token},
                                   json={"touser": f"o_{n}", "template_id": "tmpl_progress", "data": DATA},
                                   timeout=5).json()
            return answer["errcode"], time.monotonic() - started

        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(send, range(4)))
        elapsed = time.monotonic() - started
        assert all(errcode == 0 and took >= 0.3 for errcode, took in results)
        assert elapsed < 0.3 * 4, "sends in flight together should wait side by side"
        assert sorted(m["touser"] for m in double.sent_messages()) == ["o_0", "o_1", "o_2", "o_3"]
    finally:
        double.stop()
