"""WeChat's image check end to end: our job submits media_check_async to the double, the double pushes its
verdict (signed, AES-encrypted or plain, JSON or XML) to the app served on a real loopback port."""
import threading
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
import requests
from werkzeug.serving import make_server

from app import jobs
from app.common.timeutil import utcnow
from app.extensions import db
from app.media import jobs as media_jobs
from app.media.models import Upload
from tests.media.images import image_bytes, upload
from tests.wechat.test_callback import event, signed_args

CHECK = "wxa/media_check_async"


@pytest.fixture(scope="module")
def live_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def double(app, wechat, live_url, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", live_url)
    wechat.configure_callback(url=live_url + "/wechat/callback", encrypt=True, delay=0.05)
    return wechat


@pytest.fixture
def resident(factories):
    return factories.resident("o_uploader")


@pytest.fixture
def headers(factories, resident):
    return factories.auth(factories.resident_token(resident))


def status_of(upload_id):
    db.session.expire_all()
    return db.session.get(Upload, upload_id).check_status


def wait_for_verdict(upload_id, timeout=5):
    deadline = time.monotonic() + timeout
    while status_of(upload_id) == "pending":
        assert time.monotonic() < deadline, "no verdict arrived"
        time.sleep(0.02)
    return status_of(upload_id)


@pytest.mark.parametrize("name, verdict", [("photo.jpg", "passed"), ("risky.jpg", "blocked"),
                                           ("review.png", "review")])
def test_the_verdict_arrives_encrypted_and_is_applied(client, double, resident, headers, factories, name,
                                                      verdict):
    body = upload(client, headers, image_bytes(), name=name).json
    jobs.drain()
    [call] = double.calls(CHECK)
    assert call["json"]["openid"] == "o_uploader" and call["json"]["version"] == 2
    assert call["json"]["media_type"] == 2
    assert wait_for_verdict(body["id"]) == verdict
    office = factories.auth(factories.staff_token(factories.staff("office")))
    assert client.get(body["url"], headers=headers).status_code == (404 if verdict == "blocked" else 200)
    assert client.get(body["url"], headers=office).status_code == 200


def test_plain_xml_verdicts_work_too(client, double, live_url, headers):
    double.configure_callback(url=live_url + "/wechat/callback", encrypt=False, callback_format="xml", delay=0.05)
    body = upload(client, headers, image_bytes(), name="risky-too.jpg").json
    jobs.drain()
    assert wait_for_verdict(body["id"]) == "blocked"


def test_wechat_fetches_the_image_from_a_signed_url(client, double, headers):
    body = upload(client, headers, image_bytes("PNG"), name="路灯 不亮.png").json
    jobs.drain()
    media_url = double.calls(CHECK)[0]["json"]["media_url"]
    assert media_url.endswith("/" + quote("路灯_不亮.png"))
    fetched = requests.get(media_url, timeout=5)
    assert fetched.status_code == 200 and fetched.headers["Content-Type"] == "image/png"
    assert fetched.content == client.get(body["url"], headers=headers).data
    token = media_url.split("/")[-2]
    assert requests.get(media_url.replace(token, token[:-2] + "xx"), timeout=5).status_code == 404


def test_staff_images_are_not_sent_for_checking(client, double, factories):
    staff = factories.auth(factories.staff_token(factories.staff("unit_staff")))
    upload(client, staff, image_bytes())
    jobs.drain()
    assert not double.calls(CHECK)


def test_a_failed_submission_is_retried_by_the_sweep(client, double, headers):
    double.force(CHECK, errcode=-1)
    body = upload(client, headers, image_bytes()).json
    jobs.drain()
    assert status_of(body["id"]) == "pending"
    assert media_jobs.sweep_media_checks() == 0  # too soon
    db.session.execute(db.update(Upload).values(updated_at=utcnow() - timedelta(minutes=6)))
    db.session.commit()
    assert media_jobs.sweep_media_checks() == 1
    jobs.drain()
    assert len(double.calls(CHECK)) == 2
    assert wait_for_verdict(body["id"]) == "passed"


def test_a_check_never_answered_goes_to_the_office_after_a_day(client, wechat, headers):
    body = upload(client, headers, image_bytes()).json  # the double pushes nothing: no callback configured
    jobs.drain()
    db.session.execute(db.update(Upload).values(created_at=utcnow() - timedelta(days=2),
                                                updated_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    assert media_jobs.sweep_media_checks() == 0
    assert status_of(body["id"]) == "review"


def test_a_verdict_that_beats_our_commit_is_applied_by_the_job(app, client, wechat, headers):
    wechat.force(CHECK, body={"errcode": 0, "errmsg": "ok", "trace_id": "trace-fast"})
    # The callback arrives while the submission job has not yet stored the trace id.
    assert client.post("/wechat/callback", query_string=signed_args(app),
                       json=event("trace-fast", "risky")).status_code == 200
    body = upload(client, headers, image_bytes()).json
    jobs.drain()
    assert status_of(body["id"]) == "blocked"
