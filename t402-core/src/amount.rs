//! Token amounts in atomic units.
//!
//! On the wire an amount is a decimal string of atomic units (`"10000"` is 0.01 of a 6-decimal
//! token). [`Amount`] holds it as an exact unsigned 256-bit integer: there is no floating point
//! anywhere in money paths.

use std::fmt;
use std::str::FromStr;

use ruint::aliases::U256;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a decimal amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountError {
    /// The text is empty.
    #[error("amount is empty")]
    Empty,
    /// A character other than `0`-`9` (a sign, a decimal point, an exponent, a space, ...).
    #[error("amount `{0}` must be a decimal integer of atomic units (digits only)")]
    NotDigits(String),
    /// A leading zero in a number other than `0`.
    #[error("amount `{0}` has a leading zero")]
    LeadingZero(String),
    /// The value does not fit in 256 bits.
    #[error("amount `{0}` exceeds 2^256-1")]
    Overflow(String),
}

/// An amount of a token in atomic units, `0 ..= 2^256-1`.
///
/// Parsing accepts only the canonical decimal form: digits, no sign, no decimal point, no
/// exponent, no whitespace, no leading zero (except `"0"` itself).
///
/// ```
/// use t402_core::Amount;
/// let a: Amount = "10000".parse()?;
/// assert_eq!(a.to_string(), "10000");
/// assert_eq!(a.format_units(6), "0.01");
/// assert!("1e4".parse::<Amount>().is_err());
/// # Ok::<(), t402_core::AmountError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(U256);

impl Amount {
    /// Zero.
    pub const ZERO: Self = Self(U256::ZERO);
    /// The largest amount, 2^256-1.
    pub const MAX: Self = Self(U256::MAX);

    /// Parses a canonical decimal integer.
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotDigits(text.to_owned()));
        }
        if text.len() > 1 && text.starts_with('0') {
            return Err(AmountError::LeadingZero(text.to_owned()));
        }
        U256::from_str_radix(text, 10)
            .map(Self)
            .map_err(|_| AmountError::Overflow(text.to_owned()))
    }

    /// The amount as a 256-bit integer.
    pub const fn as_u256(&self) -> U256 {
        self.0
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// `self - other`, or `None` when `other > self`.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }

    /// The amount as a `u128`, when it fits.
    pub fn to_u128(&self) -> Option<u128> {
        u128::try_from(self.0).ok()
    }

    /// Formats the amount in whole-token units with `decimals` fractional digits, trailing zeros
    /// trimmed: `10000` with 6 decimals is `"0.01"`, `1000000` is `"1"`.
    pub fn format_units(&self, decimals: u8) -> String {
        let digits = self.0.to_string();
        let decimals = usize::from(decimals);
        if decimals == 0 {
            return digits;
        }
        let padded = if digits.len() <= decimals {
            format!("{}{digits}", "0".repeat(decimals - digits.len() + 1))
        } else {
            digits
        };
        let (whole, fraction) = padded.split_at(padded.len() - decimals);
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            whole.to_owned()
        } else {
            format!("{whole}.{fraction}")
        }
    }
}

impl From<u64> for Amount {
    fn from(value: u64) -> Self {
        Self(U256::from(value))
    }
}

impl From<u128> for Amount {
    fn from(value: u128) -> Self {
        Self(U256::from(value))
    }
}

impl From<U256> for Amount {
    fn from(value: U256) -> Self {
        Self(value)
    }
}

impl From<Amount> for U256 {
    fn from(value: Amount) -> Self {
        value.0
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.0)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal string of atomic units")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Amount, E> {
                Amount::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_full_range() {
        assert_eq!(Amount::parse("0").unwrap(), Amount::ZERO);
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(Amount::parse(max).unwrap(), Amount::MAX);
        assert_eq!(Amount::MAX.to_string(), max);
    }

    #[test]
    fn refuses_non_canonical_text() {
        use AmountError::*;
        type Check = fn(&AmountError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, Empty)),
            ("-1", |e| matches!(e, NotDigits(_))),
            ("+1", |e| matches!(e, NotDigits(_))),
            ("1.0", |e| matches!(e, NotDigits(_))),
            ("1e6", |e| matches!(e, NotDigits(_))),
            (" 1", |e| matches!(e, NotDigits(_))),
            ("0x10", |e| matches!(e, NotDigits(_))),
            ("１", |e| matches!(e, NotDigits(_))),
            ("007", |e| matches!(e, LeadingZero(_))),
            (
                "115792089237316195423570985008687907853269984665640564039457584007913129639936",
                |e| matches!(e, Overflow(_)),
            ),
        ];
        for (text, check) in cases {
            let err = Amount::parse(text).unwrap_err();
            assert!(check(&err), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn serde_uses_decimal_strings_only() {
        let a: Amount = serde_json::from_str("\"10000\"").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"10000\"");
        assert!(serde_json::from_str::<Amount>("10000").is_err());
        assert!(serde_json::from_str::<Amount>("\"1.5\"").is_err());
    }

    #[test]
    fn formats_units() {
        assert_eq!(Amount::from(10_000u64).format_units(6), "0.01");
        assert_eq!(Amount::from(1_000_000u64).format_units(6), "1");
        assert_eq!(Amount::from(1_234_567u64).format_units(6), "1.234567");
        assert_eq!(Amount::from(1u64).format_units(18), "0.000000000000000001");
        assert_eq!(Amount::ZERO.format_units(6), "0");
        assert_eq!(Amount::from(42u64).format_units(0), "42");
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Amount::MAX.checked_add(Amount::from(1u64)), None);
        assert_eq!(Amount::ZERO.checked_sub(Amount::from(1u64)), None);
        assert_eq!(
            Amount::from(5u64).checked_sub(Amount::from(2u64)),
            Some(Amount::from(3u64))
        );
    }
}
