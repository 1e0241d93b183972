"""The send journal: a claim that outlived its worker is settled by what the worker's journal file says.

The dead worker's file is written by a Journal of its own (another thread's file, as another worker's would be);
the sweep then reads the directory like it would after a real SIGKILL (tests/reliability/test_faults.py kills
a real worker process mid fan-out)."""
import os
import threading
import time
from datetime import timedelta

import pytest

from app import jobs
from app.common.timeutil import utcnow
from app.extensions import db
from app.wechat import journal, outbox
from app.wechat.models import Notification
from tests.wechat.test_outbox import SEND, queue, reload


@pytest.fixture
def journal_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_JOURNAL_DIR", str(tmp_path))
    return tmp_path


def dead_workers_claim(notification, attempt=1):
    """The row as a worker left it: claimed (attempt counted), lease run out."""
    db.session.execute(db.update(Notification).where(Notification.id == notification.id).values(
        attempts=attempt, claimed_until=utcnow() - timedelta(seconds=1), next_attempt_at=utcnow()))
    db.session.commit()


def in_another_thread(action):
    result = []
    thread = threading.Thread(target=lambda: result.append(action()))
    thread.start()
    thread.join()
    return result[0]


def test_a_request_the_journal_saw_go_out_is_recorded_sent_and_not_sent_again(wechat, factories, journal_dir):
    resident = factories.resident()
    notification = queue(resident)
    dead_workers_claim(notification)

    notification_id = notification.id

    def dead_worker():
        book = journal.Journal(journal_dir)
        book.claimed([(notification_id, 1)])
        book.sent(notification_id, 1)
        return book.path

    path = in_another_thread(dead_worker)
    assert path.read_text() == f"claimed {notification_id}:1\nsent {notification_id}:1\n"
    assert outbox.sweep_pending() == 0
    jobs.drain()
    row = reload(notification)
    assert row.status == "sent" and row.claimed_until is None and row.sent_at is not None
    assert "按已发送记录" in row.last_error
    assert not wechat.calls(SEND)


def test_a_claimed_message_that_never_left_is_sent_once_after_the_lease(wechat, factories, journal_dir):
    residents = [factories.resident() for _ in range(3)]
    notifications = [queue(r, key=f"j{r.id}") for r in residents]
    for notification in notifications:
        dead_workers_claim(notification)

    ids = [n.id for n in notifications]

    def dead_worker():
        # Killed after its request for the first had gone out, before the other two.
        book = journal.Journal(journal_dir)
        book.claimed([(i, 1) for i in ids])
        book.sent(ids[0], 1)

    in_another_thread(dead_worker)
    assert outbox.sweep_pending() == 2
    jobs.drain()
    rows = [reload(n) for n in notifications]
    assert [r.status for r in rows] == ["sent", "sent", "sent"]
    # The re-sent ones spent one attempt, not two: the dead worker's never reached WeChat.
    assert [r.attempts for r in rows] == [1, 1, 1]
    assert sorted(m["touser"] for m in wechat.sent_messages()) == sorted(r.openid for r in residents[1:])


def test_an_older_attempt_in_a_journal_says_nothing_about_the_current_one(wechat, factories, journal_dir):
    notification = queue(factories.resident())
    dead_workers_claim(notification, attempt=2)

    notification_id = notification.id

    def stale_worker():
        book = journal.Journal(journal_dir)
        book.claimed([(notification_id, 1)])
        book.sent(notification_id, 1)

    in_another_thread(stale_worker)
    outbox.sweep_pending()
    jobs.drain()
    row = reload(notification)
    assert row.status == "failed" and "无法确认" in row.last_error
    assert not wechat.calls(SEND)


def test_a_batch_journals_its_group_while_sending_and_empties_it_after(app, wechat, factories, journal_dir):
    notifications = [queue(factories.resident(), key=f"b{i}") for i in range(3)]
    wechat.force(SEND, delay=0.4, times=3)
    seen = {}

    def watch():
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not seen:
            known = journal.read(journal_dir)
            if len([sent for sent in known.values() if sent]) == 3:
                seen.update(known)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    outcomes = outbox.send_batch([n.id for n in notifications], concurrency=4)
    watcher.join()
    assert set(outcomes.values()) == {"sent"}
    assert seen == {(n.id, 1): True for n in notifications}
    [path] = journal_dir.glob("*.journal")
    assert path.read_text() == ""  # settled: nothing of the group can be in doubt


def test_a_line_cut_short_by_the_kill_is_ignored(journal_dir):
    (journal_dir / "host-1-ab-2.journal").write_text("claimed 7:1 8:1 9:\nsent 7:1\nsent 8")
    assert journal.read(journal_dir) == {(7, 1): True, (8, 1): False}


def test_old_files_are_pruned_and_a_live_journal_recreates_its_own(journal_dir):
    book = in_another_thread(lambda: journal.Journal(journal_dir))
    old = journal_dir / "otherhost-99-cd-1.journal"
    old.write_text("claimed 1:1\n")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    os.utime(book.path, (an_hour_ago, an_hour_ago))
    assert journal.prune(journal_dir, older_than=600) == 2
    assert list(journal_dir.glob("*.journal")) == []
    book.claimed([(5, 1)])
    assert book.path.read_text() == "claimed 5:1\n"
