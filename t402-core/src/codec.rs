//! The header codec: standard padded base64 of compact JSON, with a size limit checked first.
//!
//! `PAYMENT-REQUIRED`, `PAYMENT-SIGNATURE`, `PAYMENT-RESPONSE` and their v1 twins `X-PAYMENT` and
//! `X-PAYMENT-RESPONSE` carry `base64(JSON)`. Decoding is strict where the reference servers are
//! lax: only the standard alphabet with canonical `=` padding, no whitespace, no byte-order mark,
//! no duplicate JSON keys, and a version field that is an integer. The size limit (32 KiB by
//! default) is enforced on the raw header before any decoding work.
//!
//! ```
//! use t402_core::codec::{Codec, encode_header};
//! use t402_core::{PaymentRequired, ResourceInfo};
//!
//! let challenge = PaymentRequired::new(ResourceInfo::new("https://api.example.com/data"), vec![]);
//! let header = encode_header(&challenge);
//! let decoded = Codec::default().decode_payment_required(&header)?;
//! assert_eq!(decoded, challenge);
//! # Ok::<(), t402_core::codec::CodecError>(())
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::json::{self, StrictJsonError};
use crate::reason::Reason;
use crate::version::{ProtocolVersion, VersionError};
use crate::wire::{
    PaymentPayload, PaymentPayloadV1, PaymentRequired, PaymentRequiredV1, SettleResponse,
};

/// The default limit on an encoded header or v1 body: 32 KiB.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;

/// `PAYMENT-REQUIRED` (v2, server → client).
pub const PAYMENT_REQUIRED_HEADER: &str = "PAYMENT-REQUIRED";
/// `PAYMENT-SIGNATURE` (v2, client → server).
pub const PAYMENT_SIGNATURE_HEADER: &str = "PAYMENT-SIGNATURE";
/// `PAYMENT-RESPONSE` (v2, server → client).
pub const PAYMENT_RESPONSE_HEADER: &str = "PAYMENT-RESPONSE";
/// `X-PAYMENT` (v1, client → server).
pub const X_PAYMENT_HEADER: &str = "X-PAYMENT";
/// `X-PAYMENT-RESPONSE` (v1, server → client).
pub const X_PAYMENT_RESPONSE_HEADER: &str = "X-PAYMENT-RESPONSE";

/// The kinds of protocol value the codec reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderKind {
    /// `PAYMENT-REQUIRED`: a v2 [`PaymentRequired`].
    PaymentRequired,
    /// `PAYMENT-SIGNATURE`: a v2 [`PaymentPayload`].
    PaymentSignature,
    /// `PAYMENT-RESPONSE`: a [`SettleResponse`].
    PaymentResponse,
    /// `X-PAYMENT`: a [`PaymentPayloadV1`].
    XPayment,
    /// `X-PAYMENT-RESPONSE`: a v1 [`SettleResponse`].
    XPaymentResponse,
    /// The v1 402 JSON body: a [`PaymentRequiredV1`] (plain JSON, not base64).
    V1Body,
}

impl HeaderKind {
    /// The HTTP header that carries this kind (`None` for the v1 body).
    pub fn header_name(self) -> Option<&'static str> {
        match self {
            Self::PaymentRequired => Some(PAYMENT_REQUIRED_HEADER),
            Self::PaymentSignature => Some(PAYMENT_SIGNATURE_HEADER),
            Self::PaymentResponse => Some(PAYMENT_RESPONSE_HEADER),
            Self::XPayment => Some(X_PAYMENT_HEADER),
            Self::XPaymentResponse => Some(X_PAYMENT_RESPONSE_HEADER),
            Self::V1Body => None,
        }
    }

    /// The protocol version the kind belongs to, when it is fixed.
    fn expected_version(self) -> Option<u32> {
        match self {
            Self::PaymentRequired | Self::PaymentSignature => Some(2),
            Self::XPayment | Self::V1Body => Some(1),
            Self::PaymentResponse | Self::XPaymentResponse => None,
        }
    }
}

