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

#[test]
fn permit2_and_the_proxies_expose_the_reference_selectors() {
    let code = |name: &str| {
        let path = workspace_root().join(format!("t402-evm/contracts/artifacts/{name}.json"));
        let artifact: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        artifact["deployedBytecode"].as_str().unwrap().to_owned()
    };
    for (contract, selector, what) in [
        ("T402ExactPermit2Proxy", "13cd3b53", "settle (exact)"),
        (
            "T402ExactPermit2Proxy",
            "fa340378",
            "settleWithPermit (exact)",
        ),
        ("T402ExactPermit2Proxy", "6afdd850", "PERMIT2()"),
        ("T402UptoPermit2Proxy", "ff11e7b4", "settle (upto)"),
        (
            "T402UptoPermit2Proxy",
            "016c1748",
            "settleWithPermit (upto)",
        ),
        ("T402UptoPermit2Proxy", "6afdd850", "PERMIT2()"),
        ("T402Permit2", "137c29fe", "permitWitnessTransferFrom"),
        ("T402Permit2", "4fe02b44", "nonceBitmap"),
        ("T402Permit2", "3ff9dcb1", "invalidateUnorderedNonces"),
        ("T402Permit2", "3644e515", "DOMAIN_SEPARATOR()"),
        ("T402PermitToken", "d505accf", "permit(...)"),
        ("T402PermitToken", "7ecebe00", "nonces(address)"),
        ("T402PermitToken", "dd62ed3e", "allowance(address,address)"),
    ] {
        assert!(
            code(contract).contains(selector),
            "{contract}: {what} ({selector}) missing"
        );
    }
    // The permit token has no EIP-3009.
    assert!(!code("T402PermitToken").contains("e3ee160e"));
}
