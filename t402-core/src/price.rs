//! Prices as a server states them, and their exact conversion to atomic units.
//!
//! A route's price is either money (`"$0.01"`, `"0.01"`, a whole number of dollars) converted with
//! an asset's decimals, or an explicit [`AssetAmount`] in atomic units. Conversion is exact decimal
//! arithmetic on the digits: fractional digits beyond the asset's decimals are truncated (not
//! rounded), and a non-zero price that truncates to zero is refused as too small.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::amount::{Amount, AmountError};

/// Why a price was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PriceError {
    /// The text is empty (or only `$`).
    #[error("price is empty")]
    Empty,
    /// The text is not a plain decimal number (signs, exponents, separators and spaces are refused).
    #[error("price `{0}` is not a decimal number such as `$0.01` or `0.01`")]
    Malformed(String),
    /// The price is not zero but is below one atomic unit of the asset.
    #[error("price `{price}` is below one atomic unit of an asset with {decimals} decimals")]
    TooSmall {
        /// The price as given.
        price: String,
        /// The asset's decimals.
        decimals: u8,
    },
    /// The converted amount does not fit in 256 bits.
    #[error("price `{0}` is too large")]
    Overflow(String),
    /// An explicit atomic amount was refused.
    #[error(transparent)]
    Amount(#[from] AmountError),
    /// No asset is configured for the network, so money cannot be converted.
    #[error("no default asset configured for network {0}")]
    NoDefaultAsset(String),
}

/// A non-negative decimal amount of money (US dollars for the default stablecoin table), held as
/// its digits: never a float.
///
/// ```
/// use t402_core::Money;
/// let price: Money = "$0.01".parse()?;
/// assert_eq!(price.to_atomic(6)?.to_string(), "10000");
/// assert_eq!("1.2345678".parse::<Money>()?.to_atomic(6)?.to_string(), "1234567"); // truncated
/// assert!("0.0000001".parse::<Money>()?.to_atomic(6).is_err()); // too small
/// # Ok::<(), t402_core::PriceError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Money {
    /// Integer digits, no leading zeros (empty for zero).
    whole: String,
    /// Fractional digits, trailing zeros trimmed.
    fraction: String,
}

impl Money {
    /// Parses `"$0.01"`, `"0.01"`, `"1"`, `"1."` or `".5"`.
    pub fn parse(text: &str) -> Result<Self, PriceError> {
        let body = text.strip_prefix('$').unwrap_or(text);
        if body.is_empty() {
            return Err(PriceError::Empty);
        }
        let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !digits_only(whole)
            || !digits_only(fraction)
            || (whole.is_empty() && fraction.is_empty())
        {
            return Err(PriceError::Malformed(text.to_owned()));
        }
        Ok(Self {
            whole: whole.trim_start_matches('0').to_owned(),
            fraction: fraction.trim_end_matches('0').to_owned(),
        })
    }

    /// A whole number of units (dollars).
    pub fn whole_units(units: u64) -> Self {
        Self {
            whole: if units == 0 {
                String::new()
            } else {
                units.to_string()
            },
            fraction: String::new(),
        }
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.whole.is_empty() && self.fraction.is_empty()
    }

    /// Converts to atomic units of an asset with `decimals` decimals, truncating extra fractional
    /// digits. A zero price gives zero; a non-zero price below one atomic unit is
    /// [`PriceError::TooSmall`].
    pub fn to_atomic(&self, decimals: u8) -> Result<Amount, PriceError> {
        let decimals_len = usize::from(decimals);
        let mut digits = self.whole.clone();
        let kept = &self.fraction[..self.fraction.len().min(decimals_len)];
        digits.push_str(kept);
        digits.extend(std::iter::repeat_n('0', decimals_len - kept.len()));
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            if self.is_zero() {
                return Ok(Amount::ZERO);
            }
            return Err(PriceError::TooSmall {
                price: self.to_string(),
                decimals,
            });
        }
        Amount::parse(digits).map_err(|_| PriceError::Overflow(self.to_string()))
    }
}

