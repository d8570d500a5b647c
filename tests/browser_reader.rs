//! The reader's side in a real browser: headless Chromium, driven over the DevTools protocol
//! (`headless_chrome`), against the real server on 127.0.0.1. The front page renders; typing a
//! query on the search page finds a story; an article shows the agency's text; a new story
//! arrives live on an open front page and a killed one vanishes from it; axe-core finds no
//! serious or critical accessibility problem on the front, article and search pages.
//! Screenshots are saved to `$CARGO_TARGET_TMPDIR/screenshots/` (the test artifacts).
//!
//! Needs Debian's `chromium` and axe-core (`.ci/run` installs both; axe-core from npm into
//! `~/.cache/verbatim-npm`, or set `VERBATIM_AXE` to `axe.min.js`). Skipped with a printed
//! reason when either is missing; a failure under `VERBATIM_REQUIRE_ALL=1`.

mod util;

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::json;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;
use util::{DataDir, chromium};

fn axe_source() -> Option<String> {
    let path = std::env::var("VERBATIM_AXE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/verbatim-npm/node_modules/axe-core/axe.min.js")
        });
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(error) => {
            assert!(
                std::env::var("VERBATIM_REQUIRE_ALL").is_err(),
                "VERBATIM_REQUIRE_ALL is set but axe-core is missing at {}: {error}",
                path.display()
            );
            eprintln!(
                "skipped: axe-core not found at {} ({error})",
                path.display()
            );
            None
        }
    }
}

fn ingest(data: &DataDir, name: &str, item: serde_json::Value) {
    data.ingest_as("wire", &format!("{name}.json"), &item.to_string());
}

fn story(
    uri: &str,
    version: u64,
    pubstatus: &str,
    headline: &str,
    body: &str,
) -> serde_json::Value {
    json!({
        "uri": uri, "version": version.to_string(), "pubstatus": pubstatus, "language": "en",
        "versioncreated": chrono::Utc::now().to_rfc3339(), "headline": headline, "body_text": body,
    })
}

fn screenshot(tab: &Tab, name: &str) {
    let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let _ = std::fs::create_dir_all(&folder);
    match tab.capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true) {
        Ok(png) => {
            let path = folder.join(format!("{name}.png"));
            let _ = std::fs::write(&path, png);
            eprintln!("screenshot: {}", path.display());
        }
        Err(error) => eprintln!("no screenshot of {name}: {error}"),
    }
}

/// A JavaScript expression's value (strings and numbers as JSON).
fn evaluate(tab: &Tab, expression: &str) -> serde_json::Value {
    tab.evaluate(expression, true)
        .unwrap_or_else(|error| panic!("{expression}: {error}"))
        .value
        .unwrap_or(serde_json::Value::Null)
}

/// Waits until `expression` is true in the page.
fn wait_until(tab: &Tab, what: &str, expression: &str) {
    util::wait_for(what, Duration::from_secs(10), || {
        (evaluate(tab, expression) == json!(true)).then_some(())
    });
}

/// Serious and critical axe-core violations on the tab's page.
fn accessibility_problems(tab: &Tab, axe: &str) -> Vec<String> {
    evaluate(tab, axe);
    let found = evaluate(
        tab,
        "axe.run(document, { resultTypes: ['violations'] }).then(result => JSON.stringify(\
         result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')\
         .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' (' + v.nodes.map(n => n.target.join(' ')).join(', ') + ')')))",
    );
    serde_json::from_str(found.as_str().unwrap_or("[]")).unwrap_or_default()
}

