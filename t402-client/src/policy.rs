//! What the client may pay: networks, assets, a maximum per request in token units, payees,
//! a budget per time window, and a preference order.
//!
//! The default policy pays at most $0.10 per request in the USD stablecoins of the default asset
//! table and nothing else. Other tokens are allowed one by one with their own cap; unlimited
//! spending exists only through [`SpendPolicy::unlimited`].

use std::collections::HashSet;
use std::sync::Arc;

use t402_core::asset::{DEFAULT_ASSETS, default_asset};
use t402_core::{Amount, Money, Network, PaymentRequirements};

use crate::ledger::Budget;

/// The default cap per request on USD stablecoins.
pub const DEFAULT_MAX_USD_PER_REQUEST: &str = "0.10";

/// A token the client may pay with, and at most how much per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedAsset {
    /// The network.
    pub network: Network,
    /// The token (address or mint), compared without case for hex addresses.
    pub asset: String,
    /// The token's decimals.
    pub decimals: u8,
    /// The cap per request in atomic units (`None`: no cap for this token).
    pub max_atomic: Option<Amount>,
}

/// Why an offer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The offer's position in `accepts`.
    pub index: usize,
    /// Why.
    pub reason: String,
}

/// The spending rules of a client.
#[derive(Debug, Clone)]
pub struct SpendPolicy {
    networks: Option<HashSet<Network>>,
    max_usd: Option<Money>,
    usd_stablecoins: bool,
    assets: Vec<AllowedAsset>,
    payees_allowed: Option<HashSet<String>>,
    payees_denied: HashSet<String>,
    preference: Vec<Network>,
    budget: Option<Arc<Budget>>,
    unlimited: bool,
    max_timeout_seconds: u64,
}

/// The longest validity (`maxTimeoutSeconds`) the default policy signs: the reference servers
/// offer 60 to 300 seconds. A signed authorization can be settled until it expires, so a server
/// must not choose an unbounded one.
pub const DEFAULT_MAX_TIMEOUT_SECONDS: u64 = 600;

impl Default for SpendPolicy {
    fn default() -> Self {
        Self {
            networks: None,
            max_usd: Some(Money::parse(DEFAULT_MAX_USD_PER_REQUEST).expect("a valid amount")),
            usd_stablecoins: true,
            assets: Vec::new(),
            payees_allowed: None,
            payees_denied: HashSet::new(),
            preference: Vec::new(),
            budget: None,
            unlimited: false,
            max_timeout_seconds: DEFAULT_MAX_TIMEOUT_SECONDS,
        }
    }
}

fn lower_hex(text: &str) -> String {
    if text.starts_with("0x") {
        text.to_ascii_lowercase()
    } else {
        text.to_owned()
    }
}

impl SpendPolicy {
    /// The default: at most $0.10 per request, USD stablecoins of the default table only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pays anything any registered mechanism can pay, with no cap. Payee lists, networks and
    /// budgets still apply when set.
    pub fn unlimited() -> Self {
        Self {
            max_usd: None,
            unlimited: true,
            ..Self::default()
        }
    }

    /// Caps each payment in USD stablecoins (`"0.25"` or `"$0.25"`), converted with each coin's
    /// decimals.
    pub fn max_usd_per_request(mut self, amount: &str) -> Result<Self, t402_core::PriceError> {
        self.max_usd = Some(Money::parse(amount.trim_start_matches('$'))?);
        Ok(self)
    }

    /// Refuses the default USD stablecoins (only [`SpendPolicy::allow_asset`] tokens are paid).
    #[must_use]
    pub fn without_usd_stablecoins(mut self) -> Self {
        self.usd_stablecoins = false;
        self
    }

    /// Allows a token with its decimals and a cap per request in token units (`"0.10"`), or no
    /// cap with `None`.
    pub fn allow_asset(
        mut self,
        network: Network,
        asset: &str,
        decimals: u8,
        max_per_request: Option<&str>,
    ) -> Result<Self, t402_core::PriceError> {
        let max_atomic = match max_per_request {
            Some(units) => Some(Money::parse(units)?.to_atomic(decimals)?),
            None => None,
        };
        self.assets.push(AllowedAsset {
            network,
            asset: asset.to_owned(),
            decimals,
            max_atomic,
        });
        Ok(self)
    }

    /// Pays only on these networks.
    #[must_use]
    pub fn networks(mut self, networks: impl IntoIterator<Item = Network>) -> Self {
        self.networks = Some(networks.into_iter().collect());
        self
    }

