//! Network identifiers: CAIP-2 names, the v1 legacy names, and registration patterns.
//!
//! v2 messages name networks in [CAIP-2](https://chainagnostic.org/CAIPs/caip-2) form
//! (`eip155:8453`, `solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp`); v1 messages use short legacy names
//! (`base`, `solana-devnet`). [`Network`] holds a validated CAIP-2 identifier and converts to and from
//! the legacy names of the protocol's table. [`NetworkPattern`] matches networks for mechanism
//! registration (`eip155:*`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The CAIP-2 namespace of EVM chains.
pub const EIP155: &str = "eip155";
/// The CAIP-2 namespace of Solana clusters.
pub const SOLANA: &str = "solana";

/// Solana mainnet-beta.
pub const SOLANA_MAINNET: &str = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp";
/// Solana devnet.
pub const SOLANA_DEVNET: &str = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1";
/// Solana testnet.
pub const SOLANA_TESTNET: &str = "solana:4uhcVJyU9pJkvQyS88uRDiswHXSCkY3z";

/// The v1 legacy network names and their CAIP-2 equivalents (protocol reference §4.2).
pub const LEGACY_NETWORKS: &[(&str, &str)] = &[
    ("ethereum", "eip155:1"),
    ("sepolia", "eip155:11155111"),
    ("abstract", "eip155:2741"),
    ("abstract-testnet", "eip155:11124"),
    ("base-sepolia", "eip155:84532"),
    ("base", "eip155:8453"),
    ("avalanche-fuji", "eip155:43113"),
    ("avalanche", "eip155:43114"),
    ("iotex", "eip155:4689"),
    ("sei", "eip155:1329"),
    ("sei-testnet", "eip155:1328"),
    ("polygon", "eip155:137"),
    ("polygon-amoy", "eip155:80002"),
    ("peaq", "eip155:3338"),
    ("story", "eip155:1514"),
    ("educhain", "eip155:41923"),
    ("skale-base-sepolia", "eip155:324705682"),
    ("megaeth", "eip155:4326"),
    ("monad", "eip155:143"),
    ("stable", "eip155:988"),
    ("stable-testnet", "eip155:2201"),
    ("solana", SOLANA_MAINNET),
    ("solana-devnet", SOLANA_DEVNET),
    ("solana-testnet", SOLANA_TESTNET),
];

/// Why a network identifier or pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// The text has no `:` separating namespace and reference.
    #[error("network `{0}` is not CAIP-2 (expected `namespace:reference`)")]
    MissingSeparator(String),
    /// The namespace is not 3 to 8 characters of `[-a-z0-9]`.
    #[error("network `{0}` has an invalid CAIP-2 namespace (3-8 characters of a-z, 0-9, -)")]
    InvalidNamespace(String),
    /// The reference is not 1 to 32 characters of `[-_a-zA-Z0-9]`.
    #[error(
        "network `{0}` has an invalid CAIP-2 reference (1-32 characters of a-z, A-Z, 0-9, -, _)"
    )]
    InvalidReference(String),
    /// The name is not in the v1 legacy table.
    #[error("unknown v1 network name `{0}`")]
    UnknownLegacyName(String),
    /// The network has no v1 legacy name, so it cannot be used in a v1 message.
    #[error("network {0} has no v1 name")]
    NoLegacyName(String),
}

/// A validated CAIP-2 network identifier such as `eip155:8453`.
///
/// ```
/// use t402_core::Network;
/// let base: Network = "eip155:8453".parse()?;
/// assert_eq!(base.namespace(), "eip155");
/// assert_eq!(base.eip155_chain_id(), Some(8453));
/// assert_eq!(base.legacy_name(), Some("base"));
/// assert_eq!(Network::from_legacy_name("base")?, base);
/// # Ok::<(), t402_core::NetworkError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Network {
    text: String,
    colon: usize,
}