#[test]
fn a_reader_searches_reads_and_sees_the_news_move() {
    let (Some(chromium), Some(axe)) = (chromium(), axe_source()) else {
        return;
    };
    let data = DataDir::new();
    let body = "Firefighters contained the blaze at the harbour after six hours.\n\nCrews from three towns helped; no one was hurt.";
    ingest(
        &data,
        "fire",
        story("urn:w:fire", 1, "usable", "Harbour fire contained", body),
    );
    ingest(
        &data,
        "strike",
        story(
            "urn:w:strike",
            1,
            "usable",
            "Dock strike ends",
            "Dockworkers voted to end the strike.",
        ),
    );
    let server = data.serve(&[]);

    let profile = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let options = LaunchOptions::default_builder()
        .path(Some(chromium))
        .headless(true)
        .sandbox(false)
        .user_data_dir(Some(profile.path().to_path_buf()))
        .args(vec![
            OsStr::new("--disable-gpu"),
            OsStr::new("--disable-background-networking"),
            OsStr::new("--disable-component-update"),
            OsStr::new("--no-first-run"),
        ])
        .idle_browser_timeout(Duration::from_secs(120))
        .build()
        .unwrap_or_else(|error| panic!("launch options: {error}"));
    let browser = Browser::new(options).unwrap_or_else(|error| panic!("chromium: {error}"));
    let tab = browser.new_tab().unwrap_or_else(|error| panic!("{error}"));

    // The front page renders both stories.
    tab.navigate_to(&server.url("/"))
        .and_then(|tab| tab.wait_until_navigated())
        .unwrap_or_else(|error| panic!("{error}"));
    wait_until(
        &tab,
        "the front page",
        "document.querySelectorAll('ol.stories li').length === 2",
    );
    screenshot(&tab, "front");
    let problems = accessibility_problems(&tab, &axe);
    assert!(problems.is_empty(), "front page: {problems:#?}");

    // A new story arrives without reloading; a killed one vanishes.
    evaluate(&tab, "window.notReloaded = true; true");
    ingest(
        &data,
        "live",
        story(
            "urn:w:live",
            1,
            "usable",
            "Ferry service resumes",
            "Ferries sailed again on Friday.",
        ),
    );
    wait_until(
        &tab,
        "the live story",
        "Array.from(document.querySelectorAll('ol.stories li h2')).some(h => h.innerText === 'Ferry service resumes')",
    );
    ingest(
        &data,
        "kill",
        story("urn:w:strike", 2, "canceled", "Dock strike ends", "Killed."),
    );
    wait_until(
        &tab,
        "the killed story to vanish",
        "!Array.from(document.querySelectorAll('ol.stories li h2')).some(h => h.innerText === 'Dock strike ends')",
    );
    assert_eq!(
        evaluate(&tab, "window.notReloaded === true"),
        json!(true),
        "no reload happened"
    );
    screenshot(&tab, "front-live");

    // Typing a query on the search page finds the story.
    tab.navigate_to(&server.url("/search"))
        .and_then(|tab| tab.wait_until_navigated())
        .unwrap_or_else(|error| panic!("{error}"));
    tab.wait_for_element("#q")
        .and_then(|input| input.click().map(|_| ()))
        .unwrap_or_else(|error| panic!("{error}"));
    tab.type_str("blaze")
        .and_then(|tab| tab.press_key("Enter"))
        .unwrap_or_else(|error| panic!("{error}"));
    wait_until(
        &tab,
        "the search results",
        "location.search.includes('q=blaze') && document.querySelectorAll('ol.results li').length === 1",
    );
    assert_eq!(
        evaluate(&tab, "document.querySelector('ol.results li h2').innerText"),
        json!("Harbour fire contained")
    );
    screenshot(&tab, "search");
    let problems = accessibility_problems(&tab, &axe);
    assert!(problems.is_empty(), "search page: {problems:#?}");

    // The article shows the agency's text, exactly.
    tab.find_element("ol.results li h2 a")
        .and_then(|link| link.click().map(|_| ()))
        .unwrap_or_else(|error| panic!("{error}"));
    wait_until(
        &tab,
        "the article",
        "document.querySelector('article .body') !== null",
    );
    assert_eq!(
        evaluate(
            &tab,
            "document.querySelector('article .body').innerText.trim()"
        ),
        json!(body)
    );
    screenshot(&tab, "article");
    let problems = accessibility_problems(&tab, &axe);
    assert!(problems.is_empty(), "article page: {problems:#?}");
}
