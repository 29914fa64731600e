//! Every page of the guide is included in `t402_examples::guide`, so its Rust blocks are compiled
//! as doctests.

#[test]
fn every_guide_page_is_compiled() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/src");
    let mut pages: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let page = name.strip_suffix(".md")?.to_owned();
            (page != "SUMMARY").then_some(page)
        })
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        t402_examples::guide::PAGES,
        "add the page to examples/src/lib.rs"
    );
}