/// Reads the amount of a `Settlement-Overrides` value the way the reference does: `"1000"`
/// (atomic units), `"50%"` (of `ceiling`, at most two decimals, rounded down) or `"$0.05"`
/// (money in an asset with `decimals` decimals, rounded to the nearest unit).
///
/// ```
/// use t402_core::{Amount, price::settlement_amount};
/// let ceiling = Amount::from(1_000_000u64);
/// assert_eq!(settlement_amount("1000", &ceiling, 6)?, Amount::from(1_000u64));
/// assert_eq!(settlement_amount("12.5%", &ceiling, 6)?, Amount::from(125_000u64));
/// assert_eq!(settlement_amount("$0.0000005", &ceiling, 6)?, Amount::from(1u64));
/// # Ok::<(), t402_core::PriceError>(())
/// ```
pub fn settlement_amount(text: &str, ceiling: &Amount, decimals: u8) -> Result<Amount, PriceError> {
    use ruint::aliases::U256;
    let malformed = || PriceError::Malformed(text.to_owned());
    if let Some(percent) = text.strip_suffix('%') {
        let (whole, fraction) = percent.split_once('.').unwrap_or((percent, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 2 {
            return Err(malformed());
        }
        let hundredths: U256 = format!("{whole}{fraction:0<2}")
            .parse()
            .map_err(|_| malformed())?;
        let amount = ceiling
            .as_u256()
            .checked_mul(hundredths)
            .ok_or_else(|| PriceError::Overflow(text.to_owned()))?
            / U256::from(10_000u64);
        return Ok(Amount::from(amount));
    }
    if text.starts_with('$') {
        let money = Money::parse(text)?;
        // One more digit than the asset has, to round to the nearest unit.
        let finer = match money.to_atomic(decimals.saturating_add(1)) {
            Ok(amount) => amount.as_u256(),
            Err(PriceError::TooSmall { .. }) => U256::ZERO,
            Err(err) => return Err(err),
        };
        let rounded = (finer + U256::from(5u8)) / U256::from(10u8);
        return Ok(Amount::from(rounded));
    }
    Ok(Amount::parse(text)?)
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = if self.whole.is_empty() {
            "0"
        } else {
            &self.whole
        };
        if self.fraction.is_empty() {
            write!(f, "{whole}")
        } else {
            write!(f, "{whole}.{}", self.fraction)
        }
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

impl FromStr for Money {
    type Err = PriceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// An explicit amount of a named asset in atomic units, with optional scheme `extra` (for EVM, the
/// token's EIP-712 `name` and `version`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AssetAmount {
    /// Token contract address (EVM) or mint (Solana).
    pub asset: String,
    /// Amount in atomic units.
    pub amount: Amount,
    /// Scheme-specific data copied into the requirements' `extra`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Map<String, Value>>,
}

impl AssetAmount {
    /// An amount of `asset` with no `extra`.
    pub fn new(asset: impl Into<String>, amount: Amount) -> Self {
        Self {
            asset: asset.into(),
            amount,
            extra: None,
        }
    }

    /// Sets the `extra` object.
    #[must_use]
    pub fn with_extra(mut self, extra: Map<String, Value>) -> Self {
        self.extra = Some(extra);
        self
    }
}

/// A route's price: money converted with a default or configured asset, or an explicit asset
/// amount.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Price {
    /// Money such as `$0.01`.
    Money(Money),
    /// An explicit amount of an asset.
    Asset(AssetAmount),
}

impl Price {
    /// Parses money text (`"$0.01"`, `"0.01"`).
    pub fn money(text: &str) -> Result<Self, PriceError> {
        Money::parse(text).map(Self::Money)
    }

    /// An explicit amount of an asset.
    pub fn asset(asset: impl Into<String>, amount: Amount) -> Self {
        Self::Asset(AssetAmount::new(asset, amount))
    }
}

impl From<Money> for Price {
    fn from(money: Money) -> Self {
        Self::Money(money)
    }
}

impl From<AssetAmount> for Price {
    fn from(amount: AssetAmount) -> Self {
        Self::Asset(amount)
    }
}

impl FromStr for Price {
    type Err = PriceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::money(s)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn settlement_overrides_read_as_the_reference_reads_them() {
        let ceiling = Amount::from(1_000_000u64);
        for (text, expected) in [
            ("0", 0u64),
            ("1000", 1_000),
            ("50%", 500_000),
            ("0.01%", 100),
            ("100%", 1_000_000),
            ("33.33%", 333_300),
            ("$0.05", 50_000),
            ("$0.0000004", 0),
            ("$0.0000005", 1),
            ("$1", 1_000_000),
        ] {
            assert_eq!(
                settlement_amount(text, &ceiling, 6).unwrap(),
                Amount::from(expected),
                "{text}"
            );
        }
        // A percentage of a ceiling of 3 rounds down.
        assert_eq!(
            settlement_amount("50%", &Amount::from(3u64), 6).unwrap(),
            Amount::from(1u64)
        );
        for bad in ["50.123%", "%", "-1", "1e3", "abc%", "$", "$-1", "1.5", " 5"] {
            assert!(settlement_amount(bad, &ceiling, 6).is_err(), "{bad}");
        }
    }

    use super::*;

    fn atomic(text: &str, decimals: u8) -> Result<String, PriceError> {
        Money::parse(text)?
            .to_atomic(decimals)
            .map(|a| a.to_string())
    }

    #[test]
    fn converts_exactly() {
        assert_eq!(atomic("$0.01", 6).unwrap(), "10000");
        assert_eq!(atomic("0.01", 6).unwrap(), "10000");
        assert_eq!(atomic("1", 6).unwrap(), "1000000");
        assert_eq!(atomic("$1.", 6).unwrap(), "1000000");
        assert_eq!(atomic(".5", 6).unwrap(), "500000");
        assert_eq!(atomic("0.1", 18).unwrap(), "100000000000000000");
        assert_eq!(atomic("0.000001", 6).unwrap(), "1");
        assert_eq!(atomic("007.10", 2).unwrap(), "710");
        assert_eq!(atomic("3", 0).unwrap(), "3");
        // 0.1 + 0.2 style float traps cannot happen: digits are digits.
        assert_eq!(atomic("0.3", 6).unwrap(), "300000");
        assert_eq!(atomic("$1234567890.123456", 6).unwrap(), "1234567890123456");
    }

    #[test]
    fn truncates_and_refuses_too_small() {
        assert_eq!(atomic("1.2345679", 6).unwrap(), "1234567");
        assert_eq!(atomic("0.0000019", 6).unwrap(), "1");
        assert!(matches!(
            atomic("0.0000001", 6),
            Err(PriceError::TooSmall { decimals: 6, .. })
        ));
        assert!(matches!(
            atomic("$0.001", 2),
            Err(PriceError::TooSmall { .. })
        ));
        assert_eq!(atomic("0.000", 6).unwrap(), "0");
        assert_eq!(atomic("$0", 6).unwrap(), "0");
    }

    #[test]
    fn refuses_malformed_money() {
        for bad in [
            "-1", "+1", "1e-2", "1E2", "1,000", " 1", "1 ", "$$1", "1.2.3", ".", "$.", "abc",
            "0x10", "NaN", "Infinity", "１",
        ] {
            assert!(
                matches!(Money::parse(bad), Err(PriceError::Malformed(_))),
                "{bad:?} accepted"
            );
        }
        assert!(matches!(Money::parse(""), Err(PriceError::Empty)));
        assert!(matches!(Money::parse("$"), Err(PriceError::Empty)));
    }

    #[test]
    fn overflow_is_an_error() {
        let huge = "9".repeat(80);
        assert!(matches!(atomic(&huge, 6), Err(PriceError::Overflow(_))));
    }

    #[test]
    fn display_is_normalised() {
        assert_eq!(Money::parse("$007.500").unwrap().to_string(), "7.5");
        assert_eq!(Money::whole_units(3).to_string(), "3");
        assert_eq!(Money::whole_units(0).to_string(), "0");
        assert!(Money::whole_units(0).is_zero());
    }
}
