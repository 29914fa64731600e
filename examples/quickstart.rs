//! A paid request end to end on an in-process chain: `cargo run --example quickstart`.
//!
//! It starts an in-process devnet with a test USDC, a facilitator, an axum server with a priced
//! route, and a client that pays for it, printing each step. No node, no keys, no network.

#[tokio::main]
async fn main() {
    let mut out = std::io::stdout();
    match t402_examples::quickstart::run(&mut out).await {
        Ok(outcome) => {
            println!("done       paid request settled in {}", outcome.transaction);
        }
        Err(err) => {
            eprintln!("quickstart failed: {err}");
            std::process::exit(1);
        }
    }
}
