//! A spending budget per time window, safe under concurrency: a payment reserves its amount
//! before it is signed, and the reservation is kept once the payment may have been used, or given
//! back when the server refused it.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ruint::aliases::U256;
use t402_core::{Amount, Money, PriceError};

/// Budget amounts carry 18 decimals (token units, dollars for USD stablecoins).
const SCALE_DECIMALS: u8 = 18;

/// Why a payment does not fit the budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("over budget: {spent} spent of {limit} in the window, {asked} asked")]
pub struct OverBudget {
    /// Spent (or reserved) in the current window, in token units.
    pub spent: String,
    /// The limit, in token units.
    pub limit: String,
    /// The payment asked for, in token units.
    pub asked: String,
}

#[derive(Debug)]
struct Entry {
    id: u64,
    at: Instant,
    value: U256,
}

#[derive(Debug)]
struct Ledger {
    entries: VecDeque<Entry>,
    next_id: u64,
}

/// A limit on the total paid in a sliding time window, counted in token units (dollars for USD
/// stablecoins). Shared between clients with `Arc`.
pub struct Budget {
    limit: U256,
    window: Duration,
    ledger: Mutex<Ledger>,
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("limit", &format_scaled(self.limit))
            .field("window", &self.window)
            .field("spent", &self.spent())
            .finish()
    }
}

fn format_scaled(value: U256) -> String {
    Amount::from(value).format_units(SCALE_DECIMALS)
}

/// `atomic` units of a token with `decimals`, in the budget's scale.
fn scaled(atomic: Amount, decimals: u8) -> Option<U256> {
    let factor =
        U256::from(10u64).checked_pow(U256::from(SCALE_DECIMALS.checked_sub(decimals)?))?;
    atomic.as_u256().checked_mul(factor)
}

impl Budget {
    /// At most `limit` token units (`"5.00"` or `"$5.00"`) per `window`.
    pub fn new(limit: &str, window: Duration) -> Result<Arc<Self>, PriceError> {
        let limit = Money::parse(limit.trim_start_matches('$'))?.to_atomic(SCALE_DECIMALS)?;
        Ok(Arc::new(Self {
            limit: limit.as_u256(),
            window,
            ledger: Mutex::new(Ledger {
                entries: VecDeque::new(),
                next_id: 0,
            }),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn total(ledger: &mut Ledger, window: Duration) -> U256 {
        let now = Instant::now();
        while ledger
            .entries
            .front()
            .is_some_and(|entry| now.duration_since(entry.at) >= window)
        {
            ledger.entries.pop_front();
        }
        ledger
            .entries
            .iter()
            .fold(U256::ZERO, |sum, entry| sum.saturating_add(entry.value))
    }

    /// Spent or reserved in the current window, in token units.
    pub fn spent(&self) -> String {
        let mut ledger = self.lock();
        format_scaled(Self::total(&mut ledger, self.window))
    }

    /// Reserves `atomic` units of a token with `decimals`, or says why it does not fit.
    pub fn reserve(
        self: &Arc<Self>,
        atomic: Amount,
        decimals: u8,
    ) -> Result<Reservation, OverBudget> {
        let asked = scaled(atomic, decimals).unwrap_or(U256::MAX);
        let mut ledger = self.lock();
        let spent = Self::total(&mut ledger, self.window);
        if spent.saturating_add(asked) > self.limit {
            return Err(OverBudget {
                spent: format_scaled(spent),
                limit: format_scaled(self.limit),
                asked: format_scaled(asked),
            });
        }
        let id = ledger.next_id;
        ledger.next_id += 1;
        ledger.entries.push_back(Entry {
            id,
            at: Instant::now(),
            value: asked,
        });
        Ok(Reservation {
            budget: self.clone(),
            id,
            decimals,
            kept: false,
        })
    }

    fn release(&self, id: u64) {
        self.lock().entries.retain(|entry| entry.id != id);
    }

    /// Lowers a reservation to `value` (never raises it).
    fn lower(&self, id: u64, value: U256) {
        if let Some(entry) = self.lock().entries.iter_mut().find(|entry| entry.id == id) {
            entry.value = entry.value.min(value);
        }
    }
}

/// An amount held in a budget. Dropped without [`Reservation::keep`], it is given back.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<Budget>,
    id: u64,
    decimals: u8,
    kept: bool,
}

impl Reservation {
    /// The payment may have been used: the amount stays spent.
    pub fn keep(mut self) {
        self.kept = true;
    }

    /// The payment settled `atomic` units (an `upto` payment settles at most what was
    /// reserved): that much stays spent, the rest of the reservation is given back.
    pub fn keep_settled(self, atomic: Amount) {
        if let Some(value) = scaled(atomic, self.decimals) {
            self.budget.lower(self.id, value);
        }
        self.keep();
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.kept {
            self.budget.release(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settled_amount_below_the_reservation_gives_the_rest_back() {
        let budget = Budget::new("0.05", Duration::from_secs(60)).unwrap();
        // A ceiling of 0.04 is booked while the request runs...
        let ceiling = budget.reserve(Amount::from(40_000u64), 6).unwrap();
        assert_eq!(budget.spent(), "0.04");
        assert!(budget.reserve(Amount::from(20_000u64), 6).is_err());
        // ...and only the 0.012 used stays spent.
        ceiling.keep_settled(Amount::from(12_000u64));
        assert_eq!(budget.spent(), "0.012");
        // Never more than was reserved.
        budget
            .reserve(Amount::from(1_000u64), 6)
            .unwrap()
            .keep_settled(Amount::from(9_000u64));
        assert_eq!(budget.spent(), "0.013");
    }

    #[test]
    fn reservations_count_until_given_back() {
        let budget = Budget::new("$0.03", Duration::from_secs(60)).unwrap();
        let first = budget.reserve(Amount::from(10_000u64), 6).unwrap();
        let second = budget.reserve(Amount::from(10_000u64), 6).unwrap();
        let third = budget.reserve(Amount::from(10_000u64), 6).unwrap();
        let err = budget.reserve(Amount::from(1u64), 6).unwrap_err();
        assert_eq!(err.limit, "0.03");
        assert_eq!(err.spent, "0.03");
        drop(third);
        assert_eq!(budget.spent(), "0.02");
        first.keep();
        second.keep();
        assert!(budget.reserve(Amount::from(10_000u64), 6).is_ok());
    }

    #[test]
    fn decimals_are_respected() {
        let budget = Budget::new("1", Duration::from_secs(60)).unwrap();
        // 0.5 of an 18-decimal token and 0.5 of a 6-decimal one fill the budget.
        budget
            .reserve(Amount::from(500_000_000_000_000_000u64), 18)
            .unwrap()
            .keep();
        budget.reserve(Amount::from(500_000u64), 6).unwrap().keep();
        assert!(budget.reserve(Amount::from(1u64), 18).is_err());
    }

    #[test]
    fn the_window_slides() {
        let budget = Budget::new("0.01", Duration::from_millis(50)).unwrap();
        budget.reserve(Amount::from(10_000u64), 6).unwrap().keep();
        assert!(budget.reserve(Amount::from(1u64), 6).is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert!(budget.reserve(Amount::from(10_000u64), 6).is_ok());
    }
}
