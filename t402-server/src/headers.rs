//! The payment headers the layer writes on responses: `PAYMENT-REQUIRED`, `PAYMENT-RESPONSE`
//! (`X-PAYMENT-RESPONSE` for a v1 payment), the CORS exposure of them, and the internal usage
//! header it removes.

use http::HeaderMap;
use http::header::{ACCESS_CONTROL_EXPOSE_HEADERS, HeaderName, HeaderValue};
use t402_core::codec::{PAYMENT_RESPONSE_HEADER, X_PAYMENT_RESPONSE_HEADER, encode_header};
use t402_core::{PaymentRequired, SettleResponse};

/// The header a handler may use to report the amount to settle (plain JSON `{"amount": "…"}`);
/// internal, never sent to the client.
pub const SETTLEMENT_OVERRIDES_HEADER: &str = "settlement-overrides";

const EXPOSED: &str = "PAYMENT-REQUIRED, PAYMENT-RESPONSE, X-PAYMENT-RESPONSE";

/// Lets browsers read the payment headers.
pub(crate) fn expose_payment_headers(headers: &mut HeaderMap) {
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED),
    );
}

/// Moves a settlement answer to `X-PAYMENT-RESPONSE`, where v1 clients read it.
pub(crate) fn settlement_as_v1(headers: &mut HeaderMap) {
    if let Some(value) = headers.remove(PAYMENT_RESPONSE_HEADER) {
        headers.insert(X_PAYMENT_RESPONSE_HEADER, value);
    }
}

/// Removes headers meant for the layer only.
pub(crate) fn strip_internal_headers(headers: &mut HeaderMap) {
    headers.remove(HeaderName::from_static(SETTLEMENT_OVERRIDES_HEADER));
}

/// A header value of base64 text.
pub(crate) fn base64_value(text: String) -> HeaderValue {
    // Base64 is always a valid header value.
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `PAYMENT-REQUIRED` header value of a challenge.
pub(crate) fn required_header(required: &PaymentRequired) -> HeaderValue {
    base64_value(encode_header(required))
}

/// Adds a settlement answer (`PAYMENT-RESPONSE`) to a response's headers.
pub(crate) fn attach_settlement(headers: &mut HeaderMap, settled: &SettleResponse) {
    headers.insert(
        PAYMENT_RESPONSE_HEADER,
        base64_value(encode_header(settled)),
    );
    expose_payment_headers(headers);
}
