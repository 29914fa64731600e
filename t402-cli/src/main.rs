//! The `t402` command-line tool: decode payment headers, inspect and pay priced URLs, run a
//! facilitator. Errors are one line with the reason and its T402 code; exit codes are listed in
//! `docs/src/cli.md`.

mod approve;
mod balance;
mod decode;
mod error;
mod facilitator;
mod gateway;
mod inspect;
mod keys;
mod output;
mod pay;
mod supported;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use serde_json::json;
use t402_core::Network;

use crate::error::{CliError, exit};
use crate::keys::Chain;
use crate::output::Output;

/// Pay and get paid over HTTP with 402 Payment Required.
#[derive(Debug, Parser)]
#[command(name = "t402", version, about)]
struct Cli {
    /// Print JSON (for scripts) instead of text; errors too, on standard error.
    #[arg(long, global = true, env = "T402_JSON")]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode a payment header (any of the five) or a v1 402 body; `-` reads standard input.
    Decode {
        /// The base64 value, a v1 JSON body, or `-`.
        value: String,
    },
    /// Show what a URL asks for, as a table.
    Inspect {
        /// The URL.
        url: String,
    },
    /// Pay for a URL with the key in $T402_PRIVATE_KEY or --key-file.
    Pay {
        /// The URL.
        url: String,
        /// The most to pay per request, in token units of a USD stablecoin (or of --asset).
        #[arg(long, default_value = "0.10", env = "T402_MAX")]
        max: String,
        /// Only pay on this network (repeatable).
        #[arg(long)]
        network: Vec<String>,
        /// Also pay with this token: `NETWORK,ASSET,DECIMALS` (capped by --max).
        #[arg(long)]
        asset: Vec<String>,
        /// A file holding the hex private key.
        #[arg(long, env = "T402_KEY_FILE")]
        key_file: Option<PathBuf>,
        /// A file holding a Solana key (else $T402_SOLANA_KEY); Solana payments also need the
        /// cluster's JSON-RPC URL in $T402_SOLANA_RPC_URL.
        #[arg(long, env = "T402_SOLANA_KEY_FILE")]
        solana_key_file: Option<PathBuf>,
        /// The method (default GET, or POST with --data).
        #[arg(short = 'X', long)]
        method: Option<String>,
        /// A header, `Name: value` (repeatable).
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// The request body, or `@file` to send a file.
        #[arg(short = 'd', long)]
        data: Option<String>,
        /// Write the response body to this file, byte for byte.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Seconds the whole exchange may take.
        #[arg(long, default_value_t = 60, env = "T402_TIMEOUT")]
        timeout: u64,
        /// Show what would be paid and stop before signing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Serve the facilitator HTTP service for the chains of a TOML file.
    Facilitator {
        /// The configuration file.
        #[arg(long, env = "T402_FACILITATOR_CONFIG")]
        config: PathBuf,
        /// Listen here instead of the file's `listen` (`127.0.0.1:4020`).
        #[arg(long)]
        listen: Option<String>,
        /// Check the configuration: read it, connect to every chain and the store, print what
        /// would be served, and exit.
        #[arg(long)]
        check: bool,
    },
    /// Put a price on routes of an existing HTTP API: a paying reverse proxy in front of it.
    Gateway {
        /// The configuration file.
        #[arg(long, env = "T402_GATEWAY_CONFIG")]
        config: PathBuf,
        /// Listen here instead of the file's `listen`.
        #[arg(long)]
        listen: Option<String>,
        /// Check the configuration (variables set, routes valid), print the routes and exit.
        #[arg(long)]
        check: bool,
    },
    /// Make a key, write it to a file readable by you alone (mode 0600), print its address.
    Keygen {
        /// The chain family.
        #[arg(long, value_enum)]
        chain: Chain,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print the address of the key in $T402_PRIVATE_KEY ($T402_SOLANA_KEY) or --key-file.
    Address {
        /// The chain family.
        #[arg(long, value_enum, default_value = "evm")]
        chain: Chain,
        /// A file holding the key.
        #[arg(long, env = "T402_KEY_FILE")]
        key_file: Option<PathBuf>,
    },
    /// What an address holds of a token, read from the node at $T402_RPC_URL (EVM or Solana).
    Balance {
        /// The network (`eip155:84532`, or a v1 name such as `base-sepolia`).
        network: String,
        /// The token (default: the network's USDC).
        #[arg(long)]
        asset: Option<String>,
        /// The token's decimals, when it is not a default stablecoin.
        #[arg(long)]
        decimals: Option<u8>,
        /// The holder (default: the address of your key).
        #[arg(long)]
        address: Option<String>,
        /// A file holding the key whose address is read.
        #[arg(long, env = "T402_KEY_FILE")]
        key_file: Option<PathBuf>,
    },
    /// Approve Permit2 to move your tokens (once per token), so the key in $T402_PRIVATE_KEY
    /// (or --key-file) can pay offers over Permit2; sent to the node at $T402_RPC_URL.
    ApprovePermit2 {
        /// The network (`eip155:84532`, or a v1 name such as `base-sepolia`).
        network: String,
        /// The token contract.
        token: String,
        /// A file holding the key.
        #[arg(long, env = "T402_KEY_FILE")]
        key_file: Option<PathBuf>,
    },
    /// What a facilitator supports (`GET /supported`; API key from $T402_FACILITATOR_API_KEY).
    Supported {
        /// The facilitator's base URL.
        url: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
    },
    /// Print a completion script for a shell.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn parse_network(text: &str) -> Result<Network, CliError> {
    Network::parse_lenient(text)
        .map_err(|err| CliError::new(exit::INPUT, format!("network {text}: {err}")))
}

async fn run(command: Command, json: bool) -> Result<(), CliError> {
    match command {
        Command::Decode { value } => {
            let value = if value == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|err| CliError::new(exit::INPUT, err.to_string()))?;
                text
            } else {
                value
            };
            let (kind, decoded) = decode::decode(&value)?;
            let text = format!(
                "kind: {}\n{}\n",
                kind.label(),
                serde_json::to_string_pretty(&decoded).unwrap_or_default()
            );
            Output::new(text, json!({"kind": kind.label(), "value": decoded})).print(json);
        }
        Command::Inspect { url } => inspect::inspect(&url).await?.print(json),
        Command::Pay {
            url,
            max,
            network,
            asset,
            key_file,
            solana_key_file,
            method,
            headers,
            data,
            output,
            timeout,
            dry_run,
        } => {
            let keys = pay_keys(key_file.as_deref(), solana_key_file.as_deref())?;
            let networks = network
                .iter()
                .map(|n| parse_network(n))
                .collect::<Result<Vec<_>, _>>()?;
            let mut assets = Vec::new();
            for spec in &asset {
                let parts: Vec<&str> = spec.split(',').collect();
                let [network, address, decimals] = parts[..] else {
                    return Err(CliError::new(
                        exit::INPUT,
                        format!("--asset {spec}: expected NETWORK,ASSET,DECIMALS"),
                    ));
                };
                let decimals = decimals
                    .parse()
                    .map_err(|_| CliError::new(exit::INPUT, format!("--asset {spec}: decimals")))?;
                assets.push((parse_network(network)?, address.to_owned(), decimals));
            }
            let options = pay::PayOptions {
                max,
                networks,
                assets,
                method,
                headers,
                data,
                output,
                timeout: Duration::from_secs(timeout),
                dry_run,
            };
            let outcome = pay::pay(&url, keys, &options).await?;
            if json {
                outcome.output.print(true);
            } else {
                print!("{}", outcome.output.text);
                if let Some(body) = &outcome.body {
                    // The body as it came, binary or not.
                    let mut stdout = std::io::stdout().lock();
                    let _ = stdout.write_all(body);
                    if !body.ends_with(b"\n") && std::str::from_utf8(body).is_ok() {
                        let _ = stdout.write_all(b"\n");
                    }
                }
            }
            if !outcome.success {
                return Err(CliError::new(
                    exit::FAILED_ANSWER,
                    "the final answer is not a success (the response is printed above)",
                ));
            }
        }
        Command::Facilitator {
            config,
            listen,
            check: true,
        } => facilitator::check(&config, listen.as_deref())
            .await?
            .print(json),
        Command::Facilitator { config, listen, .. } => {
            facilitator::serve(&config, listen.as_deref()).await?
        }
        Command::Gateway {
            config,
            check: true,
            ..
        } => gateway::check(&config).await?.print(json),
        Command::Gateway { config, listen, .. } => {
            gateway::serve(&config, listen.as_deref()).await?
        }
        Command::Keygen { chain, out, force } => {
            let address = keys::keygen(chain, &out, force)?;
            Output::new(
                format!("{address}\nkey written to {} (mode 0600)\n", out.display()),
                json!({"chain": chain_name(chain), "address": address, "file": out.display().to_string()}),
            )
            .print(json);
        }
        Command::ApprovePermit2 {
            network,
            token,
            key_file,
        } => {
            let network = parse_network(&network)?;
            let key = keys::evm_key(key_file.as_deref())?;
            approve::approve_permit2(&network, &token, key)
                .await?
                .print(json);
        }
        Command::Address { chain, key_file } => {
            let address = match chain {
                Chain::Evm => keys::evm_key(key_file.as_deref())?
                    .address()
                    .to_checksum(None),
                Chain::Solana => keys::solana_address(&keys::solana_key(key_file.as_deref())?),
            };
            Output::new(
                format!("{address}\n"),
                json!({"chain": chain_name(chain), "address": address}),
            )
            .print(json);
        }
        Command::Balance {
            network,
            asset,
            decimals,
            address,
            key_file,
        } => {
            let network = parse_network(&network)?;
            let bad_address =
                |address: &str| CliError::new(exit::INPUT, format!("--address {address}"));
            let output = if network.as_str().starts_with("solana:") {
                let holder = match &address {
                    Some(address) => address.parse().map_err(|_| bad_address(address))?,
                    None => t402_svm::pubkey::Pubkey(
                        keys::solana_key(key_file.as_deref())?
                            .verifying_key()
                            .to_bytes(),
                    ),
                };
                balance::solana_balance(&network, asset.as_deref(), holder).await?
            } else {
                let holder = match &address {
                    Some(address) => address.parse().map_err(|_| bad_address(address))?,
                    None => keys::evm_key(key_file.as_deref())?.address(),
                };
                balance::balance(&network, asset.as_deref(), decimals, holder).await?
            };
            output.print(json);
        }
        Command::Supported { url, timeout } => {
            supported::supported(&url, Duration::from_secs(timeout))
                .await?
                .print(json);
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "t402", &mut std::io::stdout());
        }
    }
    Ok(())
}

