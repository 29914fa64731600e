//! The `t402` command-line tool: decode payment headers, inspect and pay priced URLs, run a
//! facilitator. Errors are one line with the reason and its T402 code; exit codes are listed in
//! `docs/src/cli.md`.

mod decode;
mod error;
mod facilitator;
mod inspect;
mod pay;

use std::io::Read;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use t402_core::Network;

use crate::error::{CliError, exit};

/// Pay and get paid over HTTP with 402 Payment Required.
#[derive(Debug, Parser)]
#[command(name = "t402", version, about)]
struct Cli {
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
        #[arg(long, default_value = "0.10")]
        max: String,
        /// Only pay on this network (repeatable).
        #[arg(long)]
        network: Vec<String>,
        /// Also pay with this token: `NETWORK,ASSET,DECIMALS` (capped by --max).
        #[arg(long)]
        asset: Vec<String>,
        /// A file holding the hex private key.
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Serve the facilitator HTTP service for the chains of a TOML file.
    Facilitator {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Listen here instead of the file's `listen` (`127.0.0.1:4020`).
        #[arg(long)]
        listen: Option<String>,
        /// Check the configuration: read it, connect to every chain and the store, print what
        /// would be served, and exit.
        #[arg(long)]
        check: bool,
    },
}

fn parse_network(text: &str) -> Result<Network, CliError> {
    Network::parse_lenient(text)
        .map_err(|err| CliError::new(exit::INPUT, format!("network {text}: {err}")))
}

async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
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
            let (kind, json) = decode::decode(&value)?;
            println!("kind: {}", kind.label());
            println!(
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            );
        }
        Command::Inspect { url } => print!("{}", inspect::inspect(&url).await?),
        Command::Pay {
            url,
            max,
            network,
            asset,
            key_file,
        } => {
            let key = pay::load_key(key_file.as_deref())?;
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
            };
            let outcome = pay::pay(&url, key, &options).await?;
            print!("{}", outcome.text);
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
        } => facilitator::check(&config, listen.as_deref()).await?,
        Command::Facilitator { config, listen, .. } => {
            facilitator::serve(&config, listen.as_deref()).await?
        }
    }
    Ok(())
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
    if let Err(err) = run(cli).await {
        eprintln!("{}", err.line());
        std::process::exit(err.code);
    }
}
