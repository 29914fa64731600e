//! Keys for `keygen`, `address`, `pay` and `balance`: made, written with mode 0600, and read
//! from the environment or a file, never from the command line.

use std::io::Write;
use std::path::Path;

use alloy_signer_local::PrivateKeySigner;
use ed25519_dalek::SigningKey;

use crate::error::{CliError, exit};

/// The environment variable holding an EVM private key (hex).
pub(crate) const EVM_KEY_ENV: &str = "T402_PRIVATE_KEY";
/// The environment variable holding a Solana key (base58, or a JSON array of 64 bytes).
pub(crate) const SOLANA_KEY_ENV: &str = "T402_SOLANA_KEY";

/// The chain family a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Chain {
    /// EVM chains: a secp256k1 key, written as hex.
    Evm,
    /// Solana: an ed25519 keypair, written as a JSON array of 64 bytes (as `solana-keygen`).
    Solana,
}

/// Reads the key text from `file`, else the chain's environment variable.
fn key_text(chain: Chain, file: Option<&Path>) -> Result<String, CliError> {
    let env = match chain {
        Chain::Evm => EVM_KEY_ENV,
        Chain::Solana => SOLANA_KEY_ENV,
    };
    match file {
        Some(path) => std::fs::read_to_string(path).map_err(|err| {
            CliError::new(exit::INPUT, format!("key file {}: {err}", path.display()))
        }),
        None => std::env::var(env).map_err(|_| {
            CliError::new(
                exit::INPUT,
                format!(
                    "no key: set {env} or pass --key-file (keys are never read from arguments)"
                ),
            )
        }),
    }
}

/// The EVM key from `file` or `$T402_PRIVATE_KEY`.
pub(crate) fn evm_key(file: Option<&Path>) -> Result<PrivateKeySigner, CliError> {
    key_text(Chain::Evm, file)?
        .trim()
        .parse()
        .map_err(|_| CliError::new(exit::INPUT, "the key is not a hex private key"))
}

/// The Solana key from `file` or `$T402_SOLANA_KEY`: a JSON array of 64 bytes (secret then
/// public, checked to agree) or of 32, or base58 of either.
pub(crate) fn solana_key(file: Option<&Path>) -> Result<SigningKey, CliError> {
    parse_solana_key(&key_text(Chain::Solana, file)?)
}

/// A Solana key from its text: a JSON array of 64 bytes (secret then public, checked to agree)
/// or of 32, or base58 of either.
pub(crate) fn parse_solana_key(text: &str) -> Result<SigningKey, CliError> {
    let text = text.trim();
    let bytes: Vec<u8> = if text.starts_with('[') {
        serde_json::from_str(text)
            .map_err(|_| CliError::new(exit::INPUT, "the key is not a JSON array of bytes"))?
    } else {
        bs58::decode(text)
            .into_vec()
            .map_err(|_| CliError::new(exit::INPUT, "the key is not base58"))?
    };
    let bad = || CliError::new(exit::INPUT, "a Solana key has 64 bytes (or 32)");
    let secret: [u8; 32] = bytes
        .get(..32)
        .ok_or_else(bad)?
        .try_into()
        .map_err(|_| bad())?;
    let key = SigningKey::from_bytes(&secret);
    match bytes.len() {
        32 => Ok(key),
        64 if bytes[32..] == key.verifying_key().to_bytes() => Ok(key),
        64 => Err(CliError::new(
            exit::INPUT,
            "the key's public half does not match its secret half",
        )),
        _ => Err(bad()),
    }
}

/// A Solana address (base58 of the public key).
pub(crate) fn solana_address(key: &SigningKey) -> String {
    bs58::encode(key.verifying_key().to_bytes()).into_string()
}

/// Makes a key for `chain`, writes it to `out` (created with mode 0600; an existing file is
/// kept unless `force`), and returns its address.
pub(crate) fn keygen(chain: Chain, out: &Path, force: bool) -> Result<String, CliError> {
    let (text, address) = match chain {
        Chain::Evm => {
            let key = PrivateKeySigner::random();
            (
                format!("0x{}\n", alloy_primitives::hex::encode(key.to_bytes())),
                key.address().to_checksum(None),
            )
        }
        Chain::Solana => {
            let key = SigningKey::from_bytes(&alloy_primitives::B256::random().0);
            let mut pair = key.to_bytes().to_vec();
            pair.extend_from_slice(&key.verifying_key().to_bytes());
            (
                format!("{}\n", serde_json::to_string(&pair).unwrap_or_default()),
                solana_address(&key),
            )
        }
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(out).map_err(|err| {
        CliError::new(
            exit::INPUT,
            format!(
                "{}: {err}{}",
                out.display(),
                if force { "" } else { " (--force replaces it)" }
            ),
        )
    })?;
    #[cfg(unix)]
    {
        // A file that existed keeps its mode on open: set it.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|err| CliError::new(exit::INPUT, format!("{}: {err}", out.display())))?;
    }
    file.write_all(text.as_bytes())
        .map_err(|err| CliError::new(exit::INPUT, format!("{}: {err}", out.display())))?;
    Ok(address)
}
