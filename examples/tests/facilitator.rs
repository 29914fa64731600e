//! The facilitator nested in an app serves its routes beside the app's, and a paid API settles
//! through it over HTTP.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_facilitator_nested_in_an_app_settles_a_paid_request() {
    let mut out = Vec::new();
    let run = t402_examples::facilitator::run(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(run.status, "all systems go");
    assert_eq!(run.supported["kinds"][0]["network"], "eip155:31337");
    assert_eq!(run.supported["kinds"][0]["scheme"], "exact");
    assert!(run.transaction.starts_with("0x") && run.transaction.len() == 66);
    assert!(text.contains(&run.transaction), "{text}");
    assert!(text.contains("-> 200, settled through"), "{text}");
}
