"""The statistics' default period (issue 21.11): the current plan's year while today lies in it, else the year
to date — a plan still current after its year (the next one not yet switched to) left today's tickets out of
every default view."""
from app.auth import issue_token
from app.common.timeutil import local_today
from app.feedback import service
from tests.feedback.conftest import sh


def test_inside_the_plans_year_the_default_is_that_year(county):
    body = service.staff_stats(county.office, now=sh(2024, 10, 8, 10))
    assert (body["from"], body["to"]) == ("2024-01-01", "2024-12-31")


def test_past_the_plans_year_the_default_is_the_year_to_date_and_counts_today(county):
    later = sh(2026, 3, 5, 10)
    service.submit_complaint(county.resident, "complaint", "助餐点的饭菜太咸了，请改进", project_id=county.project.id,
                             now=later)
    body = service.staff_stats(county.office, now=later)
    assert (body["from"], body["to"]) == ("2026-01-01", "2026-03-05")
    assert body["totals"]["assigned"] == 1
    public = service.public_stats(now=later)
    assert (public["from"], public["to"]) == ("2026-01-01", "2026-03-05")
    # Before the plan's year starts, likewise (a plan made current ahead of its year).
    early = service.staff_stats(county.office, now=sh(2023, 12, 20, 10))
    assert (early["from"], early["to"]) == ("2023-01-01", "2023-12-20")
    # Dates given are kept as given.
    assert service.staff_stats(county.office, date_from=sh(2024, 1, 1).date(), date_to=sh(2024, 12, 31).date(),
                               now=later)["totals"]["assigned"] == 0


def test_the_api_counts_a_ticket_filed_today(client, county):
    headers = {"Authorization": f"Bearer {issue_token('resident', county.resident.id, 1)}"}
    assert client.post("/api/v1/complaints", headers=headers,
                       json={"kind": "complaint", "content": "助餐点的饭菜太咸了，请改进",
                             "project_id": county.project.id}).status_code == 201
    office = {"Authorization": f"Bearer {issue_token('staff', county.office.id, county.office.token_version)}"}
    body = client.get("/api/v1/staff/stats", headers=office).get_json()
    today = local_today()
    if today.year != 2024:  # the county's plan is 2024's
        assert (body["from"], body["to"]) == (today.replace(month=1, day=1).isoformat(), today.isoformat())
    assert body["totals"]["assigned"] == 1
