//! JSON Schema to proptest strategies.