impl Network {
    /// Parses and validates a CAIP-2 identifier.
    pub fn parse(text: &str) -> Result<Self, NetworkError> {
        let colon = text
            .find(':')
            .ok_or_else(|| NetworkError::MissingSeparator(text.to_owned()))?;
        let (namespace, reference) = (&text[..colon], &text[colon + 1..]);
        if !valid_namespace(namespace) {
            return Err(NetworkError::InvalidNamespace(text.to_owned()));
        }
        let reference_ok = (1..=32).contains(&reference.len())
            && reference
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !reference_ok {
            return Err(NetworkError::InvalidReference(text.to_owned()));
        }
        Ok(Self {
            text: text.to_owned(),
            colon,
        })
    }

    /// The EVM network of a chain id (`eip155:<id>`).
    pub fn eip155(chain_id: u64) -> Self {
        let text = format!("{EIP155}:{chain_id}");
        Self {
            colon: EIP155.len(),
            text,
        }
    }

    /// The CAIP-2 network of a v1 legacy name (`base` → `eip155:8453`).
    pub fn from_legacy_name(name: &str) -> Result<Self, NetworkError> {
        LEGACY_NETWORKS
            .iter()
            .find(|(legacy, _)| *legacy == name)
            .map(|(_, caip2)| Self::parse(caip2).expect("legacy table holds valid CAIP-2"))
            .ok_or_else(|| NetworkError::UnknownLegacyName(name.to_owned()))
    }

    /// Parses either a CAIP-2 identifier or a v1 legacy name.
    pub fn parse_lenient(text: &str) -> Result<Self, NetworkError> {
        if text.contains(':') {
            Self::parse(text)
        } else {
            Self::from_legacy_name(text)
        }
    }

    /// The v1 legacy name of this network, when the table has one.
    pub fn legacy_name(&self) -> Option<&'static str> {
        LEGACY_NETWORKS
            .iter()
            .find(|(_, caip2)| *caip2 == self.text)
            .map(|(legacy, _)| *legacy)
    }

    /// The v1 legacy name, or [`NetworkError::NoLegacyName`].
    pub fn require_legacy_name(&self) -> Result<&'static str, NetworkError> {
        self.legacy_name()
            .ok_or_else(|| NetworkError::NoLegacyName(self.text.clone()))
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The namespace (`eip155`, `solana`, ...).
    pub fn namespace(&self) -> &str {
        &self.text[..self.colon]
    }

    /// The reference within the namespace (`8453`, a Solana genesis-hash prefix, ...).
    pub fn reference(&self) -> &str {
        &self.text[self.colon + 1..]
    }

    /// The EVM chain id, for `eip155` networks whose reference is a decimal number.
    pub fn eip155_chain_id(&self) -> Option<u64> {
        if self.namespace() != EIP155 {
            return None;
        }
        let reference = self.reference();
        if reference.starts_with('0') && reference.len() > 1 {
            return None;
        }
        reference.parse().ok()
    }

    /// Whether this is an EVM (`eip155`) network.
    pub fn is_evm(&self) -> bool {
        self.namespace() == EIP155
    }

    /// Whether this is a Solana network.
    pub fn is_solana(&self) -> bool {
        self.namespace() == SOLANA
    }
}

fn valid_namespace(namespace: &str) -> bool {
    (3..=8).contains(&namespace.len())
        && namespace
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Network({})", self.text)
    }
}

impl FromStr for Network {
    type Err = NetworkError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for Network {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A pattern over networks, used to register mechanisms: one network, a namespace (`eip155:*`) or
/// every network (`*`).
///
/// ```
/// use t402_core::{Network, NetworkPattern};
/// let evm: NetworkPattern = "eip155:*".parse()?;
/// assert!(evm.matches(&"eip155:8453".parse()?));
/// assert!(!evm.matches(&"solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1".parse()?));
/// # Ok::<(), t402_core::NetworkError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NetworkPattern {
    /// Every network.
    Any,
    /// Every network of one CAIP-2 namespace (`eip155:*`).
    Namespace(String),
    /// Exactly one network.
    Exact(Network),
}

impl NetworkPattern {
    /// Parses `*`, `namespace:*` or a CAIP-2 network.
    pub fn parse(text: &str) -> Result<Self, NetworkError> {
        if text == "*" {
            return Ok(Self::Any);
        }
        if let Some(namespace) = text.strip_suffix(":*") {
            if !valid_namespace(namespace) {
                return Err(NetworkError::InvalidNamespace(text.to_owned()));
            }
            return Ok(Self::Namespace(namespace.to_owned()));
        }
        Network::parse(text).map(Self::Exact)
    }

