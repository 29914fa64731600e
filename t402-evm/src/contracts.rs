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
        }
    }

    fn code(self) -> &'static Code {
        static CODES: [OnceLock<Code>; 4] = [const { OnceLock::new() }; 4];
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
        ] {
            assert!(contract.creation_code().len() > contract.runtime_code().len() / 2);
            assert!(!contract.runtime_code().is_empty(), "{contract:?}");
        }
    }
}
