//! Runnable t402 examples; see the `[[example]]` targets of this package.
