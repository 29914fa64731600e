//! The paywall page rendered by a real browser (headless Chromium from Debian's `chromium`
//! package): the text a person sees shows the amount in token units and the network.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

#[tokio::test]
async fn chromium_shows_the_amount_and_the_network() {
    let Some(chromium) = t402_testkit::chromium() else {
        return;
    };
    let world = World::new();
    let app = world.app(world.builder_with(world.facilitator.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/paid", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let profile = std::env::temp_dir().join(format!("t402-chromium-{}", std::process::id()));
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(&url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        // Chromium exits once the DOM is dumped; kill it if it hangs.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().unwrap();
        let _ = std::fs::remove_dir_all(&profile);
        String::from_utf8_lossy(&output.stdout).into_owned()
    })
    .await
    .unwrap();

    assert!(
        output.contains("<title>Payment required</title>"),
        "{output}"
    );
    assert!(output.contains("0.01 USD Coin"), "{output}");
    assert!(output.contains("on eip155:31337"), "{output}");
    assert!(output.contains(&world.pay_to.to_checksum(None)));
    assert_eq!(world.handled(), 0);
}
