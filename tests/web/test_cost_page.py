"""The cost page's amounts: cents from a dollar up, smaller amounts to two significant digits, prices as configured."""

from __future__ import annotations

from chalicelib.web.cost import dollars, number, price


def test_amounts_read_as_cents_or_as_their_first_digits() -> None:
    assert [dollars(x) for x in (0, 0.0000004, 0.0000035, 0.0033461, 0.0129, 0.0152, 0.5, 1.5, 12345.678)] == [
        "$0.00",
        "$0.0000004",
        "$0.0000035",
        "$0.0033",
        "$0.013",  # a line and the total it is part of, read alike
        "$0.015",
        "$0.50",
        "$1.50",
        "$12,345.68",
    ]
    assert dollars(None) == "—"


def test_prices_and_quantities_keep_every_digit_they_have() -> None:
    assert [price(x) for x in (3.5, 0.625, 0.0000166667, 1000)] == ["$3.50", "$0.625", "$0.0000166667", "$1,000.00"]
    assert [number(x) for x in (1000000, 0.146, 2.0)] == ["1,000,000", "0.146", "2"]