    /// Pays only these payees.
    #[must_use]
    pub fn allow_payees<'a>(mut self, payees: impl IntoIterator<Item = &'a str>) -> Self {
        self.payees_allowed = Some(payees.into_iter().map(lower_hex).collect());
        self
    }

    /// Never pays these payees.
    #[must_use]
    pub fn deny_payees<'a>(mut self, payees: impl IntoIterator<Item = &'a str>) -> Self {
        self.payees_denied.extend(payees.into_iter().map(lower_hex));
        self
    }

    /// Prefers offers on these networks, in this order (others after, in the server's order).
    #[must_use]
    pub fn prefer(mut self, networks: impl IntoIterator<Item = Network>) -> Self {
        self.preference = networks.into_iter().collect();
        self
    }

    /// Limits the total spent in a time window (shared by every clone of the policy).
    #[must_use]
    pub fn budget(mut self, budget: Arc<Budget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The budget, if any.
    pub fn budget_ledger(&self) -> Option<&Arc<Budget>> {
        self.budget.as_ref()
    }

    /// The value of an offer in USD with 18 decimals, when it is a default USD stablecoin.
    pub(crate) fn usd_value(requirements: &PaymentRequirements) -> Option<(Amount, u8)> {
        let info = default_asset(&requirements.network)?;
        if !info.address.eq_ignore_ascii_case(&requirements.asset)
            && info.address != requirements.asset
        {
            return None;
        }
        Some((requirements.amount, info.decimals))
    }

    fn allowed_asset(&self, requirements: &PaymentRequirements) -> Option<&AllowedAsset> {
        self.assets.iter().find(|allowed| {
            allowed.network == requirements.network
                && lower_hex(&allowed.asset) == lower_hex(&requirements.asset)
        })
    }

    /// Refuses offers whose signed payment would stay valid longer than `seconds` (default
    /// [`DEFAULT_MAX_TIMEOUT_SECONDS`]).
    pub fn max_timeout_seconds(mut self, seconds: u64) -> Self {
        self.max_timeout_seconds = seconds;
        self
    }

    /// Checks one offer; `Err` says why it is refused.
    pub fn check(&self, requirements: &PaymentRequirements) -> Result<(), String> {
        if requirements.max_timeout_seconds > self.max_timeout_seconds {
            return Err(format!(
                "maxTimeoutSeconds {} is above the policy's {}",
                requirements.max_timeout_seconds, self.max_timeout_seconds
            ));
        }
        if let Some(networks) = &self.networks
            && !networks.contains(&requirements.network)
        {
            return Err(format!("network {} is not allowed", requirements.network));
        }
        let payee = lower_hex(&requirements.pay_to);
        if self.payees_denied.contains(&payee) {
            return Err(format!("payee {} is denied", requirements.pay_to));
        }
        if let Some(allowed) = &self.payees_allowed
            && !allowed.contains(&payee)
        {
            return Err(format!(
                "payee {} is not on the allow list",
                requirements.pay_to
            ));
        }
        if let Some(allowed) = self.allowed_asset(requirements) {
            return match allowed.max_atomic {
                Some(max) if requirements.amount.as_u256() > max.as_u256() => Err(format!(
                    "{} units of {} is above the cap of {}",
                    requirements.amount.format_units(allowed.decimals),
                    requirements.asset,
                    max.format_units(allowed.decimals)
                )),
                _ => Ok(()),
            };
        }
        if self.usd_stablecoins
            && let Some((amount, decimals)) = Self::usd_value(requirements)
        {
            if let Some(max) = &self.max_usd {
                let cap = max.to_atomic(decimals).map_err(|err| err.to_string())?;
                if amount.as_u256() > cap.as_u256() {
                    return Err(format!(
                        "${} is above the cap of ${} per request",
                        amount.format_units(decimals),
                        max
                    ));
                }
            }
            return Ok(());
        }
        if self.unlimited {
            return Ok(());
        }
        Err(format!(
            "asset {} on {} is not allowed (allow it with its decimals and a cap)",
            requirements.asset, requirements.network
        ))
    }

    /// The offers in the order the policy prefers them (stable within equal preference).
    pub(crate) fn order(&self, indices: &mut [usize], offers: &[PaymentRequirements]) {
        let rank = |network: &Network| {
            self.preference
                .iter()
                .position(|preferred| preferred == network)
                .unwrap_or(self.preference.len())
        };
        indices.sort_by_key(|&i| rank(&offers[i].network));
    }

    /// The decimals of an offer's asset when the policy or the default table knows them.
    pub fn decimals_of(&self, requirements: &PaymentRequirements) -> Option<u8> {
        self.allowed_asset(requirements)
            .map(|allowed| allowed.decimals)
            .or_else(|| Self::usd_value(requirements).map(|(_, decimals)| decimals))
    }
}

