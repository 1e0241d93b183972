"""The console's query parameters go through the API's own schemas (app.console.web.query_args): a page number
past any integer, or a dashboard date like 0001-01-01 or 9999-12-31, answered the error page (500) where the API
answers 422 (issue 21.6). Now they are a 422 page saying which parameter and why."""
import pytest

HUGE = "9" * 30


def refusal(response, *words):
    assert response.status_code == 422 and response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert all(word in text for word in words), text[:2000]
    return True


@pytest.mark.parametrize("path", ["/console/", "/console/updates", "/console/rectifications"])
def test_a_page_number_out_of_range_is_a_clear_422(people, console_as, path):
    office = console_as(people["office"])
    for page in (HUGE, str(2**63), "0", "-1", "abc", "１"):
        assert refusal(office.get(f"{path}?page={page}"), "页码"), page
    assert office.get(f"{path}?page=2").status_code == 200
    assert office.get(f"{path}?page=").status_code == 200


def test_dashboard_dates_outside_the_apis_bounds_are_a_clear_422(people, console_as):
    office = console_as(people["office"])
    for query, word in (("from=0001-01-01", "统计开始日期"), ("to=9999-12-31", "统计截止日期"),
                        ("from=0001-01-01&to=9999-12-31", "2000–2099"), ("from=2024-13-01", "统计开始日期")):
        assert refusal(office.get(f"/console/dashboard?{query}"), word), query
    for query in ("from=&to=", "from=2024-01-01&to=2024-12-31", ""):
        assert office.get(f"/console/dashboard?{query}").status_code == 200, query