/// Why a header (or v1 body) could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The value is empty.
    #[error("{kind:?} is empty")]
    Empty {
        /// What was being decoded.
        kind: HeaderKind,
    },
    /// The value is larger than the limit; nothing was decoded.
    #[error("{kind:?} is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// What was being decoded.
        kind: HeaderKind,
        /// Its size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not standard padded base64 (URL-safe alphabet, whitespace, missing padding, truncation).
    #[error("{kind:?} is not standard padded base64: {source}")]
    Base64 {
        /// What was being decoded.
        kind: HeaderKind,
        /// The decoder's error.
        #[source]
        source: base64::DecodeError,
    },
    /// The decoded bytes are not valid JSON (or not UTF-8, or have duplicate keys).
    #[error("{kind:?} is not valid JSON: {source}")]
    Json {
        /// What was being decoded.
        kind: HeaderKind,
        /// The parser's error.
        #[source]
        source: StrictJsonError,
    },
    /// The version field is missing, not an integer, disagrees between keys, or is the wrong
    /// version for this kind.
    #[error("{kind:?} has a bad protocol version: {source}")]
    Version {
        /// What was being decoded.
        kind: HeaderKind,
        /// What is wrong with the version.
        #[source]
        source: VersionError,
    },
    /// The JSON does not have the message's shape (missing required field, wrong type, invalid
    /// amount or network).
    #[error("{kind:?} does not match the protocol's message shape: {source}")]
    Shape {
        /// What was being decoded.
        kind: HeaderKind,
        /// The deserializer's error.
        #[source]
        source: serde_json::Error,
    },
}

impl CodecError {
    /// The protocol reason for this error: `invalid_x402_version` for version problems,
    /// `invalid_payload` otherwise.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Version { .. } => Reason::InvalidX402Version,
            _ => Reason::InvalidPayload,
        }
    }

    /// What was being decoded.
    pub fn kind(&self) -> HeaderKind {
        match self {
            Self::Empty { kind }
            | Self::TooLarge { kind, .. }
            | Self::Base64 { kind, .. }
            | Self::Json { kind, .. }
            | Self::Version { kind, .. }
            | Self::Shape { kind, .. } => *kind,
        }
    }
}

/// Encodes a message as a header value: compact JSON, then standard padded base64.
pub fn encode_header<T: Serialize + ?Sized>(value: &T) -> String {
    let json = serde_json::to_vec(value).expect("wire types serialize to JSON");
    STANDARD.encode(json)
}

/// Decodes protocol headers and bodies under a size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec {
    max_bytes: usize,
}

impl Default for Codec {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_HEADER_BYTES,
        }
    }
}

impl Codec {
    /// A codec with the default 32 KiB limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the limit on an encoded value, in bytes.
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The limit on an encoded value, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    fn check_size(&self, kind: HeaderKind, raw: &[u8]) -> Result<(), CodecError> {
        if raw.len() > self.max_bytes {
            return Err(CodecError::TooLarge {
                kind,
                size: raw.len(),
                max: self.max_bytes,
            });
        }
        if raw.is_empty() {
            return Err(CodecError::Empty { kind });
        }
        Ok(())
    }

    /// Decodes a base64 header value of `kind` into `T`.
    pub fn decode_header<T: DeserializeOwned>(
        &self,
        kind: HeaderKind,
        value: impl AsRef<[u8]>,
    ) -> Result<T, CodecError> {
        let json = self.decode_base64(kind, value.as_ref())?;
        Self::decode_json(kind, &json)
    }

    /// The JSON bytes of a base64 header value of `kind`, its size checked first.
    fn decode_base64(&self, kind: HeaderKind, raw: &[u8]) -> Result<Vec<u8>, CodecError> {
        self.check_size(kind, raw)?;
        STANDARD
            .decode(raw)
            .map_err(|source| CodecError::Base64 { kind, source })
    }

