//! The operator's side, end to end on the real binary and server: routing rules (sections,
//! hold, drop, link-only, notify), one agency story through two feeds, the quality gate's
//! reasons, the held queue from the CLI and from `/admin`, the desk behind its token, and saved
//! searches that call a webhook.

mod util;

use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use util::{DataDir, Server};

const SECRET: &str = "a-webhook-secret-of-some-length";

/// A paragraph of ordinary English wire copy, long enough for language detection.
const ENGLISH: &str = "The regional government said on Tuesday that the new ferry line would \
    start in the spring, linking the islands to the mainland twice a day, and that the fares \
    would be set after talks with the operators and the councils of the towns along the route.";

fn ninjs(uri: &str, headline: &str, body: &str) -> Value {
    json!({
        "uri": uri, "version": "1", "pubstatus": "usable", "language": "en",
        "versioncreated": chrono::Utc::now().to_rfc3339(),
        "headline": headline, "body_text": body,
    })
}

fn write_config(data: &DataDir, text: &str) -> PathBuf {
    let path = data.path().join("verbatim.toml");
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("{error}"));
    path
}

/// `verbatim [--config C] ingest --json --source SOURCE FILE`: the report.
fn ingest(
    data: &DataDir,
    config: Option<&PathBuf>,
    source: &str,
    name: &str,
    item: &Value,
) -> Value {
    let path = data.path().join(format!("{name}.json"));
    std::fs::write(&path, item.to_string()).unwrap_or_else(|error| panic!("{error}"));
    let mut args: Vec<String> = Vec::new();
    if let Some(config) = config {
        args.extend(["--config".into(), config.display().to_string()]);
    }
    args.extend([
        "ingest".into(),
        "--json".into(),
        "--source".into(),
        source.into(),
        path.display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = data.run(&args);
    assert!(output.status.success(), "{}", util::stderr(&output));
    let report: Value = serde_json::from_str(&util::stdout(&output))
        .unwrap_or_else(|error| panic!("{error}: {}", util::stdout(&output)));
    report
}

/// The first item of an ingest report (the CLI prints one report per input).
fn first_item(report: &Value) -> Value {
    let reports = report
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![report.clone()]);
    reports
        .first()
        .and_then(|report| report["items"].get(0))
        .cloned()
        .unwrap_or_else(|| panic!("no item in {report}"))
}

fn add_push_source(data: &DataDir, name: &str, extra: &[&str]) {
    let mut args = vec!["source", "add", name, "--push"];
    args.extend_from_slice(extra);
    let output = data.run(&args);
    assert!(output.status.success(), "{}", util::stderr(&output));
}

fn held(data: &DataDir) -> Vec<Value> {
    let output = data.run(&["held", "list", "--json"]);
    assert!(output.status.success(), "{}", util::stderr(&output));
    serde_json::from_str::<Vec<Value>>(&util::stdout(&output)).unwrap_or_default()
}

fn wait_listed(server: &Server, headline: &str) {
    util::wait_for(headline, Duration::from_secs(10), || {
        server
            .headlines()
            .iter()
            .any(|listed| listed == headline)
            .then_some(())
    });
}

#[test]
fn rules_route_hold_drop_link_only_and_notify_and_two_feeds_make_one_story() {
    let (endpoint, log) = util::http_server(|_| (204, vec![], Vec::new()));
    let data = DataDir::new();
    for source in ["wire-sport", "wire-world", "licensed"] {
        add_push_source(&data, source, &[]);
    }
    let config = write_config(
        &data,
        &format!(
            r#"
[fetch]
allow_private_networks = true
[[webhooks]]
name = "desk"
url = "{endpoint}/hook"
secret = "{SECRET}"
events = ["kill"]
[[rules]]
name = "sport"
source = "wire-sport"
sections = ["sport"]
[[rules]]
name = "world"
source = "wire-world"
sections = "world"
[[rules]]
name = "flash"
urgency = "1"
notify = "desk"
[[rules]]
name = "no-gambling"
keywords = ["casino", "betting odds"]
action = "drop"
[[rules]]
name = "legal"
keywords = "injunction"
action = "hold"
[[rules]]
name = "rights"
source = "licensed"
action = "link-only"
"#
        ),
    );
    let server = data.serve(&["--config", config.to_str().unwrap_or_default()]);

    // One agency story through two feeds: one story, both sections.
    let final_story = ninjs("urn:agency:final", "Cup final tonight", ENGLISH);
    let first = first_item(&ingest(
        &data,
        Some(&config),
        "wire-sport",
        "a",
        &final_story,
    ));
    let second = first_item(&ingest(
        &data,
        Some(&config),
        "wire-world",
        "b",
        &final_story,
    ));
    assert_eq!(second["folded_into"], first["id"], "{second}");
    assert_eq!(second["sections"], json!(["world"]));
    let id = first["id"].as_str().unwrap_or_default().to_string();
    wait_listed(&server, "Cup final tonight");
    let (_, item) = server.get_json(&format!("/api/v1/items/{id}"));
    assert_eq!(item["sections"], json!(["sport", "world"]), "{item}");
    assert_eq!(
        server
            .headlines()
            .iter()
            .filter(|h| *h == "Cup final tonight")
            .count(),
        1
    );
    for section in ["sport", "world"] {
        let (status, page) = server.get_text(&format!("/sections/{section}"));
        assert_eq!(status, 200);
        assert!(page.contains("Cup final tonight"), "{page}");
        let (status, feed) = server.get_text(&format!("/feeds/sections/{section}.atom"));
        assert_eq!(status, 200);
        assert!(feed.contains("Cup final tonight"));
    }
    let (_, front) = server.get_text("/");
    assert!(
        front.contains("href=\"/sections/sport\""),
        "the front page lists sections"
    );
    assert_eq!(server.get_text("/sections/nowhere").0, 404);
    let (_, filtered) = server.get_json("/api/v1/items?section=sport");
    assert_eq!(filtered["items"].as_array().map(Vec::len), Some(1));

    // Drop: not stored, reported with the rule.
    let casino = first_item(&ingest(
        &data,
        Some(&config),
        "wire-world",
        "c",
        &ninjs("urn:agency:casino", "New casino opens", ENGLISH),
    ));
    assert_eq!(casino["outcome"], "dropped");
    assert_eq!(casino["dropped_by"], "no-gambling");
    // `parse` previews the same gate, rules included.
    let preview = data.run(&[
        "--config",
        config.to_str().unwrap_or_default(),
        "parse",
        data.path().join("c.json").to_str().unwrap_or_default(),
    ]);
    assert!(
        util::stdout(&preview).contains("\"dropped_by\":\"no-gambling\""),
        "{}",
        util::stdout(&preview)
    );

    // Hold by rule, then release from the CLI.
    let legal = first_item(&ingest(
        &data,
        Some(&config),
        "wire-world",
        "d",
        &ninjs(
            "urn:agency:legal",
            "Court hears case",
            &format!("{ENGLISH} An injunction was sought."),
        ),
    ));
    assert_eq!(legal["state"], "held");
    assert_eq!(legal["hold_reasons"], json!(["held by rule \"legal\""]));
    let legal_id = legal["id"].as_str().unwrap_or_default().to_string();
    assert!(
        held(&data)
            .iter()
            .any(|entry| entry["story_id"] == legal_id)
    );
    let released = data.run(&["held", "release", &legal_id, "--by", "night desk"]);
    assert!(released.status.success(), "{}", util::stderr(&released));
    assert!(util::stdout(&released).contains("now published"));
    wait_listed(&server, "Court hears case");
    assert!(held(&data).is_empty());

    // Link-only: headline and link everywhere, never the text.
    let mut licensed = ninjs("urn:agency:licensed", "Licensed headline only", ENGLISH);
    licensed["uri"] = json!("https://agency.example/stories/42");
    let licensed = first_item(&ingest(&data, Some(&config), "licensed", "e", &licensed));
    let licensed_id = licensed["id"].as_str().unwrap_or_default().to_string();
    wait_listed(&server, "Licensed headline only");
    let (_, item) = server.get_json(&format!("/api/v1/items/{licensed_id}"));
    assert_eq!(item["link_only"], true);
    assert_eq!(item["body_text"], Value::Null);
    let (_, page) = server.get_text(&format!("/items/{licensed_id}"));
    assert!(page.contains("may show only the headline"), "{page}");
    assert!(
        !page.contains("ferry line"),
        "the text must not be on the page"
    );
    let (_, feed) = server.get_text("/feeds/all.json");
    let entry = serde_json::from_str::<Value>(&feed).unwrap_or_default()["items"]
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .find(|item| item["title"] == "Licensed headline only")
                .cloned()
        })
        .unwrap_or_default();
    assert_eq!(entry["content_html"], "", "{entry}");

    // Notify: an urgent item tells the named webhook, once.
    let mut flash = ninjs("urn:agency:flash", "Flash: ferry sinks", ENGLISH);
    flash["urgency"] = json!(1);
    ingest(&data, Some(&config), "wire-world", "f", &flash);
    ingest(&data, Some(&config), "wire-world", "f-again", &flash);
    let notified = util::wait_for("the notify webhook", Duration::from_secs(15), || {
        let log = log.lock().ok()?;
        let found: Vec<util::Request> = log
            .iter()
            .filter(|request| request.header("x-verbatim-event") == Some("notify"))
            .cloned()
            .collect();
        (!found.is_empty()).then_some(found)
    });
    let body: Value = serde_json::from_slice(&notified[0].body).unwrap_or_default();
    assert_eq!(body["rule"], "flash");
    assert_eq!(body["headline"], "Flash: ferry sinks");
    std::thread::sleep(Duration::from_millis(800));
    let count = log
        .lock()
        .map(|log| {
            log.iter()
                .filter(|request| request.header("x-verbatim-event") == Some("notify"))
                .count()
        })
        .unwrap_or_default();
    assert_eq!(count, 1, "the same version polled again notifies nobody");
}