/// The keys `pay` may use: each one given (a file) or present in the environment; at least one.
fn pay_keys(
    evm_file: Option<&std::path::Path>,
    solana_file: Option<&std::path::Path>,
) -> Result<pay::PayKeys, CliError> {
    let evm = match keys::evm_key(evm_file) {
        Ok(key) => Some(key),
        Err(err) if evm_file.is_some() || std::env::var_os(keys::EVM_KEY_ENV).is_some() => {
            return Err(err);
        }
        Err(_) => None,
    };
    let solana = match keys::solana_key(solana_file) {
        Ok(key) => {
            let url = std::env::var(pay::SOLANA_RPC_URL_ENV).map_err(|_| {
                CliError::new(
                    exit::INPUT,
                    format!(
                        "a Solana key needs the cluster's JSON-RPC URL in {}",
                        pay::SOLANA_RPC_URL_ENV
                    ),
                )
            })?;
            Some((key, url))
        }
        Err(err) if solana_file.is_some() || std::env::var_os(keys::SOLANA_KEY_ENV).is_some() => {
            return Err(err);
        }
        Err(_) => None,
    };
    if evm.is_none() && solana.is_none() {
        return Err(CliError::new(
            exit::INPUT,
            format!(
                "no key: set {} (EVM) or {} (Solana), or pass --key-file / --solana-key-file \
                 (keys are never read from arguments)",
                keys::EVM_KEY_ENV,
                keys::SOLANA_KEY_ENV
            ),
        ));
    }
    Ok(pay::PayKeys { evm, solana })
}

fn chain_name(chain: Chain) -> &'static str {
    match chain {
        Chain::Evm => "evm",
        Chain::Solana => "solana",
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("T402_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Usage errors exit with the "invalid input" code, not clap's 2 (which means "could not be
    // reached" here); help and version exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { exit::INPUT } else { 0 };
            let _ = err.print();
            std::process::exit(code);
        }
    };
    let json = cli.json;
    if let Err(err) = run(cli.command, json).await {
        if json {
            eprintln!("{}", err.json());
        } else {
            eprintln!("{}", err.line());
        }
        std::process::exit(err.code);
    }
}
