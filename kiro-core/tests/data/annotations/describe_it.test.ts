import fc from 'fast-check';
import { Cart } from '../src/cart';

describe('cart totals', () => {
  // Feature: cart, Property 1: Totals add up
  it('adds up the line prices', () => {
    fc.assert(
      fc.property(fc.array(fc.nat()), (prices) => {
        const cart = new Cart(prices);
        return cart.total() === prices.reduce((a, b) => a + b, 0);
      }),
    );
  });

  it('is zero when empty', () => {
    const cart = new Cart([]);
    /** **Validates: Requirements 1.4** */
    expect(cart.total()).toBe(0);
  });

  it('ignores removed lines', () => {
    const brace = /\{ not a block/;
    // Validates: Requirements 1.2
    expect(new Cart([1]).remove(0).total()).toBe(0);
  });
});

describe('billing', () => {
  /**
   * Feature: billing, Property 4: Receipts list every line
   */
  describe('receipts', () => {
    it('lists every line', () => {
      // Validates: Requirements 4.1
      expect(true).toBe(true);
    });
  });
});