    /// Reads JSON bytes of `kind` into `T` (strict JSON, version checked first).
    fn decode_json<T: DeserializeOwned>(kind: HeaderKind, json: &[u8]) -> Result<T, CodecError> {
        let text =
            json::check_unique_keys(json).map_err(|source| CodecError::Json { kind, source })?;
        let read = serde_json::from_str(text);
        // A message that does not read is told apart: the wrong version, or the wrong shape.
        if read.is_err()
            && let Some(expected) = kind.expected_version()
        {
            ProtocolVersion::of_json_bytes(json)
                .map_err(|source| CodecError::Shape { kind, source })?
                .and_then(|version| version.expect(expected))
                .map_err(|source| CodecError::Version { kind, source })?;
        }
        read.map_err(|source| CodecError::Shape { kind, source })
    }

    /// Decodes `PAYMENT-REQUIRED`.
    pub fn decode_payment_required(
        &self,
        value: impl AsRef<[u8]>,
    ) -> Result<PaymentRequired, CodecError> {
        self.decode_header(HeaderKind::PaymentRequired, value)
    }

    /// Decodes `PAYMENT-SIGNATURE`.
    pub fn decode_payment_signature(
        &self,
        value: impl AsRef<[u8]>,
    ) -> Result<PaymentPayload, CodecError> {
        let kind = HeaderKind::PaymentSignature;
        let json = self.decode_base64(kind, value.as_ref())?;
        // The payment's reader refuses repeated keys and any version but 2 by itself
        // (`wire::de`): a payment that reads is read in one pass. One that does not is read
        // again to say why.
        if let Ok(text) = std::str::from_utf8(&json)
            && let Ok(payment) = serde_json::from_str(text)
        {
            return Ok(payment);
        }
        Self::decode_json(kind, &json)
    }

    /// Decodes `PAYMENT-RESPONSE`.
    pub fn decode_payment_response(
        &self,
        value: impl AsRef<[u8]>,
    ) -> Result<SettleResponse, CodecError> {
        self.decode_header(HeaderKind::PaymentResponse, value)
    }

    /// Decodes `X-PAYMENT`.
    pub fn decode_x_payment(
        &self,
        value: impl AsRef<[u8]>,
    ) -> Result<PaymentPayloadV1, CodecError> {
        self.decode_header(HeaderKind::XPayment, value)
    }

    /// Decodes `X-PAYMENT-RESPONSE`.
    pub fn decode_x_payment_response(
        &self,
        value: impl AsRef<[u8]>,
    ) -> Result<SettleResponse, CodecError> {
        self.decode_header(HeaderKind::XPaymentResponse, value)
    }

    /// Decodes a v1 402 JSON body (plain JSON, not base64).
    pub fn decode_v1_body(&self, body: impl AsRef<[u8]>) -> Result<PaymentRequiredV1, CodecError> {
        let raw = body.as_ref();
        self.check_size(HeaderKind::V1Body, raw)?;
        Self::decode_json(HeaderKind::V1Body, raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names() {
        assert_eq!(
            HeaderKind::PaymentSignature.header_name(),
            Some("PAYMENT-SIGNATURE")
        );
        assert_eq!(
            HeaderKind::XPaymentResponse.header_name(),
            Some("X-PAYMENT-RESPONSE")
        );
        assert_eq!(HeaderKind::V1Body.header_name(), None);
    }

    #[test]
    fn limit_is_checked_before_decoding() {
        let codec = Codec::new().with_max_bytes(8);
        // Not even base64: the size check must answer first.
        let err = codec.decode_payment_required("!!!!!!!!!").unwrap_err();
        assert!(
            matches!(
                err,
                CodecError::TooLarge {
                    size: 9,
                    max: 8,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.reason(), Reason::InvalidPayload);
        assert!(matches!(
            codec.decode_payment_required(""),
            Err(CodecError::Empty { .. })
        ));
    }
}
