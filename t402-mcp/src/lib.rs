#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
pub mod codec;
mod hooks;
mod server;

pub use client::{McpPayError, PaidToolResult, PayingClient};
pub use hooks::{NoHooks, PaidCall, PaidToolHooks};
pub use server::{PaidTool, PaidTools};
