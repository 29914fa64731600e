//! A facilitator inside your own axum app: `cargo run --example facilitator`.
//!
//! The facilitator service nested under `/x402` beside the app's own routes, on an in-process
//! devnet; a paid API settles through it over HTTP, and a client pays.

#[tokio::main]
async fn main() {
    let mut out = std::io::stdout();
    if let Err(err) = t402_examples::facilitator::run(&mut out).await {
        eprintln!("facilitator example failed: {err}");
        std::process::exit(1);
    }
}
