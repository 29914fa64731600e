//! Runnable t402 examples; see the `[[example]]` targets of this package. The example API's
//! code lives here so its tests can run it.

pub mod paid_api;
pub mod quickstart;
