"""The list of what an import changes, in words, for the administrator's dry run before confirming."""

FIELD_LABELS = {
    "title": "标题", "description": "说明/内容", "start_date": "开始日期", "end_date": "结束日期",
    "townships": "乡镇列表", "task_force": "工作专班", "name": "名称", "position": "顺序", "public": "公开",
    "planned_start": "计划开工", "due_date": "完成期限", "category": "类别", "kind": "类型", "unit": "计量单位",
    "comparison": "比较", "note": "说明", "responsible_unit_id": "负责单位", "is_current": "当前计划",
    "target": "目标值", "current": "完成值", "baseline": "原标准",
}


def label(obj):
    """How the administrator names a plan object: 计划, 类别 三, 项目 1.2, 指标 1.2 m5, 乡镇 南洲镇."""
    kind = type(obj).__name__
    if kind == "Plan":
        return f"计划 {obj.year}"
    if kind == "Category":
        return f"类别 {obj.code}"
    if kind == "Project":
        return f"项目 {obj.code}"
    if kind == "Metric":
        return f"指标 {obj.project.code if obj.project else ''} {obj.key}".replace("  ", " ")
    if kind == "MetricTownship":
        return f"乡镇 {obj.township}"
    return kind


def _shown(value):
    if value is None:
        return "（空）"
    if hasattr(value, "code"):
        return str(value.code)
    text = str(value)
    return text if len(text) <= 40 else text[:40] + "…"


class Changes(set):
    """The ids of the objects an import touched (what it counts) and, in order, a line for each change."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def changed(self, obj, attr, old, new):
        self.add(id(obj))
        if attr != "position":  # reordering follows from the file's order; listing it is noise
            self.lines.append(f"{label(obj)}：{FIELD_LABELS.get(attr, attr)} {_shown(old)} → {_shown(new)}")

    def note(self, line):
        self.lines.append(line)