    /// The pattern of every network in `network`'s namespace.
    pub fn family_of(network: &Network) -> Self {
        Self::Namespace(network.namespace().to_owned())
    }

    /// Whether `network` matches.
    pub fn matches(&self, network: &Network) -> bool {
        match self {
            Self::Any => true,
            Self::Namespace(namespace) => network.namespace() == namespace,
            Self::Exact(exact) => exact == network,
        }
    }
}

impl fmt::Display for NetworkPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Namespace(namespace) => write!(f, "{namespace}:*"),
            Self::Exact(network) => write!(f, "{network}"),
        }
    }
}

impl fmt::Debug for NetworkPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetworkPattern({self})")
    }
}

impl FromStr for NetworkPattern {
    type Err = NetworkError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<Network> for NetworkPattern {
    fn from(network: Network) -> Self {
        Self::Exact(network)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_caip2() {
        let n = Network::parse("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1").unwrap();
        assert_eq!(n.namespace(), "solana");
        assert_eq!(n.reference(), "EtWTRABZaYq6iMfeYKouRu166VU2xqa1");
        assert_eq!(n.to_string(), SOLANA_DEVNET);
        assert!(n.is_solana());
        assert_eq!(n.eip155_chain_id(), None);
        assert_eq!(Network::eip155(84532).as_str(), "eip155:84532");
    }

    #[test]
    fn refuses_malformed_identifiers() {
        for bad in [
            "base",
            "eip155:",
            ":1",
            "EIP155:1",
            "ab:1",
            "toolongname:1",
            "eip155:1 ",
            "eip155:1/2",
        ] {
            assert!(Network::parse(bad).is_err(), "{bad} accepted");
        }
        let long = format!("eip155:{}", "1".repeat(33));
        assert!(matches!(
            Network::parse(&long),
            Err(NetworkError::InvalidReference(_))
        ));
        assert!(matches!(
            Network::parse("base"),
            Err(NetworkError::MissingSeparator(_))
        ));
    }

    #[test]
    fn chain_id_requires_canonical_decimal() {
        assert_eq!(Network::parse("eip155:01").unwrap().eip155_chain_id(), None);
        assert_eq!(
            Network::parse("eip155:abc").unwrap().eip155_chain_id(),
            None
        );
        assert_eq!(
            Network::parse("eip155:1").unwrap().eip155_chain_id(),
            Some(1)
        );
    }

    #[test]
    fn legacy_table_maps_both_ways() {
        for (legacy, caip2) in LEGACY_NETWORKS {
            let network = Network::from_legacy_name(legacy).unwrap();
            assert_eq!(network.as_str(), *caip2);
            assert_eq!(network.legacy_name(), Some(*legacy));
            assert_eq!(Network::parse_lenient(legacy).unwrap(), network);
        }
        assert_eq!(LEGACY_NETWORKS.len(), 24);
        assert_eq!(Network::eip155(31337).legacy_name(), None);
        assert!(matches!(
            Network::from_legacy_name("mars"),
            Err(NetworkError::UnknownLegacyName(_))
        ));
    }

    #[test]
    fn patterns_match() {
        let base = Network::eip155(8453);
        assert!(NetworkPattern::parse("*").unwrap().matches(&base));
        assert!(NetworkPattern::parse("eip155:*").unwrap().matches(&base));
        assert!(NetworkPattern::parse("eip155:8453").unwrap().matches(&base));
        assert!(!NetworkPattern::parse("eip155:1").unwrap().matches(&base));
        assert!(!NetworkPattern::parse("solana:*").unwrap().matches(&base));
        assert!(NetworkPattern::parse("EIP:*").is_err());
        assert_eq!(NetworkPattern::family_of(&base).to_string(), "eip155:*");
    }

    #[test]
    fn serde_validates() {
        let n: Network = serde_json::from_str("\"eip155:8453\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"eip155:8453\"");
        assert!(serde_json::from_str::<Network>("\"base\"").is_err());
    }
}
