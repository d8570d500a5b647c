//! The story lifecycle through every output, with ninjs copy as the agencies send it: an update
//! replaces the story in place, a kill takes it down everywhere (410), withheld is reversible,
//! an older version arriving late never wins, and an embargo holds to its time.

mod util;

use serde_json::json;
use std::time::Duration;
use util::{DataDir, Server, stderr, wait_for};

fn ingest(data: &DataDir, name: &str, item: serde_json::Value) {
    let path = data.path().join(format!("{name}.json"));
    std::fs::write(&path, item.to_string()).unwrap_or_else(|error| panic!("{error}"));
    let output = data.run(&[
        "ingest",
        "--source",
        "wire",
        path.to_str().unwrap_or_default(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
}

fn story(uri: &str, version: u64, pubstatus: &str, text: &str) -> serde_json::Value {
    json!({
        "uri": uri,
        "version": version.to_string(),
        "versioncreated": format!("2026-11-24T10:0{version}:00Z"),
        "pubstatus": pubstatus,
        "headline": format!("Harbour fire, version {version}"),
        "body_text": text,
    })
}

/// Where the story shows up: (page status, API status, in the API list, in the Atom feed, in RSS,
/// in JSON Feed, on the front page).
fn presence(server: &Server, id: &str) -> (u16, u16, bool, bool, bool, bool, bool) {
    let entry_id = format!("urn:verbatim:item:{id}");
    let (page, _) = server.get_text(&format!("/items/{id}"));
    let (api, _) = server.get_text(&format!("/api/v1/items/{id}"));
    let (_, list) = server.get_json("/api/v1/items?limit=200");
    let (_, atom) = server.get_text("/feeds/all.atom");
    let (_, rss) = server.get_text("/feeds/all.rss");
    let (_, json_feed) = server.get_json("/feeds/all.json");
    let (_, front) = server.get_text("/");
    let listed = |list: &serde_json::Value, key: &str, want: &str| {
        list["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|item| item[key] == want))
    };
    (
        page,
        api,
        listed(&list, "id", id),
        atom.contains(&format!("<id>{entry_id}</id>")),
        rss.contains(&format!(">{entry_id}</guid>")),
        listed(&json_feed, "id", &entry_id),
        front.contains(id),
    )
}

fn the_id(server: &Server) -> String {
    let (_, list) = server.get_json("/api/v1/items");
    list["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn update_then_kill_reaches_every_output() {
    let data = DataDir::new();
    ingest(
        &data,
        "v1",
        story(
            "urn:wire:fire",
            1,
            "usable",
            "Fire broke out at the harbour.",
        ),
    );
    let server = data.serve(&[]);
    let id = the_id(&server);
    assert_eq!(
        presence(&server, &id),
        (200, 200, true, true, true, true, true)
    );

    ingest(
        &data,
        "v2",
        story(
            "urn:wire:fire",
            2,
            "usable",
            "Fire at the harbour is under control.",
        ),
    );
    let (_, item) = server.get_json(&format!("/api/v1/items/{id}"));
    assert_eq!(
        item["body_text"], "Fire at the harbour is under control.",
        "the update replaced the story at the same id"
    );
    assert_eq!(item["version"], 2);
    let (_, page) = server.get_text(&format!("/items/{id}"));
    assert!(page.contains("under control") && !page.contains("Fire broke out"));

    // What a cache holds before the kill: every output says to revalidate, with validators.
    let cached: Vec<(String, String, String)> = [
        format!("/items/{id}"),
        format!("/api/v1/items/{id}"),
        "/api/v1/items".to_string(),
        "/feeds/all.atom".to_string(),
        "/feeds/all.rss".to_string(),
        "/feeds/all.json".to_string(),
        "/".to_string(),
    ]
    .into_iter()
    .map(|path| {
        let response = server.get(&path);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(header("cache-control"), "no-cache", "{path}");
        assert!(
            !header("last-modified").is_empty(),
            "{path}: no Last-Modified"
        );
        (path, header("etag"), header("last-modified"))
    })
    .collect();

    ingest(&data, "v3", story("urn:wire:fire", 3, "canceled", ""));
    assert_eq!(
        presence(&server, &id),
        (410, 410, false, false, false, false, false)
    );
    // A cache revalidating with what it holds is never told its copy is still good.
    for (path, etag, _) in &cached {
        let response = util::client()
            .get(server.url(path))
            .header("If-None-Match", etag.as_str())
            .send()
            .unwrap_or_else(|error| panic!("{error}"));
        assert_ne!(
            response.status().as_u16(),
            304,
            "{path} still validates after the kill"
        );
    }
    let (status, body) = server.get_json(&format!("/api/v1/items/{id}"));
    assert_eq!(
        (status, body["pubstatus"].as_str()),
        (410, Some("canceled"))
    );
    let (_, page) = server.get_text(&format!("/items/{id}"));
    assert!(
        page.contains("withdrawn") && !page.contains("under control"),
        "the withdrawal notice replaces the text"
    );

    // Every out-feed and the API say so, for downstream systems to act on.
    let entry_id = format!("urn:verbatim:item:{id}");
    let (_, atom) = server.get_text("/feeds/all.atom");
    assert!(
        atom.contains(&format!("<at:deleted-entry ref=\"{entry_id}\"")),
        "{atom}"
    );
    let (_, rss) = server.get_text("/feeds/all.rss");
    assert!(
        rss.contains(&format!("<verbatim:deleted ref=\"{entry_id}\""))
            && rss.contains("status=\"canceled\""),
        "{rss}"
    );
    let (_, json_feed) = server.get_json("/feeds/all.json");
    assert_eq!(
        json_feed["_verbatim"]["deleted"][0]["id"],
        entry_id.as_str()
    );
    assert_eq!(json_feed["_verbatim"]["deleted"][0]["status"], "canceled");
    let (_, list) = server.get_json("/api/v1/items");
    assert_eq!(list["gone"][0]["id"], id.as_str());
    assert_eq!(list["gone"][0]["pubstatus"], "canceled");
    for output in [&atom, &rss] {
        assert!(
            !output.contains("under control"),
            "no text survives the kill"
        );
    }
    // Our own feed reader sees the tombstoned Atom feed as valid and empty.
    let reread = verbatim_parse::parse(
        verbatim_parse::Input {
            bytes: atom.as_bytes(),
            content_type: None,
            origin: "all.atom",
        },
        &verbatim_parse::Limits::default(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        reread.errors.is_empty() && reread.drafts.is_empty(),
        "{:?}",
        reread.errors
    );
}

#[test]
fn a_late_older_version_never_becomes_current() {
    let data = DataDir::new();
    ingest(
        &data,
        "v3",
        story("urn:wire:vote", 3, "usable", "Final count: 52 to 48."),
    );
    ingest(
        &data,
        "v2",
        story("urn:wire:vote", 2, "usable", "Early count: 50 to 50."),
    );
    let server = data.serve(&[]);
    let id = the_id(&server);
    let (_, item) = server.get_json(&format!("/api/v1/items/{id}"));
    assert_eq!(item["body_text"], "Final count: 52 to 48.");
    let (_, history) = server.get_text(&format!("/items/{id}/history"));
    assert_eq!(
        history.matches("class=\"seq\"").count(),
        2,
        "both versions are in the record"
    );
}

#[test]
fn withheld_is_lifted_by_a_later_usable_version() {
    let data = DataDir::new();
    ingest(
        &data,
        "v1",
        story("urn:wire:court", 1, "usable", "The court heard the case."),
    );
    ingest(&data, "v2", story("urn:wire:court", 2, "withheld", ""));
    let server = data.serve(&[]);
    let (_, list) = server.get_json("/api/v1/items");
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(0),
        "withheld leaves every list"
    );
    ingest(
        &data,
        "v3",
        story(
            "urn:wire:court",
            3,
            "usable",
            "The court heard the case; a ruling is due.",
        ),
    );
    let id = the_id(&server);
    let (status, item) = server.get_json(&format!("/api/v1/items/{id}"));
    assert_eq!(
        (status, item["body_text"].as_str()),
        (200, Some("The court heard the case; a ruling is due."))
    );
}

#[test]
fn an_embargo_holds_until_its_time_and_then_publishes() {
    let data = DataDir::new();
    let server = data.serve(&[]);
    let until = chrono::Utc::now() + chrono::Duration::seconds(3);
    let mut item = story(
        "urn:wire:budget",
        1,
        "usable",
        "The budget adds 2% to spending.",
    );
    item["embargoed"] = json!(until.to_rfc3339());
    ingest(&data, "embargoed", item);
    let (_, list) = server.get_json("/api/v1/items");
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(0),
        "invisible before its time"
    );
    let (_, atom) = server.get_text("/feeds/all.atom");
    assert!(!atom.contains("budget adds"));
    let released_at = wait_for("the embargo release", Duration::from_secs(10), || {
        let (_, list) = server.get_json("/api/v1/items");
        (list["items"].as_array().map(Vec::len) == Some(1)).then(chrono::Utc::now)
    });
    assert!(released_at >= until, "never before the embargo ends");
}

/// One NewsML-G2 version of a story, with its signals.
fn g2_story(version: u64, signal: Option<&str>, pubstatus: &str, casualties: &str) -> String {
    let signal = signal
        .map(|signal| format!(r#"<signal qcode="sig:{signal}"/>"#))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:newsml:wire.test:2026:quake" version="{version}" standard="NewsML-G2" standardversion="2.29">
  <catalogRef href="http://www.iptc.org/std/catalog/catalog.IPTC-G2-Standards_41.xml"/>
  <itemMeta>
    <itemClass qcode="ninat:text"/>
    <versionCreated>2026-11-24T10:0{version}:00Z</versionCreated>
    <pubStatus qcode="stat:{pubstatus}"/>
    {signal}
  </itemMeta>
  <contentMeta><headline>Earthquake shakes the coast</headline></contentMeta>
  <contentSet><inlineXML contenttype="application/xhtml+xml">
    <html xmlns="http://www.w3.org/1999/xhtml"><body>
      <p>{casualties} people were hurt when the quake struck at dawn.</p>
      <p>Rescue teams are on their way.</p>
    </body></html>
  </inlineXML></contentSet>
</newsItem>"#
    )
}

fn ingest_file(data: &DataDir, name: &str, contents: &str) {
    let path = data.path().join(name);
    std::fs::write(&path, contents).unwrap_or_else(|error| panic!("{error}"));
    let output = data.run(&[
        "ingest",
        "--source",
        "wire",
        path.to_str().unwrap_or_default(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn an_update_then_a_correction_are_marked_and_diffed_word_by_word() {
    let data = DataDir::new();
    ingest_file(&data, "v1.xml", &g2_story(1, None, "usable", "Three"));
    let server = data.serve(&[]);
    let id = the_id(&server);
    let (_, page) = server.get_text(&format!("/items/{id}"));
    assert!(
        !page.contains("class=\"revision"),
        "a first version carries no revision note"
    );

    ingest_file(
        &data,
        "v2.xml",
        &g2_story(2, Some("update"), "usable", "Five"),
    );
    let (_, page) = server.get_text(&format!("/items/{id}"));
    assert!(page.contains("<strong>Updated</strong>"), "{page}");
    assert!(page.contains(&format!("/items/{id}/history")));

    ingest_file(
        &data,
        "v3.xml",
        &g2_story(3, Some("correction"), "usable", "Four"),
    );
    let (_, item) = server.get_json(&format!("/api/v1/items/{id}"));
    assert_eq!(item["signals"][0], "correction");
    let (_, page) = server.get_text(&format!("/items/{id}"));
    assert!(
        page.contains("<strong>Corrected</strong> by the agency"),
        "{page}"
    );
    assert!(page.contains("Four people were hurt"));
    assert!(page.contains("what changed (3 versions)"), "{page}");

    let (status, history) = server.get_text(&format!("/items/{id}/history"));
    assert_eq!(status, 200);
    assert!(history.contains("First version."), "{history}");
    assert!(
        history.contains("<del>Three</del><ins>Five</ins>"),
        "{history}"
    );
    assert!(
        history.contains("<del>Five</del><ins>Four</ins>"),
        "{history}"
    );
    assert!(history.contains("<strong>correction</strong>"), "{history}");
    assert!(
        !history.contains("diff-headline"),
        "an unchanged headline shows no diff"
    );

    // The correction is also what the feeds carry; then a kill takes it all down.
    let (_, atom) = server.get_text("/feeds/all.atom");
    assert!(atom.contains("Four people were hurt") && !atom.contains("Five people"));
    assert!(
        atom.contains(r#"<category scheme="urn:verbatim:signal" term="correction"/>"#),
        "{atom}"
    );
    let (_, json_feed) = server.get_json("/feeds/all.json");
    assert_eq!(
        json_feed["items"][0]["_verbatim"]["signals"][0],
        "correction"
    );
    ingest_file(&data, "v4.xml", &g2_story(4, None, "canceled", "Four"));
    assert_eq!(
        presence(&server, &id),
        (410, 410, false, false, false, false, false)
    );
    let (status, _) = server.get_text(&format!("/items/{id}/history"));
    assert_eq!(status, 410, "a killed story's history is gone too");
}

/// `verbatim serve` with its log (at info) collected, for counting what each process did.
fn serve_logged(data: &DataDir) -> (Server, std::sync::Arc<std::sync::Mutex<String>>) {
    use std::io::{BufRead, BufReader};
    let mut child = data
        .command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("VERBATIM_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start verbatim serve: {error}"));
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    if let Some(stderr) = child.stderr.take() {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut log) = log.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
    }
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("Verbatim is serving on ") {
                    break url.trim_end_matches('/').to_string();
                }
            }
            _ => panic!("verbatim serve exited before listening"),
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (Server { child, base }, log)
}

#[test]
fn two_processes_on_one_data_folder_release_an_embargo_exactly_once() {
    let data = DataDir::new();
    let (first, first_log) = serve_logged(&data);
    let (second, second_log) = serve_logged(&data);
    let until = chrono::Utc::now() + chrono::Duration::seconds(3);
    let mut item = story(
        "urn:wire:rates",
        1,
        "usable",
        "Rates rise by a quarter point.",
    );
    item["embargoed"] = json!(until.to_rfc3339());
    ingest(&data, "embargoed", item);
    for server in [&first, &second] {
        let (_, list) = server.get_json("/api/v1/items");
        assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    }
    for server in [&first, &second] {
        let released_at = wait_for("the embargo release", Duration::from_secs(10), || {
            let (_, list) = server.get_json("/api/v1/items");
            (list["items"].as_array().map(Vec::len) == Some(1)).then(chrono::Utc::now)
        });
        assert!(released_at >= until, "never before the embargo ends");
    }
    // Let both release loops run a few more times.
    std::thread::sleep(Duration::from_secs(1));
    let releases = |log: &std::sync::Arc<std::sync::Mutex<String>>| {
        log.lock()
            .map(|log| log.matches("embargo ended").count())
            .unwrap_or_default()
    };
    let (mine, theirs) = (releases(&first_log), releases(&second_log));
    assert_eq!(
        mine + theirs,
        1,
        "released once in all ({mine} + {theirs}); logs:\n{}\n{}",
        first_log.lock().map(|log| log.clone()).unwrap_or_default(),
        second_log.lock().map(|log| log.clone()).unwrap_or_default()
    );
    for log in [&first_log, &second_log] {
        let log = log.lock().map(|log| log.clone()).unwrap_or_default();
        assert!(!log.contains("ERROR"), "no process failed:\n{log}");
    }
    let id = the_id(&first);
    let (_, history) = first.get_text(&format!("/items/{id}/history"));
    assert_eq!(
        history.matches("class=\"seq\"").count(),
        1,
        "one version, once"
    );
}

#[test]
fn an_embargo_that_ends_while_verbatim_is_down_is_published_at_start() {
    let data = DataDir::new();
    let until = chrono::Utc::now() + chrono::Duration::seconds(2);
    let mut item = story("urn:wire:jobs", 1, "usable", "Unemployment fell to 3.1%.");
    item["embargoed"] = json!(until.to_rfc3339());
    ingest(&data, "embargoed", item);
    {
        let server = data.serve(&[]);
        let (_, list) = server.get_json("/api/v1/items");
        assert_eq!(
            list["items"].as_array().map(Vec::len),
            Some(0),
            "held before its time"
        );
    }
    // Down across the embargo's end.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(chrono::Utc::now() > until);
    let server = data.serve(&[]);
    // Start-up releases what came due while it was down, before it serves anything.
    let (_, list) = server.get_json("/api/v1/items");
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(1),
        "published on start"
    );
    let id = the_id(&server);
    let (_, history) = server.get_text(&format!("/items/{id}/history"));
    assert_eq!(
        history.matches("class=\"seq\"").count(),
        1,
        "published once"
    );
}
