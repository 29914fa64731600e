//! ABI bindings of the contracts the facilitator calls, and the compiled code of the contracts
//! written for tests and the devnet (`contracts/src`, artifacts in `contracts/artifacts`).

use std::sync::OnceLock;

use alloy_primitives::{Address, Bytes, address};

/// Where Multicall3 lives on public EVM chains (and where test chains install
/// [`TestContract::Multicall`]).
pub const MULTICALL3: Address = address!("0xcA11bde05977b3631167028862bE2a173976CA11");

/// ERC-1271's success value, the selector of `isValidSignature(bytes32,bytes)`.
pub const ERC1271_MAGIC: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];

alloy_sol_types::sol! {
    /// The EIP-3009 token functions the facilitator calls (FiatToken v2 and compatible tokens).
    #[derive(Debug)]
    interface IEip3009Token {
        /// The v/r/s overload, for 65-byte ECDSA signatures.
        function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external;
        /// The `bytes` overload, for contract-wallet signatures.
        function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, bytes signature) external;
        /// Whether `nonce` of `authorizer` was used or cancelled.
        function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);
        /// Token balance.
        function balanceOf(address account) external view returns (uint256);
        /// EIP-712 domain name.
        function name() external view returns (string);
        /// EIP-712 domain version.
        function version() external view returns (string);
        /// Token decimals.
        function decimals() external view returns (uint8);
    }

    /// The test token's extra entry points (see `contracts/src/T402TestToken.sol`).
    #[derive(Debug)]
    interface IT402TestToken {
        /// Creates `value` tokens for `to`; only the deployer may call it.
        function mint(address to, uint256 value) external;
        /// The constructor's arguments.
        constructor(string name, string version, string symbol, uint8 decimals);
    }

    /// The test wallet factory (ERC-6492 counterfactual wallets).
    #[derive(Debug)]
    interface IT402TestWalletFactory {
        /// Deploys the wallet of `owner` with `salt` by CREATE2.
        function deploy(address owner, bytes32 salt) external returns (address wallet);
        /// The address `deploy(owner, salt)` creates.
        function addressOf(address owner, bytes32 salt) external view returns (address);
    }

    /// The test wallet (ERC-1271).
    #[derive(Debug)]
    interface IT402TestWallet {
        /// The constructor's argument.
        constructor(address owner);
        /// Calls `target` with `data` from the wallet; owner only.
        function execute(address target, bytes data) external returns (bytes);
    }

    /// ERC-1271 signature validation of contract accounts.
    #[derive(Debug)]
    interface IErc1271 {
        /// Returns [`ERC1271_MAGIC`] when `signature` is valid for `hash`.
        function isValidSignature(bytes32 hash, bytes signature) external view returns (bytes4 magicValue);
    }

    /// Token and amount of a Permit2 transfer.
    #[derive(Debug, PartialEq, Eq)]
    struct TokenPermissions { address token; uint256 amount; }

    /// A Permit2 signature transfer: what, which nonce, until when.
    #[derive(Debug, PartialEq, Eq)]
    struct PermitTransferFrom { TokenPermissions permitted; uint256 nonce; uint256 deadline; }

    /// Where a Permit2 transfer goes and how much.
    #[derive(Debug, PartialEq, Eq)]
    struct SignatureTransferDetails { address to; uint256 requestedAmount; }

    /// An EIP-2612 permit, as the proxies' `settleWithPermit` takes it.
    #[derive(Debug, PartialEq, Eq)]
    struct EIP2612Permit { uint256 value; uint256 deadline; bytes32 r; bytes32 s; uint8 v; }

    /// The `exact` proxy's witness.
    #[derive(Debug, PartialEq, Eq)]
    struct ExactWitness { address to; uint256 validAfter; }

    /// The `upto` proxy's witness.
    #[derive(Debug, PartialEq, Eq)]
    struct UptoWitness { address to; address facilitator; uint256 validAfter; }

    /// The ERC-20 functions Permit2 payments use.
    #[derive(Debug)]
    interface IErc20 {
        /// Token balance.
        function balanceOf(address account) external view returns (uint256);
        /// What `spender` may move of `owner`'s tokens.
        function allowance(address owner, address spender) external view returns (uint256);
        /// Lets `spender` move `value` of the caller's tokens.
        function approve(address spender, uint256 value) external returns (bool);
        /// The next EIP-2612 nonce of `owner`.
        function nonces(address owner) external view returns (uint256);
        /// EIP-2612 permit.
        function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;
    }

    /// Permit2's signature transfers (the part x402 uses).
    #[derive(Debug)]
    interface IPermit2 {
        /// Transfers with a signature binding a witness.
        function permitWitnessTransferFrom(PermitTransferFrom permit, SignatureTransferDetails transferDetails, address owner, bytes32 witness, string witnessTypeString, bytes signature) external;
        /// Bitmap of used unordered nonces.
        function nonceBitmap(address owner, uint256 wordPos) external view returns (uint256);
        /// Marks the caller's nonces in `mask` of word `wordPos` used.
        function invalidateUnorderedNonces(uint256 wordPos, uint256 mask) external;
        /// The EIP-712 domain separator.
        function DOMAIN_SEPARATOR() external view returns (bytes32);
        /// The deadline has passed.
        error SignatureExpired(uint256 signatureDeadline);
        /// More requested than permitted.
        error InvalidAmount(uint256 maxAmount);
        /// The nonce was used.
        error InvalidNonce();
        /// The signature recovers to nobody.
        error InvalidSignature();
        /// The signature recovers to someone else.
        error InvalidSigner();
        /// Neither 64 nor 65 bytes.
        error InvalidSignatureLength();
        /// The owner's ERC-1271 check refused.
        error InvalidContractSignature();
    }

    /// The x402 `exact` Permit2 proxy.
    #[derive(Debug)]
    interface IExactPermit2Proxy {
        /// Transfers the permitted amount to the witness recipient.
        function settle(PermitTransferFrom permit, address owner, ExactWitness witness, bytes signature) external;
        /// Approves Permit2 by EIP-2612 first.
        function settleWithPermit(EIP2612Permit permit2612, PermitTransferFrom permit, address owner, ExactWitness witness, bytes signature) external;
        /// The Permit2 it calls.
        function PERMIT2() external view returns (address);
    }

    /// The x402 `upto` Permit2 proxy.
    #[derive(Debug)]
    interface IUptoPermit2Proxy {
        /// Transfers `amount` (at most the permitted one); only the witness facilitator may call.
        function settle(PermitTransferFrom permit, uint256 amount, address owner, UptoWitness witness, bytes signature) external;
        /// Approves Permit2 by EIP-2612 first.
        function settleWithPermit(EIP2612Permit permit2612, PermitTransferFrom permit, uint256 amount, address owner, UptoWitness witness, bytes signature) external;
        /// The Permit2 it calls.
        function PERMIT2() external view returns (address);
    }

    /// The proxies' errors.
    #[derive(Debug)]
    interface IPermit2ProxyErrors {
        /// Zero amount.
        error InvalidAmount();
        /// Zero owner.
        error InvalidOwner();
        /// Zero recipient.
        error InvalidDestination();
        /// Before `validAfter`.
        error PaymentTooEarly();
        /// The EIP-2612 value is not the permitted amount.
        error Permit2612AmountMismatch();
        /// Reentered.
        error ReentrancyGuardReentrantCall();
        /// Above the permitted amount (`upto`).
        error AmountExceedsPermitted();
        /// Not sent by the witness facilitator (`upto`).
        error UnauthorizedFacilitator();
    }

    /// The test permit token's extra entry points (see `contracts/src/T402PermitToken.sol`).
    #[derive(Debug)]
    interface IT402PermitToken {
        /// Creates `value` tokens for `to`; only the deployer may call it.
        function mint(address to, uint256 value) external;
        /// The constructor's arguments.
        constructor(string name, string version, string symbol, uint8 decimals);
    }

    /// Multicall3's `tryAggregate`.
    #[derive(Debug)]
    interface IMulticall3 {
        /// One call of a batch.
        struct Call { address target; bytes callData; }
        /// One call's outcome.
        struct Result { bool success; bytes returnData; }
        /// Runs the calls in order; with `requireSuccess` the first failure reverts the batch.
        function tryAggregate(bool requireSuccess, Call[] calls) external payable returns (Result[] returnData);
    }
}

