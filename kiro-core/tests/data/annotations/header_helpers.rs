// Feature: cart, Property 2: Discounts never make a total negative
//
// Property tests for discounts; the strategies below build carts.

use proptest::prelude::*;

fn arb_price() -> impl Strategy<Value = u32> {
    0u32..10_000
}

/// Carts of up to ten lines.
fn arb_cart() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(arb_price(), 0..10)
}

proptest! {
    /// The discounted total stays at or above zero.
    ///
    /// **Validates: Requirements 2.1**
    #[test]
    fn discount_never_negative(cart in arb_cart(), pct in 0u32..=100) {
        let total: u32 = cart.iter().sum();
        prop_assert!(total * (100 - pct) / 100 <= total);
    }

    /// **Validates: Requirement 2.2**
    #[test]
    fn full_discount_is_free(cart in arb_cart()) {
        let label = "} // Validates: Requirements 9.9 {";
        prop_assert_eq!(cart.iter().sum::<u32>() * 0, 0, "{}", label);
    }
}
