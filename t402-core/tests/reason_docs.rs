//! `docs/src/reason-codes.md` is generated from the reason table and must stay current.

#[test]
fn reason_code_page_is_current() {
    let path = format!("{}/../docs/src/reason-codes.md", env!("CARGO_MANIFEST_DIR"));
    let expected = t402_core::reason::reason_table_markdown();
    if std::env::var_os("T402_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{path} is out of date: run `T402_BLESS=1 cargo test -p t402-core --test reason_docs`"
    );
}
