//! An agent paying several APIs within one budget: `cargo run --example agent`.
//!
//! Three paid APIs on an in-process devnet; one client with a budget of 0.30 USDC per hour works
//! through a plan of calls, pays while the budget allows, and prints its ledger.

#[tokio::main]
async fn main() {
    let mut out = std::io::stdout();
    if let Err(err) = t402_examples::agent::run(&mut out).await {
        eprintln!("agent failed: {err}");
        std::process::exit(1);
    }
}
