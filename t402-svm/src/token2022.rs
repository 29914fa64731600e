//! Token-2022 mint extensions that change what a transfer delivers: a transfer fee (the payee
//! receives less than the price), a permanent delegate (the payment can be taken back), a
//! transfer hook (arbitrary code runs on every transfer). Read from the mint account's data.

/// The extension type of a transfer fee (`TransferFeeConfig`).
pub const TRANSFER_FEE_CONFIG: u16 = 1;
/// The extension type of a permanent delegate (`PermanentDelegate`).
pub const PERMANENT_DELEGATE: u16 = 12;
/// The extension type of a transfer hook (`TransferHook`).
pub const TRANSFER_HOOK: u16 = 14;

/// The extensions refused by default.
pub const REFUSED_BY_DEFAULT: &[u16] = &[TRANSFER_FEE_CONFIG, PERMANENT_DELEGATE, TRANSFER_HOOK];

/// Where a Token-2022 account's type byte sits: after the base layout, padded to the size of a
/// token account (165 bytes).
const ACCOUNT_TYPE_OFFSET: usize = 165;
/// The account type of a mint.
const MINT: u8 = 1;

/// The extension types of a Token-2022 mint's data, in order. A mint without extensions (82
/// bytes) has none; data that is not a mint with well-formed extensions is `None`.
pub fn mint_extensions(data: &[u8]) -> Option<Vec<u16>> {
    if data.len() == 82 {
        return Some(Vec::new());
    }
    if data.len() <= ACCOUNT_TYPE_OFFSET || data[ACCOUNT_TYPE_OFFSET] != MINT {
        return None;
    }
    let mut types = Vec::new();
    let mut at = ACCOUNT_TYPE_OFFSET + 1;
    while at + 4 <= data.len() {
        let kind = u16::from_le_bytes([data[at], data[at + 1]]);
        let length = usize::from(u16::from_le_bytes([data[at + 2], data[at + 3]]));
        if kind == 0 {
            // Uninitialized: the rest is padding.
            break;
        }
        at += 4;
        if at + length > data.len() {
            return None;
        }
        types.push(kind);
        at += length;
    }
    Some(types)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mint's data with extensions of `types` (zeroed values of `length` bytes each).
    fn mint_with(types: &[(u16, u16)]) -> Vec<u8> {
        let mut data = vec![0u8; ACCOUNT_TYPE_OFFSET];
        data.push(MINT);
        for (kind, length) in types {
            data.extend_from_slice(&kind.to_le_bytes());
            data.extend_from_slice(&length.to_le_bytes());
            data.extend(std::iter::repeat_n(0u8, usize::from(*length)));
        }
        data
    }

    #[test]
    fn extensions_are_read_in_order() {
        assert_eq!(mint_extensions(&[0u8; 82]), Some(vec![]));
        assert_eq!(
            mint_extensions(&mint_with(&[
                (TRANSFER_FEE_CONFIG, 108),
                (PERMANENT_DELEGATE, 32)
            ])),
            Some(vec![TRANSFER_FEE_CONFIG, PERMANENT_DELEGATE])
        );
        let mut truncated = mint_with(&[(TRANSFER_HOOK, 64)]);
        truncated.truncate(truncated.len() - 1);
        assert_eq!(mint_extensions(&truncated), None);
        assert_eq!(mint_extensions(&[0u8; 100]), None);
        let mut account = mint_with(&[]);
        account[ACCOUNT_TYPE_OFFSET] = 2;
        assert_eq!(mint_extensions(&account), None);
    }
}