#[test]
fn rules_are_checked_at_start_with_errors_that_name_the_rule() {
    let data = DataDir::new();
    add_push_source(&data, "wire", &[]);
    for (rules, expected) in [
        (
            "name = \"r\"\nsource = \"nowhere\"\naction = \"hold\"",
            "\"r\": unknown source \"nowhere\"",
        ),
        (
            "name = \"r\"\nall = true\naction = \"shred\"",
            "unknown action \"shred\"",
        ),
        (
            "name = \"r\"\nall = true\nnotify = \"pager\"",
            "no webhook named \"pager\"",
        ),
        (
            "name = \"r\"\nurgency = \"0-12\"\naction = \"hold\"",
            "urgency",
        ),
        ("name = \"r\"\nsection = \"x\"", "unknown field `section`"),
    ] {
        let config = write_config(&data, &format!("[[rules]]\n{rules}\n"));
        let item = data.path().join("x.json");
        std::fs::write(&item, ninjs("urn:x", "X", ENGLISH).to_string())
            .unwrap_or_else(|error| panic!("{error}"));
        let output = data.run(&[
            "--config",
            config.to_str().unwrap_or_default(),
            "ingest",
            "--source",
            "wire",
            item.to_str().unwrap_or_default(),
        ]);
        assert_eq!(output.status.code(), Some(2), "{rules}");
        let error = util::stderr(&output);
        assert!(error.contains(expected), "{rules}: {error}");
        assert!(
            error.contains("verbatim.toml"),
            "the file is named: {error}"
        );
    }
}

