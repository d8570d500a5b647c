//! The command line as a user drives it: ingest, parse, source add/list, exit codes, and the
//! raw archive keeping every payload.

mod util;

use util::{DataDir, fixture, stderr, stdout};
use verbatim_item::sha256_hex;

#[test]
fn a_broken_item_is_named_by_line_and_column_and_the_others_go_through() {
    let data = DataDir::new();
    let feed = fixture("broken-item.rss");
    let output = data.run(&["ingest", feed.to_str().unwrap_or_default()]);
    assert_eq!(output.status.code(), Some(2), "bad input exits 2");
    let errors = stderr(&output);
    let expected_place = format!(
        "{}:6:36: item 2 skipped: unexpected closing tag </oops>",
        feed.display()
    );
    assert!(
        errors.contains(&expected_place),
        "names file and line: {errors}"
    );
    assert!(errors.contains("item 2"), "{errors}");
    assert!(stdout(&output).contains("2 new"), "{}", stdout(&output));

    let server = data.serve(&[]);
    let (_, list) = server.get_json("/api/v1/items");
    let mut guids: Vec<String> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["guid"].as_str().map(str::to_string))
        .collect();
    guids.sort();
    assert_eq!(guids, vec!["ok-1", "ok-3"]);

    // The raw payload is archived byte for byte, broken item and all.
    let bytes = std::fs::read(&feed).unwrap_or_default();
    let hash = sha256_hex(&bytes);
    let archived = data.path().join("raw").join(&hash[..2]).join(&hash);
    assert_eq!(std::fs::read(archived).unwrap_or_default(), bytes);
}

#[test]
fn a_truncated_feed_keeps_its_complete_items() {
    let data = DataDir::new();
    let feed = fixture("truncated.rss");
    let output = data.run(&["ingest", feed.to_str().unwrap_or_default()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(
            "the document ends before these elements are closed: rss > channel > item > title"
        ),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).contains("1 new"), "{}", stdout(&output));
}

