"""Progress from Excel over HTTP: the unit's sheet holds the metrics it answers for; an upload makes one draft
per filled item, or names every bad cell and creates nothing."""
from io import BytesIO

from openpyxl import load_workbook

from app.extensions import db
from app.progress.models import ProgressUpdate


def download(client, headers):
    response = client.get("/api/v1/staff/progress-sheet.xlsx", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return load_workbook(BytesIO(response.data))


def rows(book):
    return [(r[0], r[2], r[5]) for r in book["指标"].iter_rows(min_row=2, values_only=True)]


def row_of(book, code, key):
    sheet = book["指标"]
    return next(r for r in range(2, sheet.max_row + 1)
                if (sheet.cell(r, 1).value, sheet.cell(r, 3).value) == (code, key))


def content_row(book, code):
    sheet = book["进展说明"]
    return next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == code)


def upload(client, headers, book):
    out = BytesIO()
    book.save(out)
    return client.post("/api/v1/staff/progress-sheet", data={"file": (BytesIO(out.getvalue()), "sheet.xlsx")},
                       headers=headers, content_type="multipart/form-data")


def drafts():
    return db.session.execute(db.select(db.func.count(ProgressUpdate.id))).scalar_one()


def test_the_sheet_holds_the_metrics_the_unit_answers_for(client, people):
    women = rows(download(client, people.h["women"]))
    assert [key for code, key, _ in women if code == "1.2"] == ["m1", "m2", "m3", "m4"]
    assert ("4.1", "m1", "全县") in women
    education = rows(download(client, people.h["education"]))
    assert [key for code, key, _ in education if code == "1.2"] == ["m5"]
    assert client.get("/api/v1/staff/progress-sheet.xlsx", headers=people.h["office"]).status_code == 403


def test_a_filled_sheet_makes_one_draft_per_item(client, people):
    book = download(client, people.h["women"])
    book["指标"].cell(row_of(book, "1.2", "m1"), 9).value = 6
    book["指标"].cell(row_of(book, "1.2", "m2"), 9).value = 240.5
    book["进展说明"].cell(content_row(book, "1.2"), 3).value = "本月线下开展家庭教育指导活动 6 场。"
    response = upload(client, people.h["women"], book)
    assert response.status_code == 201, response.get_json()
    items = response.get_json()["items"]
    assert len(items) == 1 and items[0]["status"] == "draft" and items[0]["unit"]["name"] == "县妇女联合会"
    assert [(v["metric_name"], v["value"]) for v in items[0]["metric_values"]] == [
        ("线下家庭教育指导服务和实践活动", "6"), ("线下家庭教育指导服务人次", "240.5")]
    assert drafts() == 1


def test_a_bad_cell_is_named_and_nothing_is_created(client, people):
    book = download(client, people.h["women"])
    bad_row = row_of(book, "1.2", "m2")
    book["指标"].cell(row_of(book, "1.2", "m1"), 9).value = 6
    book["指标"].cell(bad_row, 9).value = "六"
    book["进展说明"].cell(content_row(book, "1.2"), 3).value = "本月开展活动。"
    book["指标"].cell(row_of(book, "4.1", "m1"), 9).value = 100  # 4.1 has no 进展说明
    response = upload(client, people.h["women"], book)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert errors[f"工作表“指标”第 {bad_row} 行 I 列"] == ["应为数字。"]
    assert errors[f"工作表“进展说明”第 {content_row(book, '4.1')} 行 C 列"] == ["请填写进展内容。"]
    assert drafts() == 0


def test_what_is_not_a_filled_sheet_is_refused(client, people):
    not_excel = client.post("/api/v1/staff/progress-sheet", data={"file": (BytesIO(b"hello"), "x.xlsx")},
                            headers=people.h["women"], content_type="multipart/form-data")
    assert not_excel.status_code == 422 and "不是 Excel" in not_excel.get_json()["message"]
    empty = upload(client, people.h["women"], download(client, people.h["women"]))
    assert empty.status_code == 422 and "没有填写" in empty.get_json()["message"]
    # Another unit's sheet carries metrics this unit does not lead: named, nothing created.
    book = download(client, people.h["education"])
    book["指标"].cell(row_of(book, "1.2", "m5"), 9).value = 1200
    book["进展说明"].cell(content_row(book, "1.2"), 3).value = "线上学习。"
    civil = upload(client, people.h["civil"], book)
    assert civil.status_code == 422 and drafts() == 0
