//! A paid request on Solana end to end on an in-process runtime: `cargo run --example solana`.
//!
//! litesvm runs the SPL Token program; a facilitator pays the fees; a client pays for a route
//! with a `TransferChecked`. No validator, no keys to set up, no network beyond loopback.

#[tokio::main]
async fn main() {
    let mut out = std::io::stdout();
    if let Err(err) = t402_examples::solana::run(&mut out).await {
        eprintln!("solana example failed: {err}");
        std::process::exit(1);
    }
}
