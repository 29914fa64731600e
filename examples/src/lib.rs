//! Runnable t402 examples; see the `[[example]]` targets of this package. The example API's
//! code lives here so its tests can run it.

pub mod agent;
pub mod facilitator;
pub mod mcp_paid_tool;
pub mod metered_stream;
pub mod paid_api;
pub mod quickstart;
pub mod solana;

/// The guide's pages, whose Rust blocks are compiled here as doctests, so no snippet in `docs/`
/// can stop compiling unnoticed (mdBook renders the same files; `# ` lines are hidden there).
// The pages are written for mdBook, not rustdoc: clippy's doc-comment style lints do not apply.
#[allow(clippy::style)]
pub mod guide {
    #[doc = include_str!("../../docs/src/architecture.md")]
    pub mod architecture {}
    #[doc = include_str!("../../docs/src/base-sepolia.md")]
    pub mod base_sepolia {}
    #[doc = include_str!("../../docs/src/benchmarks.md")]
    pub mod benchmarks {}
    #[doc = include_str!("../../docs/src/cli.md")]
    pub mod cli {}
    #[doc = include_str!("../../docs/src/client.md")]
    pub mod client {}
    #[doc = include_str!("../../docs/src/concepts.md")]
    pub mod concepts {}
    #[doc = include_str!("../../docs/src/evm.md")]
    pub mod evm {}
    #[doc = include_str!("../../docs/src/upto.md")]
    pub mod upto {}
    #[doc = include_str!("../../docs/src/mcp.md")]
    pub mod mcp {}
    #[doc = include_str!("../../docs/src/facilitator.md")]
    pub mod facilitator {}
    #[doc = include_str!("../../docs/src/gateway.md")]
    pub mod gateway {}
    #[doc = include_str!("../../docs/src/interop.md")]
    pub mod interop {}
    #[doc = include_str!("../../docs/src/introduction.md")]
    pub mod introduction {}
    #[doc = include_str!("../../docs/src/money.md")]
    pub mod money {}
    #[doc = include_str!("../../docs/src/quickstart.md")]
    pub mod quickstart {}
    #[doc = include_str!("../../docs/src/reason-codes.md")]
    pub mod reason_codes {}
    #[doc = include_str!("../../docs/src/security.md")]
    pub mod security {}
    #[doc = include_str!("../../docs/src/server.md")]
    pub mod server {}
    #[doc = include_str!("../../docs/src/svm.md")]
    pub mod svm {}
    #[doc = include_str!("../../docs/src/wire-format.md")]
    pub mod wire_format {}

    /// The pages included above: a test checks that it is every page of the guide.
    pub const PAGES: &[&str] = &[
        "architecture",
        "base-sepolia",
        "benchmarks",
        "cli",
        "client",
        "concepts",
        "evm",
        "facilitator",
        "gateway",
        "interop",
        "introduction",
        "mcp",
        "money",
        "quickstart",
        "reason-codes",
        "security",
        "server",
        "svm",
        "upto",
        "wire-format",
    ];
}
