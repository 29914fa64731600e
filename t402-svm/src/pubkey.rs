//! Solana public keys (base58), the program ids this crate uses, program-derived addresses and
//! associated token accounts.

use std::fmt;
use std::str::FromStr;

use curve25519_dalek::edwards::CompressedEdwardsY;
use sha2::{Digest, Sha256};

/// A 32-byte Solana public key, written in base58.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pubkey(pub [u8; 32]);

impl fmt::Debug for Pubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pubkey({self})")
    }
}

impl fmt::Display for Pubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).into_string())
    }
}

/// Why a base58 key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a base58 Solana public key")]
pub struct PubkeyError(pub String);

impl FromStr for Pubkey {
    type Err = PubkeyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !(32..=44).contains(&text.len()) {
            return Err(PubkeyError(text.to_owned()));
        }
        let mut bytes = [0u8; 32];
        let written = bs58::decode(text)
            .onto(&mut bytes)
            .map_err(|_| PubkeyError(text.to_owned()))?;
        if written != 32 {
            return Err(PubkeyError(text.to_owned()));
        }
        Ok(Self(bytes))
    }
}

const fn key(text: &str) -> Pubkey {
    // Program ids are written here in base58 and decoded at compile time.
    Pubkey(decode_base58_32(text))
}

const fn decode_base58_32(text: &str) -> [u8; 32] {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let input = text.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < input.len() {
        let mut digit = 0;
        while digit < 58 && ALPHABET[digit] != input[i] {
            digit += 1;
        }
        assert!(digit < 58, "not base58");
        let mut carry = digit as u32;
        let mut j = 32;
        while j > 0 {
            j -= 1;
            carry += out[j] as u32 * 58;
            out[j] = (carry & 0xff) as u8;
            carry >>= 8;
        }
        assert!(carry == 0, "does not fit 32 bytes");
        i += 1;
    }
    out
}

