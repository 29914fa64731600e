//! The secp256k1 backend.
//!
//! With feature `libsecp256k1` (on by default) every signature is recovered through
//! libsecp256k1, the C library behind Bitcoin Core, by switching alloy's own backend (alloy
//! `secp256k1`): EIP-3009 verification, the facilitator's checks, the devnet's transaction
//! senders and its `ecrecover` precompile (revm `secp256k1`). A local key
//! (`alloy_signer_local::PrivateKeySigner`) given to [`ExactEvmClient`](crate::ExactEvmClient)
//! or [`FacilitatorSigners`](crate::FacilitatorSigners) also signs through it. Without the
//! feature everything runs on k256 (pure Rust), for targets without a C toolchain.
//!
//! Both backends produce the same bytes: RFC 6979 nonces and low `s`
//! (`tests` below, and every signature test of the crate runs on the backend built).

use alloy_primitives::{B256, Signature};

/// The backend this build uses: `"libsecp256k1"` or `"k256"`.
pub const BACKEND: &str = if cfg!(feature = "libsecp256k1") {
    "libsecp256k1"
} else {
    "k256"
};

/// A copy of a local signer's secret that signs through libsecp256k1. Its `Debug` shows nothing
/// of the key, and the copy is erased when dropped.
#[cfg(feature = "libsecp256k1")]
pub(crate) struct FastKey(secp256k1::SecretKey);

/// Without libsecp256k1 there is no fast key: signers sign as they do.
#[cfg(not(feature = "libsecp256k1"))]
pub(crate) struct FastKey(std::convert::Infallible);

impl std::fmt::Debug for FastKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FastKey(..)")
    }
}

#[cfg(feature = "libsecp256k1")]
impl FastKey {
    /// The key of `signer` when it is a local key this backend can sign with.
    pub(crate) fn of<S: std::any::Any>(signer: &S) -> Option<Self> {
        let local = (signer as &dyn std::any::Any)
            .downcast_ref::<alloy_signer_local::PrivateKeySigner>()?;
        let bytes: [u8; 32] = local.credential().to_bytes().into();
        secp256k1::SecretKey::from_byte_array(bytes).ok().map(Self)
    }

    /// Signs a 32-byte hash (RFC 6979, low `s`).
    pub(crate) fn sign(&self, hash: &B256) -> Signature {
        let message = secp256k1::Message::from_digest(hash.0);
        let (recovery, compact) = secp256k1::SECP256K1
            .sign_ecdsa_recoverable(message, &self.0)
            .serialize_compact();
        Signature::from_bytes_and_parity(&compact, recovery == secp256k1::ecdsa::RecoveryId::One)
    }
}

#[cfg(feature = "libsecp256k1")]
impl Drop for FastKey {
    fn drop(&mut self) {
        self.0.non_secure_erase();
    }
}

#[cfg(not(feature = "libsecp256k1"))]
impl FastKey {
    /// Never a fast key without libsecp256k1.
    pub(crate) fn of<S: std::any::Any>(_signer: &S) -> Option<Self> {
        None
    }

    /// Unreachable: there is no value.
    pub(crate) fn sign(&self, _hash: &B256) -> Signature {
        match self.0 {}
    }
}

#[cfg(all(test, feature = "libsecp256k1"))]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;
    use alloy_signer::SignerSync;
    use alloy_signer_local::PrivateKeySigner;

    #[test]
    fn libsecp256k1_signs_the_same_bytes_as_k256_and_both_recover_the_signer() {
        for n in 0u32..64 {
            let signer = PrivateKeySigner::random();
            let fast = FastKey::of(&signer).expect("a local key");
            let hash = keccak256(n.to_be_bytes());
            let k256 = signer.sign_hash_sync(&hash).unwrap();
            let libsecp = fast.sign(&hash);
            assert_eq!(libsecp, k256, "same r, s and parity");
            // Recovery through the backend built (libsecp256k1) and through k256 agree.
            assert_eq!(
                libsecp.recover_address_from_prehash(&hash).unwrap(),
                signer.address()
            );
            let k256_key = libsecp.recover_from_prehash(&hash).unwrap();
            assert_eq!(
                alloy_primitives::Address::from_public_key(&k256_key),
                signer.address()
            );
        }
        assert_eq!(BACKEND, "libsecp256k1");
    }

    #[test]
    fn only_local_keys_have_a_fast_key_and_its_debug_hides_it() {
        let signer = PrivateKeySigner::random();
        let fast = FastKey::of(&signer).unwrap();
        assert_eq!(format!("{fast:?}"), "FastKey(..)");
        assert!(FastKey::of(&std::sync::Arc::new(signer)).is_none());
        assert!(FastKey::of(&42u8).is_none());
    }
}
