"""Shared marshmallow pieces: paging, decimal-as-string, local times, strict integers."""
import re

from marshmallow import Schema, fields, validate

from app.common.numbers import fmt_decimal, to_decimal
from app.common.timeutil import isoformat_local


class DecimalString(fields.Field):
    """A decimal carried as a JSON string ("48.464"); never a float."""

    default_error_messages = {"invalid": "不是有效的数字。"}

    def _serialize(self, value, attr, obj, **kwargs):
        return fmt_decimal(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.make_error("invalid")
        if isinstance(value, str) and not _ASCII_DECIMAL.fullmatch(value.strip()):
            # Decimal() also reads "１２.５", "١٢" and "1_000": a number is written in ASCII digits.
            raise self.make_error("invalid")
        try:
            result = to_decimal(value)
        except ValueError:
            raise self.make_error("invalid") from None
        if not result.is_finite():
            raise self.make_error("invalid")
        return result


_ASCII_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")


def install_strict_integers():
    """Every marshmallow Integer (ids, levels, pages, days) refuses what int() would quietly bend: a JSON
    12.5 (int() truncates it to 12: `project_id: 12.5` named project 12, `level: 4.6` rated 4) and text that is
    not ASCII digits ("１２", "١٢" and "1_0" all read as 12 or 10). 12.0 is the integer 12 and stays accepted.
    Patched once on the class, so that no schema, present or future, can forget it."""
    original = fields.Integer._validated

    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        if isinstance(value, str) and not _ASCII_INTEGER.fullmatch(value.strip()):
            raise self.make_error("invalid", input=value)
        return original(self, value)

    fields.Integer._validated = _validated


# The largest id an INTEGER column holds on both backends: a bigger one names no row, and would make the
# database driver raise instead of finding nothing.
MAX_ID = 2**31 - 1


class Id(fields.Integer):
    """A row id sent by the client (body or query): 1 … MAX_ID, else 422."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class LocalDateTime(fields.Field):
    """UTC in the database, ISO 8601 with +08:00 on the wire."""

    def _serialize(self, value, attr, obj, **kwargs):
        return isoformat_local(value)


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PageSchema(Schema):
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)


def page_of(item_schema, name=None):
    """A list envelope {items, total, page, per_page} around `item_schema`."""
    return type(
        name or f"{item_schema.__name__.removesuffix('Schema')}PageSchema",
        (PageSchema,),
        {"items": fields.List(fields.Nested(item_schema), required=True)},
    )


class MessageSchema(Schema):
    message = fields.String()


def mask_phone(phone):
    if not phone:
        return None
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "****" + phone[-4:]
