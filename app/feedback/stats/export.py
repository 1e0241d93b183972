"""The staff queue as an Excel workbook: Chinese headers, one row per ticket, residents' text kept as text."""
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

EXPORT_COLUMNS = (
    ("工单号", lambda i: i["ticket_no"], 18),
    ("类型", lambda i: i["kind_label"], 6),
    ("状态", lambda i: i["status_label"], 10),
    ("是否超期", lambda i: "超期" if i["overdue"] else ("曾超期" if i["late"] else ""), 8),
    ("项目", lambda i: f'{i["project"]["code"]} {i["project"]["title"]}' if i["project"] else "", 30),
    ("牵头单位", lambda i: i["unit"]["name"] if i["unit"] else "专班办公室（待分派）", 20),
    ("协办单位", lambda i: "、".join(u["name"] for u in i["co_units"]), 20),
    ("乡镇", lambda i: i["township"] or "", 10),
    ("诉求内容", lambda i: i["content"], 50),
    ("联系电话", lambda i: "匿名" if i["anonymous"] else (i["phone_masked"] or ""), 14),
    ("提交时间", lambda i: i["created_at"], 20),
    ("签收时限", lambda i: i["sign_due_at"] or "", 20),
    ("签收时间", lambda i: i["signed_at"] or "", 20),
    ("答复时限", lambda i: i["reply_due_at"] or "", 20),
    ("答复时间", lambda i: i["replied_at"] or "", 20),
    ("办理用时（工作日）", lambda i: i["handling_days"], 10),
    ("重办次数", lambda i: i["reopen_count"], 8),
    ("督办次数", lambda i: i["urge_count"], 8),
    ("评价", lambda i: i["evaluation"]["label"] if i["evaluation"] else "", 10),
    ("是否解决", lambda i: ({True: "已解决", False: "未解决"}[i["evaluation"]["resolved"]]
                        if i["evaluation"] else ""), 8),
)


def _text_cell(sheet, value):
    """Residents' text as text: control characters (which Excel's XML cannot hold) dropped, and a leading "="
    kept as a character, never run as a formula in the office's Excel."""
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"
    return cell


def complaints_workbook(items):
    """An .xlsx of staff list items (phones already masked), one row per ticket."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("诉求清单")
    for index, (_, _, width) in enumerate(EXPORT_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    header = []
    for title, _, _ in EXPORT_COLUMNS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
        header.append(cell)
    sheet.append(header)
    for item in items:
        sheet.append([_text_cell(sheet, value(item)) for _, value, _ in EXPORT_COLUMNS])
    out = BytesIO()
    book.save(out)
    return out.getvalue()
