//! The committed contract artifacts are what solcjs (pinned in package-lock.json) compiles from
//! the committed sources, and they carry the functions the facilitator calls.

use std::path::PathBuf;
use std::process::Command;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn artifacts_match_a_fresh_compile() {
    let root = workspace_root();
    if !root.join("node_modules/solc").exists() {
        if std::env::var_os("T402_SKIP_EXTERNAL").is_some() {
            eprintln!("skipped: solcjs is not installed (T402_SKIP_EXTERNAL is set)");
            return;
        }
        panic!("solcjs is not installed: run `npm ci` at the repository root (scripts/test does)");
    }
    let output = Command::new("node")
        .arg("scripts/build-contracts.mjs")
        .arg("--check")
        .current_dir(&root)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn token_exposes_both_eip3009_overloads() {
    let path = workspace_root().join("t402-evm/contracts/artifacts/T402TestToken.json");
    let artifact: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let code = artifact["deployedBytecode"].as_str().unwrap();
    // Function selectors appear in the dispatcher of the deployed code.
    for (selector, what) in [
        ("e3ee160e", "transferWithAuthorization(..., v, r, s)"),
        ("cf092995", "transferWithAuthorization(..., bytes)"),
        ("ef55bec6", "receiveWithAuthorization(..., v, r, s)"),
        ("e94a0102", "authorizationState(address,bytes32)"),
        (
            "5a049a70",
            "cancelAuthorization(address,bytes32,uint8,bytes32,bytes32)",
        ),
        ("d505accf", "permit(...)"),
        ("70a08231", "balanceOf(address)"),
        ("54fd4d50", "version()"),
        ("06fdde03", "name()"),
    ] {
        assert!(code.contains(selector), "{what} ({selector}) missing");
    }
}
