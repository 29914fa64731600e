//! The gas-sponsoring extensions of Permit2 payments (protocol reference §9.5, §9.6): a payer
//! without a Permit2 allowance signs an EIP-2612 permit, or an `approve(Permit2, max)`
//! transaction the facilitator broadcasts, and pays no gas.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolCall, SolStruct};
use serde::{Deserialize, Serialize};
use t402_core::{JsonObject, Reason};

use super::PERMIT2;
use crate::contracts::IErc20;
use crate::eip3009::token_domain;
use crate::verify::{Rejection, VALID_BEFORE_BUFFER_SECS};

/// The extension key of EIP-2612 gas sponsoring.
pub const EIP2612_GAS_SPONSORING: &str = "eip2612GasSponsoring";

/// The extension key of ERC-20 approval gas sponsoring.
pub const ERC20_APPROVAL_GAS_SPONSORING: &str = "erc20ApprovalGasSponsoring";

/// The version both extensions write.
const EXTENSION_VERSION: &str = "1";

alloy_sol_types::sol! {
    /// The EIP-712 struct of an EIP-2612 permit.
    #[derive(Debug)]
    struct Permit { address owner; address spender; uint256 value; uint256 nonce; uint256 deadline; }
}

/// The digest an owner signs for an EIP-2612 permit of `token` (whose EIP-712 domain is
/// `name`/`version`).
#[allow(clippy::too_many_arguments)]
pub fn eip2612_digest(
    name: &str,
    version: &str,
    chain_id: u64,
    token: Address,
    owner: Address,
    spender: Address,
    value: U256,
    nonce: U256,
    deadline: U256,
) -> B256 {
    Permit {
        owner,
        spender,
        value,
        nonce,
        deadline,
    }
    .eip712_signing_hash(&token_domain(name, version, chain_id, token))
}

/// Why an extension's info cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SponsoringError {
    /// The protocol reason.
    pub reason: Reason,
    /// What was wrong.
    pub message: String,
}

impl SponsoringError {
    fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    /// As a verification rejection of `payer`'s payment.
    pub fn into_rejection(self, payer: Address) -> Rejection {
        Rejection::new(self.reason, self.message, Some(payer))
    }
}

/// The `info` of an extension in a payment's `extensions`, when present with every field (the
/// reference ignores an incomplete one).
fn info<'a>(
    extensions: Option<&'a JsonObject>,
    key: &str,
    fields: &[&str],
) -> Option<&'a JsonObject> {
    let info = extensions?.get(key)?.get("info")?.as_object()?;
    fields
        .iter()
        .all(|field| info.get(*field).is_some_and(|v| !v.is_null() && v != ""))
        .then_some(info)
}

fn text<'a>(info: &'a JsonObject, field: &str) -> &'a str {
    info.get(field)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
}

