"""Chinese validation messages: residents and county staff read every error we return."""
from marshmallow import Schema, fields, validate


def install_chinese_messages():
    Schema._default_error_messages = {"type": "数据格式无效。", "unknown": "未知字段。"}
    fields.Field.default_error_messages = {
        "required": "缺少必填字段。",
        "null": "不能为空。",
        "validator_failed": "取值无效。",
    }
    per_field = {
        fields.String: {"invalid": "应为字符串。", "invalid_utf8": "不是有效的 UTF-8 文本。"},
        fields.Integer: {"invalid": "应为整数。", "too_large": "数字过大。"},
        fields.Number: {"invalid": "应为数字。", "too_large": "数字过大。"},
        fields.Decimal: {"invalid": "应为数字。", "special": "不接受特殊数值。"},
        fields.Boolean: {"invalid": "应为布尔值（true/false）。"},
        fields.List: {"invalid": "应为列表。"},
        fields.Dict: {"invalid": "应为对象。"},
        fields.Mapping: {"invalid": "应为对象。"},
        fields.Nested: {"type": "应为对象。"},
        fields.DateTime: {"invalid": "不是有效的时间。", "invalid_awareness": "时间缺少时区。", "format": "时间格式无效。"},
        fields.Date: {"invalid": "不是有效的日期（YYYY-MM-DD）。", "format": "日期格式无效。"},
        fields.Email: {"invalid": "不是有效的邮箱地址。"},
    }
    for cls, messages in per_field.items():
        merged = dict(cls.default_error_messages)
        merged.update(messages)
        cls.default_error_messages = merged
    validate.Length.message_min = "长度不能少于 {min}。"
    validate.Length.message_max = "长度不能超过 {max}。"
    validate.Length.message_all = "长度应在 {min} 到 {max} 之间。"
    validate.Length.message_equal = "长度应为 {equal}。"
    validate.Range.message_min = "应{min_op} {{min}}。"
    validate.Range.message_max = "应{max_op} {{max}}。"
    validate.Range.message_all = "应{min_op} {{min}} 且{max_op} {{max}}。"
    validate.Range.message_gte = "大于或等于"
    validate.Range.message_gt = "大于"
    validate.Range.message_lte = "小于或等于"
    validate.Range.message_lt = "小于"
    validate.OneOf.default_message = "取值应为以下之一：{choices}。"
    validate.Regexp.default_message = "格式不正确。"
    validate.Email.default_message = "不是有效的邮箱地址。"
    validate.URL.default_message = "不是有效的网址。"
