import pytest
from hypothesis import given, settings, strategies as st

# Feature: billing, Property 3: Invoices round to the cent


@settings(max_examples=200, deadline=None)
@given(
    amount=st.decimals(min_value=0, max_value=10_000, places=4),
    rate=st.decimals(min_value=0, max_value=1, places=2),
)
def test_invoice_rounds_to_the_cent(
    amount,
    rate,
):
    """Invoices are rounded to the cent, half up.

    Rounding happens once, after tax, never per line.

    **Validates: Requirements 3.1**
    """
    assert round(amount * (1 + rate), 2) >= 0


class TestRefunds:
    def test_refund_is_negative(
        self,
    ):
        text = """
        Validates: Requirements 9.9
        """
        assert text
