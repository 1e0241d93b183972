"""Year schedules (放假安排) from the State Council's notices, stored in the database so every process agrees.

`flask --app wsgi calendar load FILE` reads a data file (data/calendars/<year>.yaml) and stores its year;
the deadlines' WorkCalendar (app.feedback.deadlines) puts the stored years above chinese_calendar and the
holidays package. A file marked `complete: false` holds only what is certain before the notice is known.

File format::

    year: 2027
    source: 国务院办公厅关于2027年部分节假日安排的通知（国办发明电〔…〕…号）
    complete: true
    holidays:
      - name: 春节
        days_off: [2027-02-05..2027-02-12] # single dates or FIRST..LAST, inclusive (not `off`: YAML reads it as false)
        workdays: [2027-02-20]             # make-up working days (调休上班)
"""
from datetime import date, timedelta
from pathlib import Path

import yaml

from app.common.timeutil import local_today, utcnow
from app.extensions import db
from app.feedback.workdays import YearSchedule

# Next year's schedule is due from the State Council around November; from then on the office is told.
WARN_FROM_MONTH = 11


class WorkCalendarYear(db.Model):
    """One loaded year: its days off and make-up working days as ISO date lists."""

    __tablename__ = "work_calendar_years"

    year = db.Column(db.Integer, primary_key=True, autoincrement=False)
    days_off = db.Column(db.JSON, nullable=False)
    workdays = db.Column(db.JSON, nullable=False)
    complete = db.Column(db.Boolean, nullable=False)
    source = db.Column(db.String(200), nullable=False)
    loaded_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)

    def schedule(self):
        return YearSchedule(year=self.year, days_off=frozenset(map(date.fromisoformat, self.days_off)),
                            workdays=frozenset(map(date.fromisoformat, self.workdays)),
                            complete=self.complete, source=self.source)


class CalendarFileError(ValueError):
    """The file is malformed; `problems` maps a place in the file to its reason (in Chinese)."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__("放假安排文件有误：\n" + "\n".join(f"{place}: {reason}" for place, reason in problems.items()))


def _day(value):
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def _days(entries, place, problems):
    """The dates a list of `DATE` and `FIRST..LAST` entries names."""
    found = []
    if entries is None:
        return found
    if not isinstance(entries, list):
        problems[place] = "应为日期列表"
        return found
    for i, entry in enumerate(entries):
        try:
            if isinstance(entry, str) and ".." in entry:
                first, last = (_day(part) for part in entry.split("..", 1))
                if last < first:
                    raise ValueError
                found += [first + timedelta(days=n) for n in range((last - first).days + 1)]
            else:
                found.append(_day(entry))
        except (ValueError, TypeError):
            problems[f"{place}[{i}]"] = f"不是日期或日期区间（YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD）：{entry!r}"
    return found


def parse_calendar(text, place="文件"):
    """A year schedule from the file's text; CalendarFileError naming every problem, or the schedule."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CalendarFileError({place: f"不是有效的 YAML：{exc}"}) from None
    if not isinstance(data, dict):
        raise CalendarFileError({place: "应为一个映射（year、source、complete、holidays）"})
    problems = {}
    year = data.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        problems["year"] = "应为 2000–2100 之间的年份"
        year = None
    source = data.get("source")
    if not isinstance(source, str) or not source.strip() or len(source) > 200:
        problems["source"] = "应写明依据（国务院通知的标题与文号，至多 200 字）"
    complete = data.get("complete", True)
    if not isinstance(complete, bool):
        problems["complete"] = "应为 true 或 false"
    entries = data.get("holidays")
    if not isinstance(entries, list) or not entries:
        problems["holidays"] = "应为非空列表"
        entries = []
    off, work = set(), set()
    for i, entry in enumerate(entries):
        at = f"holidays[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            problems[at] = "每项应有 name（节日名称）以及 days_off、workdays"
            continue
        unknown = set(entry) - {"name", "days_off", "workdays"}
        if unknown:
            problems[at] = f"未知字段：{', '.join(sorted(map(str, unknown)))}"
        for key, bucket in (("days_off", off), ("workdays", work)):
            for day in _days(entry.get(key), f"{at}.{key}", problems):
                if year is not None and day.year != year:
                    problems[f"{at}.{key}"] = f"{day.isoformat()} 不在 {year} 年"
                bucket.add(day)
    clash = off & work
    if clash:
        problems["holidays"] = "同一天既放假又上班：" + "、".join(sorted(d.isoformat() for d in clash))
    if problems:
        raise CalendarFileError(problems)
    return YearSchedule(year=year, days_off=frozenset(off), workdays=frozenset(work), complete=complete,
                        source=source.strip())


def load_calendar(path, actor="cli"):
    """Stores the file's year (replacing an earlier load of that year); returns (schedule, changed)."""
    from app.accounts.service import audit

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarFileError({str(path): f"无法读取：{exc}"}) from None
    schedule = parse_calendar(text, place=str(path))
    row = db.session.get(WorkCalendarYear, schedule.year)
    values = {"days_off": sorted(d.isoformat() for d in schedule.days_off),
              "workdays": sorted(d.isoformat() for d in schedule.workdays),
              "complete": schedule.complete, "source": schedule.source}
    if row is not None and all(getattr(row, k) == v for k, v in values.items()):
        return schedule, False
    if row is None:
        row = WorkCalendarYear(year=schedule.year)
        db.session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    row.loaded_at = utcnow()
    audit("cli", None, "calendar.load", "work_calendar_year", schedule.year,
          {"file": path.name, "complete": schedule.complete, "days_off": len(values["days_off"]),
           "workdays": len(values["workdays"]), "by": actor})
    db.session.commit()
    return schedule, True


def loaded_schedules():
    """Every stored year, as the WorkCalendar takes them."""
    rows = db.session.execute(db.select(WorkCalendarYear)).scalars()
    return {row.year: row.schedule() for row in rows}


def schedules_stamp():
    """Changes whenever a year is loaded: cheap to ask on every deadline computation."""
    return tuple(db.session.execute(
        db.select(WorkCalendarYear.year, WorkCalendarYear.loaded_at).order_by(WorkCalendarYear.year)).all())


def next_year_warning(now=None):
    """From November on, the office's warning when next year's schedule is missing or provisional, else None."""
    today = local_today(now)
    if today.month < WARN_FROM_MONTH:
        return None
    year = today.year + 1
    row = db.session.get(WorkCalendarYear, year)
    if row is None:
        return (f"{year} 年的放假安排尚未载入：{year} 年的办理期限暂按法定节假日和周末计算，未含调休。"
                f"国务院通知发布后请用 flask --app wsgi calendar load data/calendars/{year}.yaml 载入。")
    if not row.complete:
        return (f"{year} 年的放假安排为暂定（{row.source}），未含国务院通知的调休；"
                f"通知发布后请补全 data/calendars/{year}.yaml 并重新载入。")
    return None
