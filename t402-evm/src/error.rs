//! Errors of the EVM mechanism.

/// A scheme payload that is not a well-formed EIP-3009 payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The payload is not `{signature, authorization}` of strings.
    #[error("payload is not an EIP-3009 payload: {0}")]
    Shape(String),
    /// The payload is a Permit2 payload, which this mechanism does not take.
    #[error("Permit2 payloads are not supported by the EIP-3009 mechanism")]
    Permit2,
    /// A field is not in its required format.
    #[error("`{field}` is malformed: `{value}`")]
    Field {
        /// The field.
        field: &'static str,
        /// What it held.
        value: String,
    },
    /// The signature is not `0x` followed by an even number of hex digits.
    #[error("signature is not 0x-prefixed hex")]
    SignatureHex,
}
