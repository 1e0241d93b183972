"""The workflow map, exhaustively: every allowed state × action succeeds and lands where the map says, every
other pair is a 409 (through the service functions the API and the console call), and who may act."""
import itertools

import pytest

from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.feedback import service
from app.feedback.models import Complaint, ComplaintEvent
from app.feedback.workflow import PREVIOUS, STATUSES, UNIT_OPEN, WORKFLOW, check
from tests.feedback.conftest import sh

T0 = sh(2024, 10, 9, 9)
T1 = sh(2024, 10, 9, 15)
_texts = itertools.count(1)


def file(c, project=True, resident=None):
    ticket, created = service.submit_complaint(
        resident or c.resident, "complaint", f"老年助餐点第{next(_texts)}号问题：饭菜太咸", phone="13812345678",
        project_id=c.project.id if project else None, now=T0)
    assert created
    return ticket["id"]


def to_state(c, state):
    """A new ticket brought into `state` through the service functions."""
    if state == "triage":
        return file(c, project=False)
    cid = file(c)
    if state == "return_requested":
        service.request_return(cid, c.lead, "不属于本单位职责", now=T0)
    elif state == "merged":
        service.merge(cid, c.office, file(c), now=T0)
    elif state != "assigned":
        service.sign(cid, c.lead, now=T0)
        if state == "extension_requested":
            service.request_extension(cid, c.lead, 3, "需要现场勘查", now=T0)
        elif state in ("replied", "closed"):
            service.reply(cid, c.lead, "已安排助餐点调整菜品口味，请您监督", now=T0)
            if state == "closed":
                # Closed as not resolved, within the window: a reopen is still allowed.
                service.evaluate(cid, c.resident, 2, False, now=T0)
    assert status_of(cid) == state
    return cid


def status_of(cid):
    db.session.expire_all()
    return db.session.get(Complaint, cid).status


# action -> (who acts by default, how)
ACTIONS = {
    "sign": ("lead", lambda c, cid, who: service.sign(cid, who, now=T1)),
    "reply": ("lead", lambda c, cid, who: service.reply(cid, who, "已处理完毕，欢迎监督", now=T1)),
    "return_request": ("lead", lambda c, cid, who: service.request_return(cid, who, "非本单位职责", now=T1)),
    "extension_request": ("lead", lambda c, cid, who: service.request_extension(cid, who, 2, "需协调", now=T1)),
    "assign": ("office", lambda c, cid, who: service.assign(cid, who, c.other_unit.id, now=T1)),
    "refuse_return": ("office", lambda c, cid, who: service.refuse_return(cid, who, "属于贵单位职责", now=T1)),
    "extension_decision": ("office", lambda c, cid, who: service.decide_extension(cid, who, True, now=T1)),
    "urge": ("office", lambda c, cid, who: service.urge(cid, who, "请加快办理", now=T1)),
    "merge": ("office", lambda c, cid, who: service.merge(cid, who, file(c), now=T1)),
    "evaluate": ("resident", lambda c, cid, who: service.evaluate(cid, who, 4, True, now=T1)),
    "reopen": ("resident", lambda c, cid, who: service.reopen(cid, who, "问题没有解决", now=T1)),
    "reveal_contact": ("office", lambda c, cid, who: service.reveal_contact(cid, who, "回访核实", now=T1)),
}
SYSTEM_ACTIONS = {"expire", "overdue"}
LEAD_ACTIONS = {a for a, (who, _) in ACTIONS.items() if who == "lead"}

ALLOWED = [(a, s) for a, spec in WORKFLOW.items() if a in ACTIONS for s in spec.moves]
FORBIDDEN = [(a, s) for a, spec in WORKFLOW.items() if a in ACTIONS for s in STATUSES if s not in spec.moves]


def test_the_map_covers_every_action_the_services_perform():
    assert set(WORKFLOW) == set(ACTIONS) | SYSTEM_ACTIONS
    assert all(target in STATUSES or target == PREVIOUS
               for spec in WORKFLOW.values() for target in spec.moves.values())
    assert len(ALLOWED) + len(FORBIDDEN) == len(ACTIONS) * len(STATUSES)


def perform(c, action, cid, who=None):
    default, run = ACTIONS[action]
    return run(c, cid, who or getattr(c, default))


@pytest.fixture
def many(app, monkeypatch):
    """These tests file dozens of tickets for one resident in one day."""
    monkeypatch.setitem(app.config, "COMPLAINT_DAILY_LIMIT", 1000)


def last_event(cid):
    return db.session.execute(
        db.select(ComplaintEvent).where(ComplaintEvent.complaint_id == cid).order_by(ComplaintEvent.id.desc())
    ).scalars().first()


def test_every_allowed_transition_lands_where_the_map_says(county, many, subtests):
    for action, state in ALLOWED:
        with subtests.test(action=action, state=state):
            cid = to_state(county, state)
            perform(county, action, cid)
            expected = WORKFLOW[action].moves[state]
            if expected == PREVIOUS:
                expected = "assigned"  # to_state asks for the return before signing
            assert status_of(cid) == expected
            event = last_event(cid)
            assert (event.action, event.from_status, event.to_status) == (action, state, expected)
            assert event.actor_type == ("resident" if action in ("evaluate", "reopen") else "staff")
            assert event.created_at is not None