#[test]
fn something_that_is_not_a_feed_is_refused_with_exit_2_and_archived() {
    let data = DataDir::new();
    let page = fixture("not-a-feed.html");
    let output = data.run(&["ingest", page.to_str().unwrap_or_default()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not a format Verbatim reads"),
        "{}",
        stderr(&output)
    );
    let hash = sha256_hex(&std::fs::read(&page).unwrap_or_default());
    assert!(
        data.path()
            .join("raw")
            .join(&hash[..2])
            .join(&hash)
            .exists()
    );
}

#[test]
fn parse_prints_one_json_object_per_item_and_stores_nothing() {
    let data = DataDir::new();
    let output = data.run(&[
        "parse",
        "--explain",
        fixture("fidelity.atom").to_str().unwrap_or_default(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("format atom"),
        "{}",
        stderr(&output)
    );
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["guid"], "atom-xhtml");
    assert_eq!(lines[0]["pubstatus"], "usable");
    assert!(lines[0]["raw"].as_str().is_some_and(|raw| raw.len() == 64));
    assert!(
        !data.path().join("verbatim.db").exists(),
        "parse stores nothing"
    );
}

#[test]
fn parse_format_overrides_detection_and_refuses_the_wrong_syntax() {
    let data = DataDir::new();
    let path = data.path().join("wire.dat");
    // An Atom entry with no namespace and a root the sniffer would still call Atom; forcing
    // RSS reads it with the RSS reader, which finds no <item>.
    std::fs::write(
        &path,
        "<feed><title>Wire</title><entry><id>e1</id><title>One</title></entry></feed>",
    )
    .unwrap_or_default();
    let path = path.to_str().unwrap_or_default();

    let sniffed = data.run(&["parse", "--explain", path]);
    assert!(sniffed.status.success(), "{}", stderr(&sniffed));
    assert!(
        stderr(&sniffed).contains("format atom"),
        "{}",
        stderr(&sniffed)
    );
    assert!(
        stderr(&sniffed).contains(r#"feed {"title":"Wire"}"#),
        "{}",
        stderr(&sniffed)
    );
    assert_eq!(stdout(&sniffed).lines().count(), 1);

    let forced = data.run(&["parse", "--explain", "--format", "rss2", path]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(
        stderr(&forced).contains("format rss2 (named by --format)"),
        "{}",
        stderr(&forced)
    );
    assert_eq!(stdout(&forced).lines().count(), 0);

    let wrong = data.run(&["parse", "--format", "ninjs", path]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains("--format ninjs expects JSON, but the payload is XML"),
        "{}",
        stderr(&wrong)
    );

    let unknown = data.run(&["parse", "--format", "newsml", path]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("newsml-g2"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn parse_of_a_malformed_file_exits_2() {
    let data = DataDir::new();
    let output = data.run(&[
        "parse",
        fixture("broken-item.rss").to_str().unwrap_or_default(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stdout(&output).lines().count(),
        2,
        "the good items are still printed"
    );
}

#[test]
fn sources_are_added_and_listed_with_their_health() {
    let data = DataDir::new();
    let added = data.run(&[
        "source",
        "add",
        "nordic",
        "https://nordic.example/feed.xml",
        "--every",
        "2m",
    ]);
    assert!(added.status.success(), "{}", stderr(&added));
    let push = data.run(&["source", "add", "pushed", "--push"]);
    assert!(push.status.success(), "{}", stderr(&push));
    let token_line = stdout(&push).lines().nth(1).unwrap_or_default().to_string();
    assert_eq!(
        token_line.len(),
        64,
        "prints a 256-bit token: {}",
        stdout(&push)
    );

    let again = data.run(&["source", "add", "nordic", "https://nordic.example/feed.xml"]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "a duplicate name is bad input"
    );
    let bad = data.run(&["source", "add", "bad name", "https://x.example/"]);
    assert_eq!(bad.status.code(), Some(2));
    let bad_url = data.run(&["source", "add", "ftp", "ftp://x.example/"]);
    assert_eq!(bad_url.status.code(), Some(2));

    let list = data.run(&["source", "list"]);
    let text = stdout(&list);
    assert!(
        text.contains("nordic") && text.contains("120s") && text.contains("never"),
        "{text}"
    );
    assert!(text.contains("pushed") && text.contains("push"), "{text}");
    assert!(
        !text.contains(&token_line),
        "the token is never shown again"
    );
    let json = data.run(&["source", "list", "--json"]);
    let sources: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap_or_default();
    assert_eq!(sources.as_array().map(Vec::len), Some(2));
}

#[test]
fn bad_usage_exits_2() {
    let data = DataDir::new();
    assert_eq!(data.run(&["no-such-command"]).status.code(), Some(2));
    assert_eq!(
        data.run(&["ingest", "/no/such/file.xml"]).status.code(),
        Some(2)
    );
    let config = data.path().join("bad.toml");
    std::fs::write(&config, "[site]\ntitel = 'typo'\n").unwrap_or_default();
    let output = data.run(&[
        "--config",
        config.to_str().unwrap_or_default(),
        "source",
        "list",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("titel"),
        "the unknown key is named: {}",
        stderr(&output)
    );
}

#[test]
fn ingesting_the_same_feed_twice_changes_nothing_and_an_edit_is_a_new_version() {
    let data = DataDir::new();
    let feed = data.path().join("feed.rss");
    let write = |body: &str| {
        let text = format!(
            "<rss><channel><title>T</title><item><title>Story</title><guid>s-1</guid><description>{body}</description></item></channel></rss>"
        );
        std::fs::write(&feed, text).unwrap_or_default();
    };
    write("First text.");
    let path = feed.to_str().unwrap_or_default();
    assert!(stdout(&data.run(&["ingest", path])).contains("1 new"));
    assert!(stdout(&data.run(&["ingest", path])).contains("1 unchanged"));
    write("Corrected text.");
    assert!(stdout(&data.run(&["ingest", path])).contains("1 updated"));
    let server = data.serve(&[]);
    let (_, list) = server.get_json("/api/v1/items");
    assert_eq!(list["items"][0]["body_text"], "Corrected text.");
    let id = list["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, history) = server.get_text(&format!("/items/{id}/history"));
    assert_eq!(status, 200);
    assert_eq!(history.matches("class=\"seq\"").count(), 2, "{history}");

    let (status, metrics) = server.get_text("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("verbatim_stories_published 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("verbatim_versions 2\n"), "{metrics}");
    assert!(
        metrics.contains("verbatim_source_consecutive_errors{source=\"feed\"} 0\n"),
        "{metrics}"
    );
    // The SQLite writer's held time and CPU: counters of seconds, present from the start.
    for name in [
        "verbatim_store_writer_busy_seconds_total",
        "verbatim_store_writer_cpu_seconds_total",
    ] {
        let seconds = metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.parse::<f64>().ok());
        assert!(seconds.is_some_and(|seconds| seconds >= 0.0), "{metrics}");
        assert!(
            metrics.contains(&format!("# TYPE {name} counter\n")),
            "{metrics}"
        );
    }
}
