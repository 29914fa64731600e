//! What the `t402` binary's test suites share: the binary, keys as text, and a
//! `t402 facilitator` process.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};

use alloy_signer_local::PrivateKeySigner;
use assert_cmd::Command;

/// The binary under test.
pub fn t402() -> Command {
    Command::cargo_bin("t402").unwrap()
}

/// An EVM key as `0x…` hex.
pub fn key_hex(key: &PrivateKeySigner) -> String {
    format!("0x{}", alloy_primitives::hex::encode(key.to_bytes()))
}

/// A `t402 facilitator` process, killed (SIGKILL) on drop.
pub struct Facilitator {
    pub child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The rest of its standard output.
    pub stdout: Option<BufReader<std::process::ChildStdout>>,
}

impl Facilitator {
    /// The next line the process prints.
    pub async fn next_line(&mut self) -> String {
        let mut reader = self.stdout.take().expect("standard output is read");
        let (reader, line) = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            (reader, line)
        })
        .await
        .unwrap();
        self.stdout = Some(reader);
        line
    }
}

impl Drop for Facilitator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `t402 facilitator <args> --config <config>` with `envs` and reads the address it
/// prints.
pub async fn start_facilitator(
    config: &std::path::Path,
    args: &[&str],
    envs: &[(&str, String)],
) -> Facilitator {
    let mut all = vec!["facilitator"];
    all.extend_from_slice(args);
    all.push("--config");
    start_command(&all, config, envs, "facilitator listening on ").await
}

/// Starts `t402 <args> <config>` with `envs` and reads the address from the first line, which
/// starts with `prefix`.
pub async fn start_command(
    args: &[&str],
    config: &std::path::Path,
    envs: &[(&str, String)],
    prefix: &str,
) -> Facilitator {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("t402"))
        .args(args)
        .arg(config)
        .envs(envs.iter().map(|(name, value)| (*name, value)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (reader, line) = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        (reader, line)
    })
    .await
    .unwrap();
    let base = line
        .trim()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("the process prints its address: {line:?}"))
        .to_owned();
    Facilitator {
        child,
        base,
        stdout: Some(reader),
    }
}