def event_count(cid):
    return db.session.execute(
        db.select(db.func.count(ComplaintEvent.id)).where(ComplaintEvent.complaint_id == cid)).scalar_one()


def test_every_forbidden_transition_is_a_409(county, many, subtests):
    for state in STATUSES:
        # A refused action writes nothing, so one ticket in `state` serves every action the map forbids there.
        cid = to_state(county, state)
        events_before = event_count(cid)
        for action in [a for a, s in FORBIDDEN if s == state]:
            with subtests.test(action=action, state=state):
                if state == "triage" and action in LEAD_ACTIONS:
                    # No unit holds a ticket in triage, so no unit even sees it.
                    with pytest.raises(NotFound):
                        perform(county, action, cid)
                else:
                    with pytest.raises(Conflict) as raised:
                        perform(county, action, cid)
                    assert raised.value.status == 409 and "不能" in raised.value.message
                db.session.rollback()
                assert status_of(cid) == state
                assert event_count(cid) == events_before


def test_return_requests_are_decided_by_assigning(county):
    """Back to the holder refuses (to the state asked from), to another unit approves; the holder again is a 409."""
    cid = to_state(county, "signed")
    service.request_return(cid, county.lead, "非本单位职责", now=T1)
    assert status_of(cid) == "return_requested"
    service.refuse_return(cid, county.office, "属于贵单位职责", now=T1)
    assert status_of(cid) == "signed"

    refused, approved = to_state(county, "return_requested"), to_state(county, "return_requested")
    service.assign(refused, county.office, county.lead_unit.id, now=T1)
    detail = service.get_for_staff(refused, county.office, T1)
    assert detail["status"] == "assigned" and detail["unit"]["name"] == "县民政局"
    assert detail["events"][-1]["action"] == "refuse_return"
    service.assign(approved, county.office, county.other_unit.id, now=T1)
    detail = service.get_for_staff(approved, county.office, T1)
    assert detail["unit"]["name"] == "县交通运输局" and detail["events"][-1]["data"]["return_approved"] is True
    assert [a["withdrawn_reason"] for a in detail["assignments"]] == ["returned", None]
    # The unit that gave it back no longer sees it; the new one does.
    with pytest.raises(NotFound):
        service.get_for_staff(approved, county.lead)
    assert service.get_for_staff(approved, county.other)["my_role"] == "lead"

    cid = to_state(county, "signed")
    with pytest.raises(Conflict, match="已由县民政局办理"):
        service.assign(cid, county.office, county.lead_unit.id, now=T1)


def first_state(action):
    return next(s for s in WORKFLOW[action].moves if s != "triage")


def test_co_units_only_read(county, many, subtests):
    for action in sorted(a for a in ACTIONS if ACTIONS[a][0] != "resident"):
        with subtests.test(action=action):
            cid = to_state(county, first_state(action))
            assert service.get_for_staff(cid, county.co)["my_role"] == "co_unit"
            with pytest.raises(Forbidden):
                perform(county, action, cid, county.co)


def test_the_office_and_the_units_keep_to_their_own_work(county, many, subtests):
    for action in sorted(LEAD_ACTIONS):
        with subtests.test(action=action, who="office"):
            with pytest.raises(Forbidden):
                perform(county, action, to_state(county, first_state(action)), county.office)
    for action in ("assign", "refuse_return", "extension_decision", "urge", "merge"):
        with subtests.test(action=action, who="unit_admin"):
            with pytest.raises(Forbidden):
                perform(county, action, to_state(county, first_state(action)), county.lead_admin)


def test_another_residents_or_units_ticket_does_not_exist(county):
    cid = to_state(county, "replied")
    for action in ("evaluate", "reopen"):
        with pytest.raises(NotFound):
            perform(county, action, cid, county.stranger)

    cid = to_state(county, "assigned")
    with pytest.raises(NotFound):
        service.sign(cid, county.other, now=T1)
    with pytest.raises(NotFound):
        service.get_for_staff(cid, county.other)


def test_the_sweep_acts_only_where_the_map_lets_the_system_act(county, many):
    tickets = {state: to_state(county, state) for state in STATUSES}
    service.sweep(now=sh(2024, 12, 2, 9))
    for state, cid in tickets.items():
        actions = set(db.session.execute(
            db.select(ComplaintEvent.action).where(ComplaintEvent.complaint_id == cid,
                                                   ComplaintEvent.actor_type == "system")).scalars())
        expected = set()
        if state in WORKFLOW["overdue"].moves and state in UNIT_OPEN:
            expected.add("overdue")
        if state in WORKFLOW["expire"].moves:
            expected.add("expire")
        assert actions == expected, state
        assert status_of(cid) == WORKFLOW["expire"].moves.get(state, state)


def test_check_names_the_state_and_the_action():
    with pytest.raises(Conflict, match="已办结.*不能签收"):
        check("closed", "sign", "lead")
    with pytest.raises(Forbidden):
        check("assigned", "sign", "office")
    assert check("return_requested", "refuse_return", "office") == PREVIOUS


def test_the_timeline_is_append_only(county):
    cid = to_state(county, "assigned")
    event = db.session.execute(db.select(ComplaintEvent).filter_by(complaint_id=cid)).scalars().first()
    event.note = "改写历史"
    with pytest.raises(RuntimeError, match="只能追加"):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(ComplaintEvent, event.id))
    with pytest.raises(RuntimeError, match="只能追加"):
        db.session.flush()
    db.session.rollback()
