//! Signature forms: plain ECDSA (EOA), ERC-1271 contract-wallet signatures, and ERC-6492
//! wrappers for wallets not yet deployed.

use alloy_primitives::{Address, B256, Bytes, Signature, b256};
use alloy_sol_types::SolValue;

/// The 32-byte suffix that marks an ERC-6492 wrapped signature.
pub const ERC6492_MAGIC: B256 =
    b256!("6492649264926492649264926492649264926492649264926492649264926492");

/// Deployment data carried by an ERC-6492 wrapper.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Erc6492Deployment {
    /// The factory to call.
    pub factory: Address,
    /// The calldata that deploys the wallet.
    pub factory_calldata: Bytes,
}

impl Erc6492Deployment {
    /// Deployment by calling `factory` with `factory_calldata`.
    pub fn new(factory: Address, factory_calldata: impl Into<Bytes>) -> Self {
        Self {
            factory,
            factory_calldata: factory_calldata.into(),
        }
    }
}

/// A signature with any ERC-6492 wrapper taken off.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnwrappedSignature {
    /// The signature the wallet itself checks.
    pub inner: Bytes,
    /// The deployment data, when the wrapper carried a non-zero factory.
    pub deployment: Option<Erc6492Deployment>,
}

/// Why a signature was refused without any chain access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The ERC-6492 wrapper does not decode as `(address, bytes, bytes)`.
    #[error("malformed ERC-6492 wrapper")]
    MalformedErc6492,
    /// A 65-byte signature whose `v` is not 0, 1, 27 or 28.
    #[error("invalid recovery id")]
    InvalidV,
    /// `s` is in the upper half of the curve order (a malleated signature).
    #[error("high-s signature")]
    HighS,
    /// The signature does not recover to any address.
    #[error("signature does not recover")]
    Unrecoverable,
}

/// Takes off an ERC-6492 wrapper, if present. A zero factory means "no deployment data".
pub fn unwrap_erc6492(signature: &[u8]) -> Result<UnwrappedSignature, SignatureError> {
    let Some(body) = signature.strip_suffix(ERC6492_MAGIC.as_slice()) else {
        return Ok(UnwrappedSignature {
            inner: Bytes::copy_from_slice(signature),
            deployment: None,
        });
    };
    let (factory, factory_calldata, inner) = <(Address, Bytes, Bytes)>::abi_decode_params(body)
        .map_err(|_| SignatureError::MalformedErc6492)?;
    let deployment = (factory != Address::ZERO).then_some(Erc6492Deployment {
        factory,
        factory_calldata,
    });
    Ok(UnwrappedSignature { inner, deployment })
}

/// Wraps `inner` for an undeployed wallet (ERC-6492).
pub fn wrap_erc6492(deployment: &Erc6492Deployment, inner: &[u8]) -> Bytes {
    let mut out = (
        deployment.factory,
        deployment.factory_calldata.clone(),
        Bytes::copy_from_slice(inner),
    )
        .abi_encode_params();
    out.extend_from_slice(ERC6492_MAGIC.as_slice());
    out.into()
}

/// Parses a 65-byte `r || s || v` signature, refusing high `s` and unusual `v`.
pub fn parse_ecdsa(signature: &[u8; 65]) -> Result<Signature, SignatureError> {
    if !matches!(signature[64], 0 | 1 | 27 | 28) {
        return Err(SignatureError::InvalidV);
    }
    let parsed = Signature::from_raw_array(signature).map_err(|_| SignatureError::InvalidV)?;
    if parsed.normalize_s().is_some() {
        return Err(SignatureError::HighS);
    }
    Ok(parsed)
}

/// Recovers the signer of `digest` from a 65-byte ECDSA signature (low `s` only).
pub fn recover_eoa(digest: &B256, signature: &[u8; 65]) -> Result<Address, SignatureError> {
    parse_ecdsa(signature)?
        .recover_address_from_prehash(digest)
        .map_err(|_| SignatureError::Unrecoverable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{U256, address, hex};

    #[test]
    fn erc6492_round_trip() {
        let deployment = Erc6492Deployment {
            factory: address!("4e59b44847b379578588920cA78FbF26c0B4956C"),
            factory_calldata: Bytes::from_static(&[1, 2, 3]),
        };
        let wrapped = wrap_erc6492(&deployment, &[9u8; 65]);
        assert!(wrapped.ends_with(ERC6492_MAGIC.as_slice()));
        let unwrapped = unwrap_erc6492(&wrapped).unwrap();
        assert_eq!(unwrapped.deployment, Some(deployment));
        assert_eq!(unwrapped.inner.as_ref(), &[9u8; 65]);
        // A zero factory carries no deployment data.
        let zero = Erc6492Deployment {
            factory: Address::ZERO,
            factory_calldata: Bytes::new(),
        };
        assert_eq!(
            unwrap_erc6492(&wrap_erc6492(&zero, &[7u8; 3]))
                .unwrap()
                .deployment,
            None
        );
        // Plain signatures pass through; a broken wrapper is refused.
        assert_eq!(unwrap_erc6492(&[5u8; 65]).unwrap().inner.len(), 65);
        let mut broken = vec![0u8; 10];
        broken.extend_from_slice(ERC6492_MAGIC.as_slice());
        assert_eq!(
            unwrap_erc6492(&broken),
            Err(SignatureError::MalformedErc6492)
        );
    }

    #[test]
    fn high_s_and_bad_v_are_refused() {
        let sig = hex!(
            "2d6a7588d6acca505cbf0d9a4a227e0c52c6c34008c8e8986a1283259764173608a2ce6496642e377d6da8dbbf5836e9bd15092f9ecab05ded3d6293af148b571c"
        );
        let digest = b256!("f256992871671abcb27ff92885a7afa46218724e5fc0bac35d050115aa1d22e6");
        assert_eq!(
            recover_eoa(&digest, &sig).unwrap(),
            address!("857b06519E91e3A54538791bDbb0E22373e36b66")
        );
        // The malleated twin (n - s, flipped v) recovers to the same address on a lax verifier.
        let parsed = Signature::from_raw_array(&sig).unwrap();
        let n = U256::from_be_bytes(hex!(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"
        ));
        let twin = Signature::new(parsed.r(), n - parsed.s(), !parsed.v());
        assert_eq!(
            twin.recover_address_from_prehash(&digest).unwrap(),
            address!("857b06519E91e3A54538791bDbb0E22373e36b66")
        );
        assert_eq!(
            recover_eoa(&digest, &twin.as_bytes()),
            Err(SignatureError::HighS)
        );
        let mut bad_v = sig;
        bad_v[64] = 37;
        assert_eq!(recover_eoa(&digest, &bad_v), Err(SignatureError::InvalidV));
    }
}