/// Every USD stablecoin of the default table, for documentation and tests.
pub fn default_usd_stablecoins() -> impl Iterator<Item = (&'static str, &'static str, u8)> {
    DEFAULT_ASSETS
        .iter()
        .map(|asset| (asset.network, asset.address, asset.decimals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn offer(network: &str, asset: &str, amount: &str, pay_to: &str) -> PaymentRequirements {
        serde_json::from_value(json!({
            "scheme": "exact", "network": network, "amount": amount, "asset": asset,
            "payTo": pay_to, "maxTimeoutSeconds": 60,
        }))
        .unwrap()
    }

    const BASE_USDC: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
    const PAYEE: &str = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C";

    #[test]
    fn the_default_caps_usd_stablecoins_at_ten_cents() {
        let policy = SpendPolicy::new();
        assert!(
            policy
                .check(&offer("eip155:8453", BASE_USDC, "100000", PAYEE))
                .is_ok()
        );
        let err = policy
            .check(&offer("eip155:8453", BASE_USDC, "100001", PAYEE))
            .unwrap_err();
        assert!(err.contains("$0.100001"), "{err}");
        let unknown = offer(
            "eip155:8453",
            "0x0000000000000000000000000000000000000001",
            "1",
            PAYEE,
        );
        assert!(policy.check(&unknown).unwrap_err().contains("not allowed"));
        assert!(SpendPolicy::unlimited().check(&unknown).is_ok());
    }

    #[test]
    fn caps_respect_each_assets_decimals() {
        let dai_like = "0x00000000000000000000000000000000000000da";
        let six = "0x0000000000000000000000000000000000000006";
        let policy = SpendPolicy::new()
            .allow_asset(Network::eip155(8453), dai_like, 18, Some("0.10"))
            .unwrap()
            .allow_asset(Network::eip155(8453), six, 6, Some("0.10"))
            .unwrap();
        // 0.10 with 18 decimals is 10^17 atomic units; with 6 decimals, 100000.
        assert!(
            policy
                .check(&offer("eip155:8453", dai_like, "100000000000000000", PAYEE))
                .is_ok()
        );
        assert!(
            policy
                .check(&offer("eip155:8453", dai_like, "100000000000000001", PAYEE))
                .is_err()
        );
        assert!(
            policy
                .check(&offer("eip155:8453", six, "100000", PAYEE))
                .is_ok()
        );
        assert!(
            policy
                .check(&offer("eip155:8453", six, "100001", PAYEE))
                .is_err()
        );
        // The same atomic amount is a different value under other decimals.
        assert!(
            policy
                .check(&offer("eip155:8453", six, "100000000000000000", PAYEE))
                .is_err()
        );
        let usd = SpendPolicy::new().max_usd_per_request("$0.25").unwrap();
        assert!(
            usd.check(&offer("eip155:8453", BASE_USDC, "250000", PAYEE))
                .is_ok()
        );
        assert!(
            usd.check(&offer("eip155:8453", BASE_USDC, "250001", PAYEE))
                .is_err()
        );
    }

    #[test]
    fn payees_networks_and_preference() {
        let denied = SpendPolicy::new().deny_payees([PAYEE.to_lowercase().as_str()]);
        assert!(
            denied
                .check(&offer("eip155:8453", BASE_USDC, "1", PAYEE))
                .unwrap_err()
                .contains("denied")
        );
        let allow = SpendPolicy::new().allow_payees(["0x0000000000000000000000000000000000000009"]);
        assert!(
            allow
                .check(&offer("eip155:8453", BASE_USDC, "1", PAYEE))
                .is_err()
        );
        let networks = SpendPolicy::new().networks([Network::eip155(84532)]);
        assert!(
            networks
                .check(&offer("eip155:8453", BASE_USDC, "1", PAYEE))
                .is_err()
        );

        let offers = vec![
            offer("eip155:8453", BASE_USDC, "1", PAYEE),
            offer("eip155:84532", BASE_USDC, "1", PAYEE),
            offer("eip155:137", BASE_USDC, "1", PAYEE),
        ];
        let mut order = vec![0, 1, 2];
        SpendPolicy::new()
            .prefer([Network::eip155(137), Network::eip155(84532)])
            .order(&mut order, &offers);
        assert_eq!(order, vec![2, 1, 0]);
    }
}
