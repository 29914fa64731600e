//! `t402 decode`: any of the five payment headers, or a v1 402 body, as pretty JSON with its kind.

use serde_json::Value;
use t402_core::codec::{Codec, HeaderKind};

use crate::error::{CliError, exit};

/// What a value was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `PAYMENT-REQUIRED`.
    PaymentRequired,
    /// `PAYMENT-SIGNATURE`.
    PaymentSignature,
    /// `PAYMENT-RESPONSE` (also `X-PAYMENT-RESPONSE`, which has the same shape).
    PaymentResponse,
    /// `X-PAYMENT`.
    XPayment,
    /// A v1 402 JSON body.
    V1Body,
}

impl Kind {
    /// How the kind is named in the output.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::PaymentRequired => "PAYMENT-REQUIRED (v2 PaymentRequired)",
            Self::PaymentSignature => "PAYMENT-SIGNATURE (v2 PaymentPayload)",
            Self::PaymentResponse => "PAYMENT-RESPONSE / X-PAYMENT-RESPONSE (SettleResponse)",
            Self::XPayment => "X-PAYMENT (v1 PaymentPayload)",
            Self::V1Body => "v1 402 body (PaymentRequirementsResponse)",
        }
    }
}

fn version_of(value: &Value) -> Option<u64> {
    value
        .get("x402Version")
        .or_else(|| value.get("t402Version"))
        .and_then(Value::as_u64)
}

/// Recognises and strictly decodes `input` (base64 of a header, or a v1 JSON body).
pub(crate) fn decode(input: &str) -> Result<(Kind, Value), CliError> {
    let input = input.trim();
    let codec = Codec::default();
    if input.starts_with('{') {
        let value = codec.decode_v1_body(input.as_bytes()).map_err(|err| {
            CliError::with_reason(exit::INPUT, err.reason(), format!("v1 body: {err}"))
        })?;
        return Ok((
            Kind::V1Body,
            serde_json::to_value(value).unwrap_or_default(),
        ));
    }
    // Peek at the JSON to tell the kinds apart, then decode strictly as that kind.
    let peek: Value = codec
        .decode_header(HeaderKind::PaymentResponse, input)
        .or_else(|_| codec.decode_header::<Value>(HeaderKind::PaymentRequired, input))
        .map_err(|err| CliError::with_reason(exit::INPUT, err.reason(), err.to_string()))?;
    let kind = if peek.get("accepts").is_some() {
        Kind::PaymentRequired
    } else if peek.get("success").is_some() {
        Kind::PaymentResponse
    } else if peek.get("accepted").is_some() {
        Kind::PaymentSignature
    } else if version_of(&peek) == Some(1) && peek.get("payload").is_some() {
        Kind::XPayment
    } else {
        return Err(CliError::new(
            exit::INPUT,
            "the value decodes to JSON that is none of the payment messages",
        ));
    };
    let strict = |err: t402_core::codec::CodecError| {
        CliError::with_reason(
            exit::INPUT,
            err.reason(),
            format!("{}: {err}", kind.label()),
        )
    };
    let value = match kind {
        Kind::PaymentRequired => {
            serde_json::to_value(codec.decode_payment_required(input).map_err(strict)?)
        }
        Kind::PaymentSignature => {
            serde_json::to_value(codec.decode_payment_signature(input).map_err(strict)?)
        }
        Kind::PaymentResponse => {
            serde_json::to_value(codec.decode_payment_response(input).map_err(strict)?)
        }
        Kind::XPayment => serde_json::to_value(codec.decode_x_payment(input).map_err(strict)?),
        Kind::V1Body => unreachable!("handled above"),
    }
    .map_err(|err| CliError::new(exit::INPUT, err.to_string()))?;
    Ok((kind, value))
}
