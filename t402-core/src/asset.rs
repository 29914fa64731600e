//! The default stablecoin table: which asset a `"$0.01"` price is paid in on each network.
//!
//! The data is the protocol's default table (reference §4.3), identical in the reference SDKs, plus
//! the legacy v1 USDC table. Look-ups are by network; servers may configure other assets
//! explicitly with [`AssetAmount`].

use serde_json::{Map, Value};

use crate::network::Network;
use crate::price::{AssetAmount, Money, PriceError};

/// How a token is moved by the `exact` scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransferMethod {
    /// EIP-3009 `transferWithAuthorization`.
    Eip3009,
    /// Permit2 through the x402 proxy; `eip2612` says whether the token also supports EIP-2612
    /// `permit` (used for gasless Permit2 approval).
    Permit2 {
        /// The token implements EIP-2612.
        eip2612: bool,
    },
    /// SPL `TransferChecked` (Token or Token-2022).
    SplTransferChecked,
}

/// One entry of the default asset table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssetInfo {
    /// CAIP-2 network.
    pub network: &'static str,
    /// Human name of the chain.
    pub chain: &'static str,
    /// Token address (EVM, checksummed) or mint (Solana).
    pub address: &'static str,
    /// EIP-712 domain `name` (EVM only).
    pub eip712_name: Option<&'static str>,
    /// EIP-712 domain `version` (EVM only).
    pub eip712_version: Option<&'static str>,
    /// Decimals of the token.
    pub decimals: u8,
    /// How the `exact` scheme moves it.
    pub transfer: TransferMethod,
}

const fn evm(
    network: &'static str,
    chain: &'static str,
    address: &'static str,
    name: &'static str,
    version: &'static str,
    decimals: u8,
    transfer: TransferMethod,
) -> AssetInfo {
    AssetInfo {
        network,
        chain,
        address,
        eip712_name: Some(name),
        eip712_version: Some(version),
        decimals,
        transfer,
    }
}

const fn svm(network: &'static str, chain: &'static str, mint: &'static str) -> AssetInfo {
    AssetInfo {
        network,
        chain,
        address: mint,
        eip712_name: None,
        eip712_version: None,
        decimals: 6,
        transfer: TransferMethod::SplTransferChecked,
    }
}

const EIP3009: TransferMethod = TransferMethod::Eip3009;
const PERMIT2_2612: TransferMethod = TransferMethod::Permit2 { eip2612: true };

/// The v2 default stablecoin table (reference §4.3).
pub const DEFAULT_ASSETS: &[AssetInfo] = &[
    evm(
        "eip155:8453",
        "Base",
        "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        "USD Coin",
        "2",
        6,
        EIP3009,
    ),
    evm(
        "eip155:84532",
        "Base Sepolia",
        "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        "USDC",
        "2",
        6,
        EIP3009,
    ),
    evm(
        "eip155:137",
        "Polygon",
        "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359",
        "USD Coin",
        "2",
        6,
        EIP3009,
    ),
    evm(
        "eip155:42161",
        "Arbitrum One",
        "0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
        "USD Coin",
        "2",
        6,
        EIP3009,
    ),
    evm(
        "eip155:421614",
        "Arbitrum Sepolia",
        "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d",
        "USD Coin",
        "2",
        6,
        EIP3009,
    ),
    evm(
        "eip155:143",
        "Monad",
        "0x754704Bc059F8C67012fEd69BC8A327a5aafb603",
        "USD Coin",
        "2",
        6,
        EIP3009,
    ),
    evm(
        "eip155:988",
        "Stable",
        "0x779Ded0c9e1022225f8E0630b35a9b54bE713736",
        "USDT0",
        "1",
        6,
        EIP3009,
    ),
    evm(
        "eip155:2201",
        "Stable Testnet",
        "0x78Cf24370174180738C5B8E352B6D14c83a6c9A9",
        "USDT0",
        "1",
        6,
        EIP3009,
    ),
    evm(
        "eip155:4326",
        "MegaETH",
        "0xFAfDdbb3FC7688494971a79cc65DCa3EF82079E7",
        "MegaUSD",
        "1",
        18,
        PERMIT2_2612,
    ),
    evm(
        "eip155:31611",
        "Mezo Testnet",
        "0x118917a40FAF1CD7a13dB0Ef56C86De7973Ac503",
        "Mezo USD",
        "1",
        18,
        PERMIT2_2612,
    ),
    svm(
        crate::network::SOLANA_MAINNET,
        "Solana",
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
    ),
    svm(
        crate::network::SOLANA_DEVNET,
        "Solana Devnet",
        "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU",
    ),
    svm(
        crate::network::SOLANA_TESTNET,
        "Solana Testnet",
        "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU",
    ),
];