fn is_address(text: &str) -> bool {
    text.len() == 42 && text.starts_with("0x") && text[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_hex(text: &str) -> bool {
    text.len() > 2 && text.starts_with("0x") && text[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_version(text: &str) -> bool {
    !text.is_empty() && text.split('.').all(is_number)
}

/// A signed EIP-2612 permit of Permit2 carried by `eip2612GasSponsoring`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Eip2612Permit {
    /// The owner (the payer).
    pub from: Address,
    /// The token.
    pub asset: Address,
    /// Permit2.
    pub spender: Address,
    /// The allowance granted (the permitted amount: the proxy requires it).
    pub amount: U256,
    /// The owner's EIP-2612 nonce.
    pub nonce: U256,
    /// Not valid after this Unix time.
    pub deadline: U256,
    /// The 65-byte signature.
    pub signature: Bytes,
}

impl Eip2612Permit {
    /// The extension object a client sends: `{eip2612GasSponsoring: {info: {...}}}`.
    pub fn to_extensions(&self) -> JsonObject {
        let info = serde_json::json!({
            "from": self.from.to_checksum(None),
            "asset": self.asset.to_checksum(None),
            "spender": self.spender.to_checksum(None),
            "amount": self.amount.to_string(),
            "nonce": self.nonce.to_string(),
            "deadline": self.deadline.to_string(),
            "signature": self.signature.to_string(),
            "version": EXTENSION_VERSION,
        });
        let mut extensions = JsonObject::new();
        extensions.insert(
            EIP2612_GAS_SPONSORING.into(),
            serde_json::json!({ "info": info }),
        );
        extensions
    }

    /// The `(v, r, s)` of the signature.
    pub fn vrs(&self) -> (u8, B256, B256) {
        let sig = &self.signature;
        let v = sig.get(64).copied().unwrap_or(0);
        let v = if v < 27 { v + 27 } else { v };
        (
            v,
            B256::from_slice(&sig[..32]),
            B256::from_slice(&sig[32..64]),
        )
    }

    /// The proxy's `permit2612` argument.
    pub fn proxy_argument(&self) -> crate::contracts::EIP2612Permit {
        let (v, r, s) = self.vrs();
        crate::contracts::EIP2612Permit {
            value: self.amount,
            deadline: self.deadline,
            r,
            s,
            v,
        }
    }
}

/// Reads and checks a payment's `eip2612GasSponsoring` info for `payer` paying `token` at time
/// `now` (protocol reference §5.6 step 11). `None` when the payment carries none.
pub fn check_eip2612(
    extensions: Option<&JsonObject>,
    payer: Address,
    token: Address,
    now: u64,
) -> Option<Result<Eip2612Permit, SponsoringError>> {
    const FIELDS: [&str; 8] = [
        "from",
        "asset",
        "spender",
        "amount",
        "nonce",
        "deadline",
        "signature",
        "version",
    ];
    let info = info(extensions, EIP2612_GAS_SPONSORING, &FIELDS)?;
    Some((|| {
        let well_formed = ["from", "asset", "spender"]
            .iter()
            .all(|f| is_address(text(info, f)))
            && ["amount", "nonce", "deadline"]
                .iter()
                .all(|f| is_number(text(info, f)))
            && is_hex(text(info, "signature"))
            && text(info, "signature").len() == 132
            && is_version(text(info, "version"));
        if !well_formed {
            return Err(SponsoringError::new(
                Reason::InvalidEip2612ExtensionFormat,
                "the eip2612GasSponsoring info is malformed",
            ));
        }
        let address = |f: &str| text(info, f).parse::<Address>().expect("checked");
        let number = |f: &str| U256::from_str_radix(text(info, f), 10);
        let (Ok(amount), Ok(nonce), Ok(deadline)) =
            (number("amount"), number("nonce"), number("deadline"))
        else {
            return Err(SponsoringError::new(
                Reason::InvalidEip2612ExtensionFormat,
                "an eip2612GasSponsoring number is above 2^256",
            ));
        };
        let permit = Eip2612Permit {
            from: address("from"),
            asset: address("asset"),
            spender: address("spender"),
            amount,
            nonce,
            deadline,
            signature: text(info, "signature").parse().expect("checked hex"),
        };
        if permit.from != payer {
            return Err(SponsoringError::new(
                Reason::Eip2612FromMismatch,
                format!("the permit's owner is {}, the payer {payer}", permit.from),
            ));
        }
        if permit.asset != token {
            return Err(SponsoringError::new(
                Reason::Eip2612AssetMismatch,
                format!(
                    "the permit is for {}, the payment moves {token}",
                    permit.asset
                ),
            ));
        }
        if permit.spender != PERMIT2 {
            return Err(SponsoringError::new(
                Reason::Eip2612SpenderNotPermit2,
                format!("the permit approves {}, not Permit2", permit.spender),
            ));
        }
        if permit.deadline < U256::from(now.saturating_add(VALID_BEFORE_BUFFER_SECS)) {
            return Err(SponsoringError::new(
                Reason::Eip2612DeadlineExpired,
                format!("the permit expires at {}, now is {now}", permit.deadline),
            ));
        }
        Ok(permit)
    })())
}

/// A signed `approve(Permit2, amount)` transaction carried by `erc20ApprovalGasSponsoring`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Erc20Approval {
    /// The payer, who signed the transaction.
    pub from: Address,
    /// The token.
    pub asset: Address,
    /// The allowance the transaction grants.
    pub amount: U256,
    /// The signed EIP-2718 transaction, as broadcast.
    pub signed_transaction: Bytes,
    /// Its gas limit.
    pub gas_limit: u64,
    /// Its most fee per gas.
    pub max_fee_per_gas: u128,
    /// Its nonce.
    pub nonce: u64,
}

impl Erc20Approval {
    /// The extension object a client sends.
    pub fn to_extensions(&self) -> JsonObject {
        let info = serde_json::json!({
            "from": self.from.to_checksum(None),
            "asset": self.asset.to_checksum(None),
            "spender": PERMIT2.to_checksum(None),
            "amount": self.amount.to_string(),
            "signedTransaction": self.signed_transaction.to_string(),
            "version": EXTENSION_VERSION,
        });
        let mut extensions = JsonObject::new();
        extensions.insert(
            ERC20_APPROVAL_GAS_SPONSORING.into(),
            serde_json::json!({ "info": info }),
        );
        extensions
    }

    /// The most the transaction's gas can cost, in wei.
    pub fn max_gas_cost(&self) -> U256 {
        U256::from(self.gas_limit) * U256::from(self.max_fee_per_gas)
    }
}

/// Reads and checks a payment's `erc20ApprovalGasSponsoring` info for `payer` paying `token`
/// (protocol reference §5.6 step 12). `None` when the payment carries none.
pub fn check_erc20_approval(
    extensions: Option<&JsonObject>,
    payer: Address,
    token: Address,
) -> Option<Result<Erc20Approval, SponsoringError>> {
    const FIELDS: [&str; 6] = [
        "from",
        "asset",
        "spender",
        "amount",
        "signedTransaction",
        "version",
    ];
    let info = info(extensions, ERC20_APPROVAL_GAS_SPONSORING, &FIELDS)?;
    Some((|| {
        let well_formed = ["from", "asset", "spender"]
            .iter()
            .all(|f| is_address(text(info, f)))
            && is_number(text(info, "amount"))
            && is_hex(text(info, "signedTransaction"))
            && is_version(text(info, "version"));
        let amount = U256::from_str_radix(text(info, "amount"), 10);
        let (true, Ok(amount)) = (well_formed, amount) else {
            return Err(SponsoringError::new(
                Reason::InvalidErc20ApprovalExtensionFormat,
                "the erc20ApprovalGasSponsoring info is malformed",
            ));
        };
        let address = |f: &str| text(info, f).parse::<Address>().expect("checked");
        if address("from") != payer {
            return Err(SponsoringError::new(
                Reason::Erc20ApprovalFromMismatch,
                format!(
                    "the approval is from {}, the payer is {payer}",
                    address("from")
                ),
            ));
        }
        if address("asset") != token {
            return Err(SponsoringError::new(
                Reason::Erc20ApprovalAssetMismatch,
                format!(
                    "the approval is for {}, the payment moves {token}",
                    address("asset")
                ),
            ));
        }
        if address("spender") != PERMIT2 {
            return Err(SponsoringError::new(
                Reason::Erc20ApprovalSpenderNotPermit2,
                format!(
                    "the approval's spender is {}, not Permit2",
                    address("spender")
                ),
            ));
        }
        let raw: Bytes = text(info, "signedTransaction").parse().map_err(|_| {
            SponsoringError::new(
                Reason::Erc20ApprovalTxParseFailed,
                "the transaction is not hex",
            )
        })?;
        let tx = TxEnvelope::decode_2718(&mut raw.as_ref()).map_err(|err| {
            SponsoringError::new(
                Reason::Erc20ApprovalTxParseFailed,
                format!("the signed transaction does not decode: {err}"),
            )
        })?;
        if tx.to() != Some(token) {
            return Err(SponsoringError::new(
                Reason::Erc20ApprovalTxWrongTarget,
                format!("the transaction calls {:?}, not the token {token}", tx.to()),
            ));
        }
        let data = tx.input();
        if !data.starts_with(&IErc20::approveCall::SELECTOR) {
            return Err(SponsoringError::new(
                Reason::Erc20ApprovalTxWrongSelector,
                "the transaction does not call approve(address,uint256)",
            ));
        }
        let call = IErc20::approveCall::abi_decode(data).map_err(|_| {
            SponsoringError::new(
                Reason::Erc20ApprovalTxInvalidCalldata,
                "the approve() calldata does not decode",
            )
        })?;
        if call.spender != PERMIT2 {
            return Err(SponsoringError::new(
                Reason::Erc20ApprovalTxWrongSpender,
                format!("the transaction approves {}, not Permit2", call.spender),
            ));
        }
        let signer = tx.recover_signer().map_err(|_| {
            SponsoringError::new(
                Reason::Erc20ApprovalTxInvalidSignature,
                "the transaction's signer cannot be recovered",
            )
        })?;
        if signer != payer {
            return Err(SponsoringError::new(
                Reason::Erc20ApprovalTxSignerMismatch,
                format!("the transaction is signed by {signer}, not the payer {payer}"),
            ));
        }
        Ok(Erc20Approval {
            from: payer,
            asset: token,
            amount,
            gas_limit: tx.gas_limit(),
            max_fee_per_gas: tx.max_fee_per_gas(),
            nonce: tx.nonce(),
            signed_transaction: raw,
        })
    })())
}
