//! The responses the layer writes itself: challenges, errors, settlement failures.

use bytes::Bytes;
use http::header::{ACCESS_CONTROL_EXPOSE_HEADERS, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::Full;
use serde_json::json;
use t402_core::codec::{PAYMENT_REQUIRED_HEADER, PAYMENT_RESPONSE_HEADER, encode_header};
use t402_core::{FacilitatorError, PaymentRequired, Reason, SettleResponse};

/// The header a handler may use to report the amount to settle (plain JSON `{"amount": "…"}`);
/// internal, never sent to the client.
pub const SETTLEMENT_OVERRIDES_HEADER: &str = "settlement-overrides";

const EXPOSED: &str = "PAYMENT-REQUIRED, PAYMENT-RESPONSE";

/// A body of bytes.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Full<Bytes> {
    Full::new(bytes.into())
}

/// Lets browsers read the payment headers.
pub(crate) fn expose_payment_headers(headers: &mut HeaderMap) {
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED),
    );
}

/// Removes headers meant for the layer only.
pub(crate) fn strip_internal_headers(headers: &mut HeaderMap) {
    headers.remove(HeaderName::from_static(SETTLEMENT_OVERRIDES_HEADER));
}

fn header_value(text: String) -> HeaderValue {
    // Base64 is always a valid header value.
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `PAYMENT-REQUIRED` header value of a challenge.
pub(crate) fn required_header(required: &PaymentRequired) -> HeaderValue {
    header_value(encode_header(required))
}

/// A plain 402 challenge (JSON body `{}`) with an already encoded `PAYMENT-REQUIRED` value.
pub(crate) fn challenge_with_header(header: HeaderValue) -> Response<Full<Bytes>> {
    let mut response = Response::new(full(Bytes::from_static(b"{}")));
    *response.status_mut() = StatusCode::PAYMENT_REQUIRED;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(PAYMENT_REQUIRED_HEADER, header);
    expose_payment_headers(headers);
    response
}

/// A challenge (402, 412, or 400 for a malformed payment) with the `PAYMENT-REQUIRED` header,
/// and a JSON body or an HTML page.
pub(crate) fn challenge(
    status: StatusCode,
    required: &PaymentRequired,
    html: Option<String>,
    detail: Option<(&Reason, &str)>,
) -> Response<Full<Bytes>> {
    let (content_type, body) = match (html, detail) {
        (Some(page), _) => ("text/html; charset=utf-8", Bytes::from(page)),
        (None, Some((reason, message))) => (
            "application/json",
            Bytes::from(error_json(reason, message).to_string()),
        ),
        (None, None) => ("application/json", Bytes::from_static(b"{}")),
    };
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        PAYMENT_REQUIRED_HEADER,
        header_value(encode_header(required)),
    );
    expose_payment_headers(headers);
    response
}

fn error_json(reason: &Reason, message: &str) -> serde_json::Value {
    let mut body = json!({"error": reason.as_str(), "message": message});
    if let Some(code) = reason.code() {
        body["code"] = json!(code.to_string());
    }
    body
}

/// A JSON error `{"error": reason, "message": …, "code": "T402-…"}`.
pub(crate) fn json_error(
    status: StatusCode,
    reason: &Reason,
    message: &str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(full(error_json(reason, message).to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    expose_payment_headers(response.headers_mut());
    response
}

/// 502 when the facilitator failed, 504 when it did not answer in time.
pub(crate) fn facilitator_error(err: &FacilitatorError) -> Response<Full<Bytes>> {
    let status = match err {
        FacilitatorError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    };
    json_error(status, &err.reason(), &err.to_string())
}

/// 402 with `PAYMENT-RESPONSE` (success false) and an empty JSON body: the handler's content is
/// not sent.
pub(crate) fn settlement_failed(settled: &SettleResponse) -> Response<Full<Bytes>> {
    let mut response = Response::new(full(Bytes::from_static(b"{}")));
    *response.status_mut() = StatusCode::PAYMENT_REQUIRED;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        PAYMENT_RESPONSE_HEADER,
        header_value(encode_header(settled)),
    );
    expose_payment_headers(headers);
    response
}

/// Adds the successful settlement to a response.
pub(crate) fn attach_settlement(headers: &mut HeaderMap, settled: &SettleResponse) {
    headers.insert(
        PAYMENT_RESPONSE_HEADER,
        header_value(encode_header(settled)),
    );
    expose_payment_headers(headers);
}
