"""Exact decimals for quantities; JSON carries them as strings ("48.464")."""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ONE = Decimal(1)
ZERO = Decimal(0)


def to_decimal(value):
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # Floats only arrive from SQLite's REAL storage; their repr is the shortest exact round-trip.
        value = repr(value)
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"不是有效的数字：{value!r}") from None


def fmt_decimal(value):
    """Canonical text of a decimal: no exponent, no trailing zeros ("48.4640" → "48.464", "700.00" → "700")."""
    if value is None:
        return None
    value = to_decimal(value)
    if value == value.to_integral():
        return str(value.quantize(ONE))
    text = format(value.normalize(), "f")
    return text


def ratio(numerator, denominator, places=4):
    """numerator ÷ denominator rounded half-up to `places`; None when there is nothing to divide by."""
    if not denominator:
        return None
    q = Decimal(1).scaleb(-places)
    return (to_decimal(numerator) / to_decimal(denominator)).quantize(q, rounding=ROUND_HALF_UP)
