//! A paid MCP tool on an in-process chain: `cargo run --example mcp_paid_tool`.

#[tokio::main]
async fn main() {
    let mut out = std::io::stdout();
    if let Err(err) = t402_examples::mcp_paid_tool::run(&mut out).await {
        eprintln!("mcp_paid_tool failed: {err}");
        std::process::exit(1);
    }
}
