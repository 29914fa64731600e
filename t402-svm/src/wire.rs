//! The transaction wire format: compact-u16 lengths, the v0 message (header, account keys,
//! recent blockhash, instructions, address-table lookups) and the signed transaction.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::pubkey::Pubkey;

/// The prefix byte of a versioned (v0) message.
const V0_PREFIX: u8 = 0x80;

/// Why bytes are not a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The bytes end early.
    #[error("the transaction ends early")]
    Truncated,
    /// A compact-u16 is malformed (too long, not minimal, above u16).
    #[error("malformed compact-u16 length")]
    CompactU16,
    /// The message is a legacy message or of an unknown version.
    #[error("only v0 messages are accepted")]
    NotV0,
    /// Bytes remain after the transaction.
    #[error("{0} bytes follow the transaction")]
    TrailingBytes(usize),
    /// The header, keys or indices do not agree.
    #[error("inconsistent message: {0}")]
    Inconsistent(&'static str),
}

/// Appends a compact-u16.
pub fn write_compact_u16(out: &mut Vec<u8>, mut value: u16) {
    loop {
        let mut byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        byte |= 0x80;
        out.push(byte);
    }
}

/// A reader over transaction bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.at.checked_add(n).ok_or(WireError::Truncated)?;
        let slice = self.bytes.get(self.at..end).ok_or(WireError::Truncated)?;
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A compact-u16: 1 to 3 bytes, minimal encoding only.
    fn compact_u16(&mut self) -> Result<u16, WireError> {
        let mut value: u32 = 0;
        for index in 0..3 {
            let byte = self.byte()?;
            value |= u32::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                if index > 0 && byte == 0 {
                    return Err(WireError::CompactU16);
                }
                return u16::try_from(value).map_err(|_| WireError::CompactU16);
            }
        }
        Err(WireError::CompactU16)
    }
}

/// The message header: how many keys sign, and which are read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageHeader {
    /// Keys that must sign (the first ones).
    pub num_required_signatures: u8,
    /// Of the signers, how many are read-only (the last signers).
    pub num_readonly_signed_accounts: u8,
    /// Of the others, how many are read-only (the last keys).
    pub num_readonly_unsigned_accounts: u8,
}

/// An instruction with its program and accounts as indices into the account keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompiledInstruction {
    /// The program's index.
    pub program_id_index: u8,
    /// The accounts' indices.
    pub accounts: Vec<u8>,
    /// The instruction data.
    pub data: Vec<u8>,
}

/// An address-table lookup of a v0 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressTableLookup {
    /// The lookup table.
    pub account_key: Pubkey,
    /// Writable indices.
    pub writable_indexes: Vec<u8>,
    /// Read-only indices.
    pub readonly_indexes: Vec<u8>,
}

/// A v0 message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageV0 {
    /// Signers and read-only counts.
    pub header: MessageHeader,
    /// The static account keys; the first is the fee payer.
    pub account_keys: Vec<Pubkey>,
    /// The recent blockhash.
    pub recent_blockhash: [u8; 32],
    /// The instructions.
    pub instructions: Vec<CompiledInstruction>,
    /// Address-table lookups (t402 transactions have none).
    pub address_table_lookups: Vec<AddressTableLookup>,
}

fn len_u16(len: usize, what: &'static str) -> Result<u16, WireError> {
    u16::try_from(len).map_err(|_| WireError::Inconsistent(what))
}

impl MessageV0 {
    /// The message bytes (what is signed).
    pub fn serialize(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::with_capacity(256);
        out.push(V0_PREFIX);
        out.push(self.header.num_required_signatures);
        out.push(self.header.num_readonly_signed_accounts);
        out.push(self.header.num_readonly_unsigned_accounts);
        write_compact_u16(&mut out, len_u16(self.account_keys.len(), "too many keys")?);
        for key in &self.account_keys {
            out.extend_from_slice(&key.0);
        }
        out.extend_from_slice(&self.recent_blockhash);
        write_compact_u16(
            &mut out,
            len_u16(self.instructions.len(), "too many instructions")?,
        );
        for instruction in &self.instructions {
            out.push(instruction.program_id_index);
            write_compact_u16(
                &mut out,
                len_u16(instruction.accounts.len(), "too many accounts")?,
            );
            out.extend_from_slice(&instruction.accounts);
            write_compact_u16(&mut out, len_u16(instruction.data.len(), "data too long")?);
            out.extend_from_slice(&instruction.data);
        }
        write_compact_u16(
            &mut out,
            len_u16(self.address_table_lookups.len(), "too many lookups")?,
        );
        for lookup in &self.address_table_lookups {
            out.extend_from_slice(&lookup.account_key.0);
            write_compact_u16(&mut out, len_u16(lookup.writable_indexes.len(), "lookup")?);
            out.extend_from_slice(&lookup.writable_indexes);
            write_compact_u16(&mut out, len_u16(lookup.readonly_indexes.len(), "lookup")?);
            out.extend_from_slice(&lookup.readonly_indexes);
        }
        Ok(out)
    }