/// The SPL Token program.
pub const TOKEN_PROGRAM: Pubkey = key("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
/// The SPL Token-2022 program.
pub const TOKEN_2022_PROGRAM: Pubkey = key("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");
/// The Associated Token Account program.
pub const ASSOCIATED_TOKEN_PROGRAM: Pubkey = key("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");
/// The ComputeBudget program.
pub const COMPUTE_BUDGET_PROGRAM: Pubkey = key("ComputeBudget111111111111111111111111111111");
/// The SPL Memo program (v2).
pub const MEMO_PROGRAM: Pubkey = key("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");
/// The Lighthouse program (assertions some wallets add).
pub const LIGHTHOUSE_PROGRAM: Pubkey = key("L2TExMFKdjpN9kozasaurPirfHy9P8sbXoAN1qA3S95");
/// The System program.
pub const SYSTEM_PROGRAM: Pubkey = key("11111111111111111111111111111111");

impl Pubkey {
    /// Whether the key is a point on the ed25519 curve (program-derived addresses are not).
    pub fn is_on_curve(&self) -> bool {
        CompressedEdwardsY(self.0).decompress().is_some()
    }

    /// The address derived from `seeds` and `program` (`None` when it falls on the curve or a
    /// seed is longer than 32 bytes).
    pub fn create_program_address(seeds: &[&[u8]], program: &Pubkey) -> Option<Pubkey> {
        if seeds.len() > 16 || seeds.iter().any(|seed| seed.len() > 32) {
            return None;
        }
        let mut hasher = Sha256::new();
        for seed in seeds {
            hasher.update(seed);
        }
        hasher.update(program.0);
        hasher.update(b"ProgramDerivedAddress");
        let address = Pubkey(hasher.finalize().into());
        (!address.is_on_curve()).then_some(address)
    }

    /// The program-derived address of `seeds` with the highest bump that is off the curve.
    pub fn find_program_address(seeds: &[&[u8]], program: &Pubkey) -> Option<(Pubkey, u8)> {
        for bump in (0..=u8::MAX).rev() {
            let bump_seed = [bump];
            let mut with_bump: Vec<&[u8]> = seeds.to_vec();
            with_bump.push(&bump_seed);
            if let Some(address) = Self::create_program_address(&with_bump, program) {
                return Some((address, bump));
            }
        }
        None
    }
}

/// The associated token account of `owner` for `mint` under `token_program` (Token or
/// Token-2022).
pub fn associated_token_address(owner: &Pubkey, mint: &Pubkey, token_program: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(
        &[&owner.0, &token_program.0, &mint.0],
        &ASSOCIATED_TOKEN_PROGRAM,
    )
    .map(|(address, _)| address)
    // Finding no bump at all has probability 2^-256.
    .unwrap_or_default()
}

/// [`associated_token_address`], remembered: for owners that recur, such as a server's payee,
/// whose account every payment is checked against. Derivation is a pure function, so a
/// remembered address is always right; at most [`REMEMBERED_ACCOUNTS`] are kept (all are
/// forgotten when the table is full).
pub fn associated_token_address_remembered(
    owner: &Pubkey,
    mint: &Pubkey,
    token_program: &Pubkey,
) -> Pubkey {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static REMEMBERED: OnceLock<Mutex<HashMap<[[u8; 32]; 3], Pubkey>>> = OnceLock::new();
    let key = [owner.0, mint.0, token_program.0];
    let table = REMEMBERED.get_or_init(Default::default);
    // A poisoned table holds only correct addresses: keep using it.
    if let Some(address) = table
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .get(&key)
    {
        return *address;
    }
    let address = associated_token_address(owner, mint, token_program);
    let mut remembered = table.lock().unwrap_or_else(|poison| poison.into_inner());
    if remembered.len() >= REMEMBERED_ACCOUNTS {
        remembered.clear();
    }
    remembered.insert(key, address);
    address
}

/// How many derived token accounts [`associated_token_address_remembered`] keeps.
pub const REMEMBERED_ACCOUNTS: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_ids_round_trip_through_base58() {
        for (key, text) in [
            (TOKEN_PROGRAM, "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"),
            (
                TOKEN_2022_PROGRAM,
                "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb",
            ),
            (
                ASSOCIATED_TOKEN_PROGRAM,
                "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL",
            ),
            (
                COMPUTE_BUDGET_PROGRAM,
                "ComputeBudget111111111111111111111111111111",
            ),
            (MEMO_PROGRAM, "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"),
            (SYSTEM_PROGRAM, "11111111111111111111111111111111"),
        ] {
            assert_eq!(key.to_string(), text);
            assert_eq!(text.parse::<Pubkey>().unwrap(), key);
        }
        assert!("0OIl".parse::<Pubkey>().is_err());
        assert!("1111".parse::<Pubkey>().is_err());
    }

    #[test]
    fn remembered_accounts_are_the_derived_ones_past_a_full_table() {
        let mint = Pubkey([9; 32]);
        // More owners than the table keeps, each asked twice (derived, then remembered or
        // derived again after the table was emptied).
        for round in 0..2 {
            for n in 0..(REMEMBERED_ACCOUNTS as u32 + 10) {
                let mut owner = [0u8; 32];
                owner[..4].copy_from_slice(&n.to_le_bytes());
                let owner = Pubkey(owner);
                assert_eq!(
                    associated_token_address_remembered(&owner, &mint, &TOKEN_PROGRAM),
                    associated_token_address(&owner, &mint, &TOKEN_PROGRAM),
                    "owner {n}, round {round}"
                );
            }
        }
    }

    #[test]
    fn derived_addresses_are_off_the_curve() {
        let owner: Pubkey = "2wKupLR9q6wXYppw8Gr2NvWxKBUqm4PPJKkQfoxHDBg4"
            .parse()
            .unwrap();
        assert!(owner.is_on_curve());
        let mint: Pubkey = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
            .parse()
            .unwrap();
        let ata = associated_token_address(&owner, &mint, &TOKEN_PROGRAM);
        assert!(!ata.is_on_curve());
        assert_ne!(
            ata,
            associated_token_address(&owner, &mint, &TOKEN_2022_PROGRAM)
        );
    }
}
