//! The `t402` command-line tool.
//!
//! Its commands (`decode`, `inspect`, `pay`, `facilitator`) are built on the t402 crates as they
//! land; until then it says so and exits with status 2.

fn main() {
    eprintln!(
        "t402 {}: the command-line tool is not built yet; decode headers with \
         `cargo run --example decode_headers -- <base64>`",
        env!("CARGO_PKG_VERSION")
    );
    std::process::exit(2);
}