    fn read(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        if reader.byte()? != V0_PREFIX {
            return Err(WireError::NotV0);
        }
        let header = MessageHeader {
            num_required_signatures: reader.byte()?,
            num_readonly_signed_accounts: reader.byte()?,
            num_readonly_unsigned_accounts: reader.byte()?,
        };
        let key_count = reader.compact_u16()?;
        let mut account_keys = Vec::with_capacity(usize::from(key_count));
        for _ in 0..key_count {
            account_keys.push(Pubkey(reader.array()?));
        }
        let recent_blockhash = reader.array()?;
        let instruction_count = reader.compact_u16()?;
        let mut instructions = Vec::with_capacity(usize::from(instruction_count).min(64));
        for _ in 0..instruction_count {
            let program_id_index = reader.byte()?;
            let accounts_len = reader.compact_u16()?;
            let accounts = reader.take(usize::from(accounts_len))?.to_vec();
            let data_len = reader.compact_u16()?;
            let data = reader.take(usize::from(data_len))?.to_vec();
            instructions.push(CompiledInstruction {
                program_id_index,
                accounts,
                data,
            });
        }
        let lookup_count = reader.compact_u16()?;
        let mut address_table_lookups = Vec::new();
        for _ in 0..lookup_count {
            let account_key = Pubkey(reader.array()?);
            let writable = reader.compact_u16()?;
            let writable_indexes = reader.take(usize::from(writable))?.to_vec();
            let readonly = reader.compact_u16()?;
            let readonly_indexes = reader.take(usize::from(readonly))?.to_vec();
            address_table_lookups.push(AddressTableLookup {
                account_key,
                writable_indexes,
                readonly_indexes,
            });
        }
        let message = Self {
            header,
            account_keys,
            recent_blockhash,
            instructions,
            address_table_lookups,
        };
        message.check()?;
        Ok(message)
    }

    /// Checks that the header and the indices fit the keys.
    fn check(&self) -> Result<(), WireError> {
        let keys = self.account_keys.len();
        let header = self.header;
        if usize::from(header.num_required_signatures) > keys
            || header.num_readonly_signed_accounts >= header.num_required_signatures.max(1)
            || usize::from(header.num_required_signatures)
                + usize::from(header.num_readonly_unsigned_accounts)
                > keys
        {
            return Err(WireError::Inconsistent("header does not fit the keys"));
        }
        let total = keys
            + self
                .address_table_lookups
                .iter()
                .map(|l| l.writable_indexes.len() + l.readonly_indexes.len())
                .sum::<usize>();
        for instruction in &self.instructions {
            if usize::from(instruction.program_id_index) >= keys {
                return Err(WireError::Inconsistent("program index out of range"));
            }
            if instruction
                .accounts
                .iter()
                .any(|&a| usize::from(a) >= total)
            {
                return Err(WireError::Inconsistent("account index out of range"));
            }
        }
        Ok(())
    }

    /// The static key at `index`.
    pub fn key(&self, index: u8) -> Option<&Pubkey> {
        self.account_keys.get(usize::from(index))
    }

    /// The fee payer (the first key).
    pub fn fee_payer(&self) -> Option<&Pubkey> {
        self.account_keys.first()
    }
}

/// A signed (or partially signed) v0 transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// One signature per required signer, in key order; unsigned slots are zero.
    pub signatures: Vec<[u8; 64]>,
    /// The message.
    pub message: MessageV0,
}

impl Transaction {
    /// A transaction with every signature slot empty.
    pub fn unsigned(message: MessageV0) -> Self {
        let slots = usize::from(message.header.num_required_signatures);
        Self {
            signatures: vec![[0u8; 64]; slots],
            message,
        }
    }

    /// The wire bytes.
    pub fn serialize(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::with_capacity(64 * self.signatures.len() + 256);
        write_compact_u16(
            &mut out,
            len_u16(self.signatures.len(), "too many signatures")?,
        );
        for signature in &self.signatures {
            out.extend_from_slice(signature);
        }
        out.extend(self.message.serialize()?);
        Ok(out)
    }

