//! Metered streaming on an in-process chain: `cargo run --example metered_stream`.
//!
//! A server-sent-events endpoint bills generated tokens under an `upto` ceiling; the t402 client
//! pays, reads the stream, and gets the receipt as its last event.

#[tokio::main]
async fn main() {
    let mut out = std::io::stdout();
    if let Err(err) = t402_examples::metered_stream::run(&mut out).await {
        eprintln!("metered_stream failed: {err}");
        std::process::exit(1);
    }
}
