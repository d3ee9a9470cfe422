// Package cart_test checks carts.
package cart_test

import "testing"

// Feature: cart, Property 5: Quantities are positive

// TestQuantityPositive rejects zero quantities.
//
// Validates: Requirement 3.1
func TestQuantityPositive(t *testing.T) {
	if err := add(0); err == nil {
		t.Fatal("zero accepted")
	}
}

func TestQuantityMax(t *testing.T) {
	// **Validates:** Requirement 3.2
	if err := add(1000); err == nil {
		t.Fatal("too many accepted")
	}
}

func usage() string {
	return `
// Validates: Requirement 9.9
`
}