    /// Reads a transaction; every byte must belong to it.
    pub fn deserialize(bytes: &[u8]) -> Result<Self, WireError> {
        let mut reader = Reader { bytes, at: 0 };
        let count = reader.compact_u16()?;
        let mut signatures = Vec::with_capacity(usize::from(count).min(16));
        for _ in 0..count {
            signatures.push(reader.array()?);
        }
        let message = MessageV0::read(&mut reader)?;
        if reader.at != bytes.len() {
            return Err(WireError::TrailingBytes(bytes.len() - reader.at));
        }
        if signatures.len() != usize::from(message.header.num_required_signatures) {
            return Err(WireError::Inconsistent(
                "signature count differs from the header",
            ));
        }
        Ok(Self {
            signatures,
            message,
        })
    }

    /// Signs with `key` in the slot of its public key. `false` when the key is not a signer of
    /// the message.
    pub fn sign(&mut self, key: &SigningKey) -> Result<bool, WireError> {
        let public = Pubkey(key.verifying_key().to_bytes());
        let signers = usize::from(self.message.header.num_required_signatures);
        let Some(slot) = self.message.account_keys[..signers]
            .iter()
            .position(|candidate| *candidate == public)
        else {
            return Ok(false);
        };
        let bytes = self.message.serialize()?;
        self.signatures[slot] = key.sign(&bytes).to_bytes();
        Ok(true)
    }

    /// Whether the signature of the signer at `slot` is present and valid.
    pub fn verify_slot(&self, slot: usize) -> bool {
        let (Some(signature), Some(key)) = (
            self.signatures.get(slot),
            self.message.account_keys.get(slot),
        ) else {
            return false;
        };
        let Ok(verifying) = VerifyingKey::from_bytes(&key.0) else {
            return false;
        };
        let Ok(bytes) = self.message.serialize() else {
            return false;
        };
        verifying
            .verify(&bytes, &Signature::from_bytes(signature))
            .is_ok()
    }

    /// The transaction id: the first signature, in base58.
    pub fn id(&self) -> String {
        self.signatures
            .first()
            .map(|s| bs58::encode(s).into_string())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_u16_known_answers() {
        for (value, bytes) in [
            (0u16, vec![0x00]),
            (0x7f, vec![0x7f]),
            (0x80, vec![0x80, 0x01]),
            (0x3fff, vec![0xff, 0x7f]),
            (0x4000, vec![0x80, 0x80, 0x01]),
            (0xffff, vec![0xff, 0xff, 0x03]),
        ] {
            let mut out = Vec::new();
            write_compact_u16(&mut out, value);
            assert_eq!(out, bytes, "{value}");
            let mut reader = Reader {
                bytes: &bytes,
                at: 0,
            };
            assert_eq!(reader.compact_u16().unwrap(), value);
        }
        for bad in [
            vec![0x80, 0x00],
            vec![0xff, 0xff, 0x04],
            vec![0x80, 0x80, 0x80, 0x01],
            vec![0x80],
        ] {
            let mut reader = Reader { bytes: &bad, at: 0 };
            assert!(reader.compact_u16().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_message_round_trips_and_signs() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let signer = Pubkey(key.verifying_key().to_bytes());
        let message = MessageV0 {
            header: MessageHeader {
                num_required_signatures: 2,
                num_readonly_signed_accounts: 0,
                num_readonly_unsigned_accounts: 1,
            },
            account_keys: vec![Pubkey([1; 32]), signer, Pubkey([3; 32])],
            recent_blockhash: [9; 32],
            instructions: vec![CompiledInstruction {
                program_id_index: 2,
                accounts: vec![0, 1],
                data: vec![1, 2, 3],
            }],
            address_table_lookups: vec![],
        };
        let mut transaction = Transaction::unsigned(message);
        assert!(transaction.sign(&key).unwrap());
        assert!(transaction.verify_slot(1));
        assert!(
            !transaction.verify_slot(0),
            "the fee payer's slot stays empty"
        );
        let bytes = transaction.serialize().unwrap();
        assert_eq!(Transaction::deserialize(&bytes).unwrap(), transaction);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Transaction::deserialize(&longer),
            Err(WireError::TrailingBytes(1))
        );
        assert_eq!(
            Transaction::deserialize(&bytes[..bytes.len() - 1]),
            Err(WireError::Truncated)
        );
        assert!(!transaction.sign(&SigningKey::from_bytes(&[8; 32])).unwrap());
    }
}
