//! The instructions of a payment (ComputeBudget, SPL `TransferChecked`, Memo), and compiling them
//! into a v0 message.

use crate::pubkey::{COMPUTE_BUDGET_PROGRAM, MEMO_PROGRAM, Pubkey};
use crate::wire::{CompiledInstruction, MessageHeader, MessageV0};

/// `SetComputeUnitLimit`'s tag.
pub const SET_COMPUTE_UNIT_LIMIT: u8 = 2;
/// `SetComputeUnitPrice`'s tag.
pub const SET_COMPUTE_UNIT_PRICE: u8 = 3;
/// `TransferChecked`'s tag in Token and Token-2022.
pub const TRANSFER_CHECKED: u8 = 12;

/// An account an instruction uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountMeta {
    /// The account.
    pub pubkey: Pubkey,
    /// Whether it signs.
    pub is_signer: bool,
    /// Whether it is written.
    pub is_writable: bool,
}

/// An instruction before compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The program.
    pub program: Pubkey,
    /// Its accounts, in order.
    pub accounts: Vec<AccountMeta>,
    /// Its data.
    pub data: Vec<u8>,
}

/// ComputeBudget `SetComputeUnitLimit(units)`.
pub fn set_compute_unit_limit(units: u32) -> Instruction {
    let mut data = vec![SET_COMPUTE_UNIT_LIMIT];
    data.extend_from_slice(&units.to_le_bytes());
    Instruction {
        program: COMPUTE_BUDGET_PROGRAM,
        accounts: vec![],
        data,
    }
}

/// ComputeBudget `SetComputeUnitPrice(micro_lamports)`.
pub fn set_compute_unit_price(micro_lamports: u64) -> Instruction {
    let mut data = vec![SET_COMPUTE_UNIT_PRICE];
    data.extend_from_slice(&micro_lamports.to_le_bytes());
    Instruction {
        program: COMPUTE_BUDGET_PROGRAM,
        accounts: vec![],
        data,
    }
}

/// SPL Token / Token-2022 `TransferChecked`: `amount` (with the mint's `decimals`) from `source`
/// to `destination` token accounts, signed by `authority`.
pub fn transfer_checked(
    token_program: Pubkey,
    source: Pubkey,
    mint: Pubkey,
    destination: Pubkey,
    authority: Pubkey,
    amount: u64,
    decimals: u8,
) -> Instruction {
    let mut data = vec![TRANSFER_CHECKED];
    data.extend_from_slice(&amount.to_le_bytes());
    data.push(decimals);
    let meta = |pubkey, is_signer, is_writable| AccountMeta {
        pubkey,
        is_signer,
        is_writable,
    };
    Instruction {
        program: token_program,
        accounts: vec![
            meta(source, false, true),
            meta(mint, false, false),
            meta(destination, false, true),
            meta(authority, true, false),
        ],
        data,
    }
}

/// SPL Memo with `text` and no accounts.
pub fn memo(text: &[u8]) -> Instruction {
    Instruction {
        program: MEMO_PROGRAM,
        accounts: vec![],
        data: text.to_vec(),
    }
}

/// The units of a `SetComputeUnitLimit`.
pub fn parse_compute_unit_limit(data: &[u8]) -> Option<u32> {
    match data {
        [SET_COMPUTE_UNIT_LIMIT, rest @ ..] => Some(u32::from_le_bytes(rest.try_into().ok()?)),
        _ => None,
    }
}

/// The micro-lamports of a `SetComputeUnitPrice`.
pub fn parse_compute_unit_price(data: &[u8]) -> Option<u64> {
    match data {
        [SET_COMPUTE_UNIT_PRICE, rest @ ..] => Some(u64::from_le_bytes(rest.try_into().ok()?)),
        _ => None,
    }
}

/// The amount and decimals of a `TransferChecked`.
pub fn parse_transfer_checked(data: &[u8]) -> Option<(u64, u8)> {
    match data {
        [TRANSFER_CHECKED, rest @ ..] if rest.len() == 9 => {
            Some((u64::from_le_bytes(rest[..8].try_into().ok()?), rest[8]))
        }
        _ => None,
    }
}

