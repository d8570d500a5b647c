//! The fidelity rule in a real browser: headless Chromium loads each fixture story's article page
//! and its `innerText` — what a reader actually sees — must equal the text the agency sent.
//!
//! Verbatim's pages allow only their own script file (CSP), so the test serves each page's exact
//! HTML from its own server on another 127.0.0.1 port with one script appended that writes the article's
//! `innerText` into the DOM, and reads it back from `chromium --dump-dom`. The stylesheet still
//! comes from Verbatim (a `<base>` element), since CSS decides what `innerText` returns.
//!
//! Needs Debian's `chromium` (or `$VERBATIM_CHROMIUM`): skipped with a printed reason when it is
//! missing, a failure under `VERBATIM_REQUIRE_ALL=1` (CI installs it).

mod util;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use util::{DataDir, chromium, fixture, stderr};

#[derive(serde::Deserialize)]
struct Expected {
    headline: String,
    body_text: String,
}

/// Serves each path's HTML from a map, on a new 127.0.0.1 port.
fn serve_pages(pages: BTreeMap<String, String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("{error}"));
    let base = format!(
        "http://{}",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 8192];
            let read = stream.read(&mut request).unwrap_or(0);
            let head = String::from_utf8_lossy(&request[..read]);
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, body) = match pages.get(&path) {
                Some(body) => ("200 OK", body.clone()),
                None => ("404 Not Found", String::new()),
            };
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    base
}

/// What a reader's browser shows: the article body's and headline's `innerText`.
fn inner_text(chromium: &PathBuf, url: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start chromium: {error}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish loading {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut dom = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut dom);
    }
    let document = scraper::Html::parse_document(&dom);
    let selector =
        scraper::Selector::parse("#verbatim-innertext").unwrap_or_else(|error| panic!("{error:?}"));
    let json: String = document
        .select(&selector)
        .next()
        .map(|element| element.text().collect())
        .unwrap_or_else(|| panic!("no innerText written for {url}:\n{dom}"));
    let value: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|error| panic!("{error}: {json}"));
    (
        value["headline"].as_str().unwrap_or_default().to_string(),
        value["body"].as_str().unwrap_or_default().to_string(),
    )
}

const PROBE: &str = r#"<textarea id="verbatim-innertext"></textarea><script>
var body = document.querySelector('article .body');
var headline = document.querySelector('article h1.headline');
document.getElementById('verbatim-innertext').textContent =
  JSON.stringify({ body: body ? body.innerText : null, headline: headline ? headline.innerText : null });
</script>"#;

#[test]
fn the_article_a_browser_shows_is_the_agency_text() {
    let Some(chromium) = chromium() else {
        return;
    };
    let data = DataDir::new();
    let output = data.run(&[
        "ingest",
        "--source",
        "fidelity",
        fixture("fidelity.rss").to_str().unwrap_or_default(),
        fixture("fidelity.atom").to_str().unwrap_or_default(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let expected: BTreeMap<String, Expected> = serde_json::from_str(
        &std::fs::read_to_string(fixture("fidelity.expected.json")).unwrap_or_default(),
    )
    .unwrap_or_else(|error| panic!("{error}"));

    let server = data.serve(&[]);
    let (_, list) = server.get_json("/api/v1/items?limit=100");
    let items = list["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), expected.len());
    let mut pages = BTreeMap::new();
    let mut guids = BTreeMap::new();
    for item in &items {
        let id = item["id"].as_str().unwrap_or_default().to_string();
        let (status, page) = server.get_text(&format!("/items/{id}"));
        assert_eq!(status, 200);
        let page = page
            .replacen(
                "<head>",
                &format!("<head><base href=\"{}/\">", server.base),
                1,
            )
            .replacen("</body>", &format!("{PROBE}</body>"), 1);
        pages.insert(format!("/{id}.html"), page);
        guids.insert(id, item["guid"].as_str().unwrap_or_default().to_string());
    }
    let copies = serve_pages(pages);

    let mut failures = Vec::new();
    for (id, guid) in &guids {
        let want = &expected[guid];
        let (headline, body) = inner_text(&chromium, &format!("{copies}/{id}.html"));
        if body != want.body_text {
            failures.push(format!(
                "{guid}: innerText of the body\n  browser: {body:?}\n  agency:  {:?}",
                want.body_text
            ));
        }
        if verbatim_normalize::fold_line(&headline) != want.headline {
            failures.push(format!(
                "{guid}: innerText of the headline\n  browser: {headline:?}\n  agency:  {:?}",
                want.headline
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