#[test]
fn the_quality_gate_holds_with_reasons_and_the_desk_releases_behind_its_token() {
    let data = DataDir::new();
    add_push_source(&data, "wire", &["--language", "en"]);
    // The source's usual: ten full stories.
    for number in 0..10 {
        let body = format!("{ENGLISH}\n\n{ENGLISH}\n\n{ENGLISH} Story {number}.");
        ingest(
            &data,
            None,
            "wire",
            &format!("usual-{number}"),
            &ninjs(
                &format!("urn:w:{number}"),
                &format!("Usual story {number}"),
                &body,
            ),
        );
    }
    let cases = [
        (
            "teaser",
            "Ferry talks begin",
            "Ministers met on Tuesday to discuss the new ferry line. Read more",
            "teaser only: the body ends with \"read more\"",
        ),
        (
            "short",
            "Ferry talks end",
            "Ministers met on Tuesday.",
            "far shorter than this source's usual",
        ),
        ("empty", "Ferry fares set", "", "empty body"),
        (
            "mojibake",
            "Ferry to Tromsø",
            "The ferry to TromsÃ¸ leaves at nine; the ministerâ€™s office said fares would rise.",
            "mojibake",
        ),
        (
            "french",
            "Ferry : accord trouvé",
            "Le gouvernement régional a annoncé mardi que la nouvelle ligne de ferry commencerait au printemps, reliant les îles au continent deux fois par jour, et que les tarifs seraient fixés après des discussions avec les opérateurs.",
            "the source declares \"en\"",
        ),
    ];
    let mut ids = std::collections::HashMap::new();
    for (name, headline, body, reason) in cases {
        let item = first_item(&ingest(
            &data,
            None,
            "wire",
            name,
            &ninjs(&format!("urn:w:{name}"), headline, body),
        ));
        assert_eq!(item["state"], "held", "{name}: {item}");
        let reasons: Vec<&str> = item["hold_reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let reasons = reasons.join("; ");
        assert!(reasons.contains(reason), "{name}: {reasons}");
        ids.insert(name, item["id"].as_str().unwrap_or_default().to_string());
    }
    // A kill is never held, even with an empty body.
    let mut kill = ninjs("urn:w:0", "Usual story 0", "");
    kill["pubstatus"] = json!("canceled");
    kill["version"] = json!("2");
    assert_eq!(
        first_item(&ingest(&data, None, "wire", "kill", &kill))["state"],
        "canceled"
    );
    assert_eq!(held(&data).len(), 5);
    let show = data.run(&["held", "show", &ids["mojibake"]]);
    assert!(
        util::stdout(&show).contains("TromsÃ¸"),
        "the text as received"
    );

    let server = data.serve(&[]);
    // The desk and its actions answer 401 without the token.
    let client = util::client();
    for path in ["/admin", "/admin/held"] {
        let response = server.get(path);
        assert_eq!(response.status().as_u16(), 401, "{path}");
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
    }
    let refused = client
        .post(server.url(&format!("/admin/held/{}/release", ids["teaser"])))
        .send()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(held(&data).len(), 5, "nothing released without the token");

    let token = util::admin_token(&data);
    let desk = client
        .get(server.url("/admin"))
        .bearer_auth(&token)
        .send()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(desk.status().as_u16(), 200);
    assert_eq!(
        desk.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let page = desk.text().unwrap_or_default();
    for expected in [
        "Operator's desk",
        "Ingest rate",
        "<svg",
        "Held (5)",
        "wire",
        "Recent kills",
        "Errors",
    ] {
        assert!(page.contains(expected), "{expected}: {page}");
    }

    // A browser logs in with the token and gets a cookie.
    let no_redirects = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let wrong = no_redirects
        .post(server.url("/admin/login"))
        .form(&[("token", "not-the-token")])
        .send()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(wrong.status().as_u16(), 401);
    let login = no_redirects
        .post(server.url("/admin/login"))
        .form(&[("token", token.as_str())])
        .send()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(login.status().as_u16(), 303);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap_or_default().to_string();
    let queue = no_redirects
        .get(server.url("/admin/held"))
        .header("cookie", &cookie)
        .send()
        .unwrap_or_else(|error| panic!("{error}"))
        .text()
        .unwrap_or_default();
    assert!(
        queue.contains("Ferry talks begin") && queue.contains("Release"),
        "{queue}"
    );

    // A form from another site is refused; the desk's own form releases and drops.
    let cross_site = no_redirects
        .post(server.url(&format!("/admin/held/{}/release", ids["teaser"])))
        .header("cookie", &cookie)
        .header("origin", "https://elsewhere.example")
        .send()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(cross_site.status().as_u16(), 403);
    let release = no_redirects
        .post(server.url(&format!("/admin/held/{}/release", ids["teaser"])))
        .header("cookie", &cookie)
        .header("origin", server.base.as_str())
        .send()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(release.status().as_u16(), 303);
    wait_listed(&server, "Ferry talks begin");
    let drop = no_redirects
        .post(server.url(&format!("/admin/held/{}/drop", ids["mojibake"])))
        .header("cookie", &cookie)
        .send()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(drop.status().as_u16(), 303);
    let left: Vec<String> = held(&data)
        .iter()
        .filter_map(|entry| entry["story_id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(!left.contains(&ids["teaser"]) && !left.contains(&ids["mojibake"]));
    let dropped = data.run(&["held", "drop", &ids["empty"]]);
    assert!(dropped.status.success());
    assert_eq!(held(&data).len(), 2);
    assert_eq!(
        data.run(&["held", "release", "no-such-story"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn saved_searches_call_their_webhook_once_per_new_matching_story() {
    let (endpoint, log) = util::http_server(|_| (204, vec![], Vec::new()));
    let data = DataDir::new();
    add_push_source(&data, "wire", &[]);
    let config = write_config(
        &data,
        &format!(
            r#"
[fetch]
allow_private_networks = true
[[webhooks]]
name = "quakes"
url = "{endpoint}/quakes"
secret = "{SECRET}"
events = ["kill"]
[[saved_searches]]
name = "earthquakes"
query = "earthquake -drill"
webhook = "quakes"
"#
        ),
    );
    let server = data.serve(&["--config", config.to_str().unwrap_or_default()]);
    std::thread::sleep(Duration::from_millis(500));
    let story = |uri: &str, headline: &str, version: &str| {
        let mut item = ninjs(uri, headline, &format!("{headline}. {ENGLISH}"));
        item["version"] = json!(version);
        item
    };
    ingest(
        &data,
        Some(&config),
        "wire",
        "q1",
        &story("urn:q:1", "Earthquake shakes the coast", "1"),
    );
    ingest(
        &data,
        Some(&config),
        "wire",
        "q2",
        &story("urn:q:2", "Budget passes", "1"),
    );
    ingest(
        &data,
        Some(&config),
        "wire",
        "q3",
        &story("urn:q:3", "Earthquake drill at schools", "1"),
    );
    wait_listed(&server, "Earthquake drill at schools");
    let searches = |log: &std::sync::Arc<std::sync::Mutex<Vec<util::Request>>>| -> Vec<Value> {
        log.lock()
            .map(|log| {
                log.iter()
                    .filter(|request| request.header("x-verbatim-event") == Some("search"))
                    .filter_map(|request| serde_json::from_slice(&request.body).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let hits = util::wait_for("the saved-search webhook", Duration::from_secs(15), || {
        let hits = searches(&log);
        (!hits.is_empty()).then_some(hits)
    });
    assert_eq!(hits[0]["search"], "earthquakes");
    assert_eq!(hits[0]["headline"], "Earthquake shakes the coast");
    // An update of the same story is not a new match.
    ingest(
        &data,
        Some(&config),
        "wire",
        "q1b",
        &story("urn:q:1", "Earthquake shakes the coast", "2"),
    );
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(searches(&log).len(), 1, "{:?}", searches(&log));
    let signature = log
        .lock()
        .ok()
        .and_then(|log| {
            log.iter()
                .find(|request| request.header("x-verbatim-event") == Some("search"))
                .and_then(|request| request.header("x-verbatim-signature").map(str::to_string))
        })
        .unwrap_or_default();
    assert!(signature.starts_with("sha256="), "{signature}");
}