/// Compiles instructions into a v0 message paid by `fee_payer`: keys ordered writable signers
/// (fee payer first), read-only signers, writable others, read-only others (programs last among
/// those), each key once with the strongest role it has.
pub fn compile(
    fee_payer: Pubkey,
    instructions: &[Instruction],
    recent_blockhash: [u8; 32],
) -> MessageV0 {
    // (key, signer, writable), in first-seen order.
    let mut roles: Vec<(Pubkey, bool, bool)> = vec![(fee_payer, true, true)];
    let mut note = |key: Pubkey, signer: bool, writable: bool| match roles
        .iter_mut()
        .find(|(k, _, _)| *k == key)
    {
        Some(role) => {
            role.1 |= signer;
            role.2 |= writable;
        }
        None => roles.push((key, signer, writable)),
    };
    for instruction in instructions {
        for meta in &instruction.accounts {
            note(meta.pubkey, meta.is_signer, meta.is_writable);
        }
    }
    for instruction in instructions {
        note(instruction.program, false, false);
    }
    let class = |(_, signer, writable): &(Pubkey, bool, bool)| match (signer, writable) {
        (true, true) => 0,
        (true, false) => 1,
        (false, true) => 2,
        (false, false) => 3,
    };
    // A stable sort keeps the fee payer first among writable signers.
    roles.sort_by_key(class);
    let count = |wanted: u8| roles.iter().filter(|r| class(r) == wanted).count() as u8;
    let header = MessageHeader {
        num_required_signatures: count(0) + count(1),
        num_readonly_signed_accounts: count(1),
        num_readonly_unsigned_accounts: count(3),
    };
    let account_keys: Vec<Pubkey> = roles.iter().map(|(key, _, _)| *key).collect();
    let index = |key: &Pubkey| {
        account_keys
            .iter()
            .position(|k| k == key)
            .expect("every key was noted") as u8
    };
    let compiled = instructions
        .iter()
        .map(|instruction| CompiledInstruction {
            program_id_index: index(&instruction.program),
            accounts: instruction
                .accounts
                .iter()
                .map(|m| index(&m.pubkey))
                .collect(),
            data: instruction.data.clone(),
        })
        .collect();
    MessageV0 {
        header,
        account_keys,
        recent_blockhash,
        instructions: compiled,
        address_table_lookups: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pubkey::TOKEN_PROGRAM;

    #[test]
    fn instruction_data_known_answers() {
        assert_eq!(set_compute_unit_limit(20_000).data, [2, 0x20, 0x4e, 0, 0]);
        assert_eq!(set_compute_unit_price(1).data, [3, 1, 0, 0, 0, 0, 0, 0, 0]);
        let transfer = transfer_checked(
            TOKEN_PROGRAM,
            Pubkey([1; 32]),
            Pubkey([2; 32]),
            Pubkey([3; 32]),
            Pubkey([4; 32]),
            1000,
            6,
        );
        assert_eq!(transfer.data, [12, 0xe8, 0x03, 0, 0, 0, 0, 0, 0, 6]);
        assert_eq!(parse_transfer_checked(&transfer.data), Some((1000, 6)));
        assert_eq!(
            parse_compute_unit_limit(&[2, 0x20, 0x4e, 0, 0]),
            Some(20_000)
        );
        assert_eq!(
            parse_compute_unit_price(&[3, 1, 0, 0, 0, 0, 0, 0, 0]),
            Some(1)
        );
        assert_eq!(parse_compute_unit_price(&[3, 1]), None);
        assert_eq!(parse_transfer_checked(&[3, 1]), None);
    }

    #[test]
    fn compiling_orders_keys_by_role() {
        let fee_payer = Pubkey([9; 32]);
        let authority = Pubkey([4; 32]);
        let message = compile(
            fee_payer,
            &[
                set_compute_unit_limit(20_000),
                transfer_checked(
                    TOKEN_PROGRAM,
                    Pubkey([1; 32]),
                    Pubkey([2; 32]),
                    Pubkey([3; 32]),
                    authority,
                    5,
                    6,
                ),
            ],
            [0; 32],
        );
        assert_eq!(message.header.num_required_signatures, 2);
        assert_eq!(message.header.num_readonly_signed_accounts, 1);
        // fee payer, authority (read-only signer), source and destination (writable), then mint
        // and the programs (read-only).
        assert_eq!(message.account_keys[0], fee_payer);
        assert_eq!(message.account_keys[1], authority);
        assert_eq!(
            &message.account_keys[2..4],
            &[Pubkey([1; 32]), Pubkey([3; 32])]
        );
        assert_eq!(message.header.num_readonly_unsigned_accounts, 3);
        let transfer = &message.instructions[1];
        assert_eq!(
            message.account_keys[usize::from(transfer.program_id_index)],
            TOKEN_PROGRAM
        );
        assert_eq!(transfer.accounts, vec![2, 4, 3, 1]);
    }
}

/// What one payment transfers: `amount` of `mint` (with `decimals`) from `payer`'s associated
/// token account to `pay_to`'s, under `token_program`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentTransfer {
    /// Token or Token-2022.
    pub token_program: Pubkey,
    /// The mint.
    pub mint: Pubkey,
    /// The mint's decimals.
    pub decimals: u8,
    /// The transfer authority (the payer's wallet).
    pub payer: Pubkey,
    /// The payee's wallet.
    pub pay_to: Pubkey,
    /// Atomic units.
    pub amount: u64,
}

/// The reference layout of an `exact` payment: compute limit, compute price, `TransferChecked`
/// between the two associated token accounts, and a memo.
pub fn payment_instructions(
    transfer: &PaymentTransfer,
    compute_unit_limit: u32,
    compute_unit_price: u64,
    memo_text: &[u8],
) -> [Instruction; 4] {
    let PaymentTransfer {
        token_program,
        mint,
        decimals,
        payer,
        pay_to,
        amount,
    } = *transfer;
    [
        set_compute_unit_limit(compute_unit_limit),
        set_compute_unit_price(compute_unit_price),
        transfer_checked(
            token_program,
            crate::pubkey::associated_token_address(&payer, &mint, &token_program),
            mint,
            crate::pubkey::associated_token_address(&pay_to, &mint, &token_program),
            payer,
            amount,
            decimals,
        ),
        memo(memo_text),
    ]
}