/// The legacy v1 USDC table: `(chain id, address, EIP-712 name)`; the EIP-712 version is `"2"`.
pub const LEGACY_V1_USDC: &[(u64, &str, &str)] = &[
    (84532, "0x036CbD53842c5426634e7929541eC2318f3dCF7e", "USDC"),
    (
        8453,
        "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        "USD Coin",
    ),
    (
        43113,
        "0x5425890298aed601595a70AB815c96711a31Bc65",
        "USD Coin",
    ),
    (
        43114,
        "0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E",
        "USD Coin",
    ),
    (
        4689,
        "0xcdf79194c6c285077a58da47641d4dbe51f63542",
        "Bridged USDC",
    ),
    (1328, "0x4fcf1784b31630811181f670aea7a7bef803eaed", "USDC"),
    (1329, "0xe15fc38f6d8c56af07bbcbe3baf5708a2bf42392", "USDC"),
    (
        137,
        "0x3c499c542cef5e3811e1192ce70d8cc03d5c3359",
        "USD Coin",
    ),
    (80002, "0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582", "USDC"),
    (3338, "0xbbA60da06c2c5424f03f7434542280FCAd453d10", "USDC"),
    (
        2741,
        "0x84a71ccd554cc1b02749b35d22f684cc8ec987e1",
        "Bridged USDC",
    ),
    (
        11124,
        "0xe4C7fBB0a626ed208021ccabA6Be1566905E2dFc",
        "Bridged USDC",
    ),
    (
        1514,
        "0xF1815bd50389c46847f0Bda824eC8da914045D14",
        "Bridged USDC",
    ),
    (
        41923,
        "0x12a272A581feE5577A5dFa371afEB4b2F3a8C2F8",
        "Bridged USDC (Stargate)",
    ),
    (
        324705682,
        "0x2e08028E3C4c2356572E096d8EF835cD5C6030bD",
        "Bridged USDC (SKALE Bridge)",
    ),
];

/// The default asset of `network`, if the table has one.
pub fn default_asset(network: &Network) -> Option<&'static AssetInfo> {
    DEFAULT_ASSETS
        .iter()
        .find(|a| a.network == network.as_str())
}

/// The decimals of `asset` on `network` when it is the network's default asset.
pub fn known_decimals(network: &Network, asset: &str) -> Option<u8> {
    default_asset(network)
        .filter(|a| a.address.eq_ignore_ascii_case(asset))
        .map(|a| a.decimals)
}

impl AssetInfo {
    /// The requirements' `extra` the reference SDKs emit for this asset: `name`/`version` for
    /// EIP-3009 tokens, plus `assetTransferMethod: "permit2"` for Permit2 tokens, and an empty
    /// object for Solana mints.
    pub fn requirements_extra(&self) -> Map<String, Value> {
        let mut extra = Map::new();
        let with_domain = matches!(
            self.transfer,
            TransferMethod::Eip3009 | TransferMethod::Permit2 { eip2612: true }
        );
        if let (true, Some(name), Some(version)) =
            (with_domain, self.eip712_name, self.eip712_version)
        {
            extra.insert("name".into(), Value::from(name));
            extra.insert("version".into(), Value::from(version));
        }
        if matches!(self.transfer, TransferMethod::Permit2 { .. }) {
            extra.insert("assetTransferMethod".into(), Value::from("permit2"));
        }
        extra
    }

    /// Converts money into an amount of this asset.
    pub fn amount_of(&self, money: &Money) -> Result<AssetAmount, PriceError> {
        Ok(
            AssetAmount::new(self.address, money.to_atomic(self.decimals)?)
                .with_extra(self.requirements_extra()),
        )
    }
}

/// Converts money into an amount of `network`'s default asset.
///
/// ```
/// use t402_core::{asset::default_asset_amount, Money, Network};
/// let amount = default_asset_amount(&"$0.01".parse::<Money>()?, &Network::eip155(8453))?;
/// assert_eq!(amount.asset, "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913");
/// assert_eq!(amount.amount.to_string(), "10000");
/// # Ok::<(), t402_core::PriceError>(())
/// ```
pub fn default_asset_amount(money: &Money, network: &Network) -> Result<AssetAmount, PriceError> {
    default_asset(network)
        .ok_or_else(|| PriceError::NoDefaultAsset(network.to_string()))?
        .amount_of(money)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_well_formed() {
        assert_eq!(DEFAULT_ASSETS.len(), 13);
        for asset in DEFAULT_ASSETS {
            let network = Network::parse(asset.network).unwrap();
            assert_eq!(default_asset(&network), Some(asset));
            if network.is_evm() {
                assert!(asset.address.starts_with("0x") && asset.address.len() == 42);
                assert!(asset.eip712_name.is_some() && asset.eip712_version.is_some());
            } else {
                assert!(network.is_solana());
                assert_eq!(asset.transfer, TransferMethod::SplTransferChecked);
            }
        }
    }

    #[test]
    fn extra_matches_reference_rules() {
        let base = default_asset(&Network::eip155(84532)).unwrap();
        assert_eq!(
            Value::Object(base.requirements_extra()),
            serde_json::json!({"name": "USDC", "version": "2"})
        );
        let mega = default_asset(&Network::eip155(4326)).unwrap();
        assert_eq!(mega.decimals, 18);
        assert_eq!(
            Value::Object(mega.requirements_extra()),
            serde_json::json!({"name": "MegaUSD", "version": "1", "assetTransferMethod": "permit2"})
        );
        let sol = default_asset(&Network::parse(crate::network::SOLANA_DEVNET).unwrap()).unwrap();
        assert!(sol.requirements_extra().is_empty());
    }

    #[test]
    fn converts_with_table_decimals() {
        let money = Money::parse("$0.01").unwrap();
        let mega = default_asset_amount(&money, &Network::eip155(4326)).unwrap();
        assert_eq!(mega.amount.to_string(), "10000000000000000");
        let missing = default_asset_amount(&money, &Network::eip155(31337));
        assert!(matches!(missing, Err(PriceError::NoDefaultAsset(_))));
        assert_eq!(
            known_decimals(
                &Network::eip155(8453),
                "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"
            ),
            Some(6)
        );
    }
}