/// The contracts of `contracts/src`, with their committed compiled code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TestContract {
    /// ERC-20 with EIP-3009, EIP-2612 and a configurable EIP-712 name and version.
    Token,
    /// A one-owner ERC-1271 wallet.
    Wallet,
    /// CREATE2 factory of [`TestContract::Wallet`].
    WalletFactory,
    /// Multicall3-compatible `tryAggregate`.
    Multicall,
    /// Permit2's signature transfers, installed at [`crate::permit2::PERMIT2`].
    Permit2,
    /// The x402 `exact` Permit2 proxy, installed at [`crate::permit2::EXACT_PERMIT2_PROXY`].
    ExactPermit2Proxy,
    /// The x402 `upto` Permit2 proxy, installed at [`crate::permit2::UPTO_PERMIT2_PROXY`].
    UptoPermit2Proxy,
    /// ERC-20 with EIP-2612 and no EIP-3009: paid only through Permit2.
    PermitToken,
}

struct Code {
    creation: Bytes,
    runtime: Bytes,
}

impl TestContract {
    fn artifact(self) -> &'static str {
        match self {
            Self::Token => include_str!("../contracts/artifacts/T402TestToken.json"),
            Self::Wallet => include_str!("../contracts/artifacts/T402TestWallet.json"),
            Self::WalletFactory => {
                include_str!("../contracts/artifacts/T402TestWalletFactory.json")
            }
            Self::Multicall => include_str!("../contracts/artifacts/T402Multicall.json"),
            Self::Permit2 => include_str!("../contracts/artifacts/T402Permit2.json"),
            Self::ExactPermit2Proxy => {
                include_str!("../contracts/artifacts/T402ExactPermit2Proxy.json")
            }
            Self::UptoPermit2Proxy => {
                include_str!("../contracts/artifacts/T402UptoPermit2Proxy.json")
            }
            Self::PermitToken => include_str!("../contracts/artifacts/T402PermitToken.json"),
        }
    }

    fn code(self) -> &'static Code {
        static CODES: [OnceLock<Code>; 8] = [const { OnceLock::new() }; 8];
        CODES[self as usize].get_or_init(|| {
            let artifact: serde_json::Value =
                serde_json::from_str(self.artifact()).expect("committed artifact is JSON");
            let field = |name: &str| -> Bytes {
                artifact[name]
                    .as_str()
                    .and_then(|hex| hex.parse().ok())
                    .expect("committed artifact carries hex code")
            };
            Code {
                creation: field("bytecode"),
                runtime: field("deployedBytecode"),
            }
        })
    }

    /// The creation code (constructor arguments are appended ABI-encoded).
    pub fn creation_code(self) -> Bytes {
        self.code().creation.clone()
    }

    /// The deployed (runtime) code.
    pub fn runtime_code(self) -> Bytes {
        self.code().runtime.clone()
    }

    /// The contracts a test chain installs at their canonical addresses (`anvil_setCode`, or
    /// [`Devnet`](crate::devnet::Devnet) at start): Multicall3, Permit2 and the two x402 proxies,
    /// so that clients and facilitators hard-coding those addresses work unchanged.
    pub fn canonical_installs() -> [(Address, Self); 4] {
        [
            (MULTICALL3, Self::Multicall),
            (crate::permit2::PERMIT2, Self::Permit2),
            (crate::permit2::EXACT_PERMIT2_PROXY, Self::ExactPermit2Proxy),
            (crate::permit2::UPTO_PERMIT2_PROXY, Self::UptoPermit2Proxy),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_artifact_carries_code() {
        for contract in [
            TestContract::Token,
            TestContract::Wallet,
            TestContract::WalletFactory,
            TestContract::Multicall,
            TestContract::Permit2,
            TestContract::ExactPermit2Proxy,
            TestContract::UptoPermit2Proxy,
            TestContract::PermitToken,
        ] {
            assert!(contract.creation_code().len() > contract.runtime_code().len() / 2);
            assert!(!contract.runtime_code().is_empty(), "{contract:?}");
        }
    }
}
