//! Several nodes on one PostgreSQL store, end to end with the real binary: three `verbatim
//! serve` processes share the work of six polled feeds (each feed polled by one node at a
//! time), a push to one node is served by all, a kill pushed to one node is a 410 on that node
//! at its very next request and on the others within the bound of their change watch (50 ms by
//! design, asserted against the 1 s a kill may take), an embargo is released once, and a node
//! killed with SIGKILL has its feeds taken over within the lease period, with nothing lost or
//! published twice. Then `migrate-store` moves a SQLite installation into PostgreSQL and `audit`
//! passes there.
//!
//! Needs PostgreSQL (a private server is started on 127.0.0.1); skipped with a printed reason
//! without it, unless `VERBATIM_REQUIRE_ALL=1`.

mod util;

use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use util::{DataDir, Server, client, fixture, stderr, stdout, wait_for};

const FEEDS: usize = 6;
const LEASE: Duration = Duration::from_secs(3);

/// A node's data folder on the shared store.
fn node_dir(store: &str) -> DataDir {
    let mut data = DataDir::new();
    data.store = Some(store.to_string());
    data
}

/// How many stories each feed serves (the test adds stories as it goes).
type Generations = Arc<Mutex<Vec<usize>>>;

fn feed(index: usize, stories: usize) -> Vec<u8> {
    let mut items = String::new();
    for story in 0..stories {
        items.push_str(&format!(
            "<item><guid>urn:nodes:{index}:{story}</guid><title>Feed {index} story {story}</title>\
             <pubDate>Tue, 01 Dec 2026 10:{story:02}:00 GMT</pubDate>\
             <description>Harbour officials said on Tuesday that ferry {story} from line {index} \
             would run on time despite the storm warning issued overnight.</description></item>"
        ));
    }
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {index}</title>\
         <link>http://example.com/</link><description>d</description>{items}</channel></rss>"
    )
    .into_bytes()
}

fn config(node: &str, store: &str, keys: &std::path::Path, feeds: &str, hooks: &str) -> String {
    let mut text = format!(
        "[store]\nurl = \"{store}\"\n\
         [node]\nname = \"{node}\"\nlease = \"{}s\"\n\
         [provenance]\nkeys = \"{}\"\n\
         [fetch]\nallow_private_networks = true\nmin_interval = \"1s\"\nuser_agent = \"verbatim-test {node}\"\n\
         [[webhooks]]\nurl = \"{hooks}/hook\"\nsecret = \"test-secret-of-16-chars\"\n",
        LEASE.as_secs(),
        keys.display()
    );
    for index in 0..FEEDS {
        text.push_str(&format!(
            "[[sources]]\nname = \"feed{index}\"\nurl = \"{feeds}/feed/{index}\"\nevery = \"1s\"\n"
        ));
    }
    text
}

/// `verbatim nodes --json`: node name → the sources it holds.
fn nodes(data: &DataDir) -> BTreeMap<String, BTreeSet<String>> {
    let output = data.run(&["nodes", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let list: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap_or_default();
    list.as_array()
        .into_iter()
        .flatten()
        .map(|node| {
            (
                node["node"].as_str().unwrap_or_default().to_string(),
                node["sources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|source| source.as_str().map(str::to_string))
                    .collect(),
            )
        })
        .collect()
}

/// Which node fetched which feed in a time window, from the feed server's log.
fn fetchers(
    log: &Mutex<Vec<util::Request>>,
    from: Instant,
    to: Instant,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for request in log.lock().map(|log| log.clone()).unwrap_or_default() {
        if request.at < from || request.at > to {
            continue;
        }
        let agent = request.header("user-agent").unwrap_or_default();
        let node = agent
            .split_whitespace()
            .find(|word| word.starts_with("node-"))
            .unwrap_or(agent)
            .to_string();
        seen.entry(request.target.clone()).or_default().insert(node);
    }
    seen
}

/// Publish events per story, from the webhook receiver's log.
fn publish_events(log: &Mutex<Vec<util::Request>>) -> BTreeMap<String, usize> {
    let mut events: BTreeMap<String, usize> = BTreeMap::new();
    for request in log.lock().map(|log| log.clone()).unwrap_or_default() {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        if request.header("x-verbatim-event") == Some("publish") {
            *events
                .entry(body["id"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }
    }
    events
}

#[test]
fn three_nodes_share_one_postgresql_store() {
    let Some(store) = util::postgres_database() else {
        eprintln!("skipped: PostgreSQL is not installed");
        return;
    };
    let generations: Generations = Arc::new(Mutex::new(vec![2; FEEDS]));
    let served = generations.clone();
    let (feeds, feed_log) = util::http_server(move |request| {
        let index = request
            .target
            .rsplit('/')
            .next()
            .and_then(|index| index.parse::<usize>().ok())
            .filter(|index| *index < FEEDS);
        match index {
            Some(index) => {
                let stories = served.lock().map(|counts| counts[index]).unwrap_or(0);
                (
                    200,
                    vec![("Content-Type".into(), "application/rss+xml".into())],
                    feed(index, stories),
                )
            }
            None => (404, Vec::new(), Vec::new()),
        }
    });
    let (hooks, hook_log) = util::http_server(|_| (200, Vec::new(), b"ok".to_vec()));
    let keys = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let names = ["node-a", "node-b", "node-c"];
    let dirs: Vec<DataDir> = names.iter().map(|_| node_dir(&store)).collect();
    let mut servers: Vec<Option<Server>> = names
        .iter()
        .zip(&dirs)
        .map(|(name, data)| {
            let path = data.path().join("verbatim.toml");
            std::fs::write(&path, config(name, &store, keys.path(), &feeds, &hooks))
                .unwrap_or_else(|error| panic!("{error}"));
            Some(data.serve(&["--config", path.to_str().unwrap_or_default()]))
        })
        .collect();
    let server = |index: usize, servers: &[Option<Server>]| -> String {
        servers[index]
            .as_ref()
            .map(|server| server.base.clone())
            .unwrap_or_default()
    };
    let get = |base: &str, path: &str| -> u16 {
        client()
            .get(format!("{base}{path}"))
            .send()
            .map(|response| response.status().as_u16())
            .unwrap_or(0)
    };

    // The work spreads out evenly (the fair share is 6 / 3): a node that took more while it was
    // alone gives the excess up; each feed is held by one node.
    let holdings = wait_for(
        "three nodes sharing the feeds",
        Duration::from_secs(60),
        || {
            let holdings = nodes(&dirs[0]);
            let held: usize = holdings.values().map(BTreeSet::len).sum();
            let even = holdings.values().all(|held| held.len() == FEEDS / 3);
            (holdings.len() == 3 && held == FEEDS && even).then_some(holdings)
        },
    );
    let all: BTreeSet<&String> = holdings.values().flatten().collect();
    assert_eq!(all.len(), FEEDS, "no feed held twice: {holdings:?}");
    // Every node serves every story, whichever node fetched it.
    for index in 0..3 {
        let base = server(index, &servers);
        wait_for(
            "every feed's stories on every node",
            Duration::from_secs(60),
            || {
                let (_, list) = util::get_json_at(&base, "/api/v1/items?limit=200");
                (list["items"].as_array().map(Vec::len) == Some(FEEDS * 2)).then_some(())
            },
        );
    }
    // Each feed polled by exactly one node over a window of several polls.
    let window_start = Instant::now();
    std::thread::sleep(Duration::from_secs(4));
    let window = fetchers(&feed_log, window_start, Instant::now());
    assert_eq!(window.len(), FEEDS, "every feed polled: {window:?}");
    for (feed, nodes) in &window {
        assert_eq!(
            nodes.len(),
            1,
            "{feed} polled by one node at a time: {window:?}"
        );
    }

    // A push to node A is on B and C; a kill pushed to A is a 410 on A at its very next request
    // (its own commit makes its cached page stale) and on B and C, whose cached pages follow the
    // store's change token, within the bound.
    let added = dirs[0].run(&["source", "add", "wire", "--push"]);
    assert!(added.status.success(), "{}", stderr(&added));
    let token = util::push_token(&added);
    let push = |base: &str, item: serde_json::Value| util::push_item(base, "wire", &token, &item);
    let story = |pubstatus: &str, version: u64| {
        json!({
            "uri": "urn:nodes:flash",
            "version": version.to_string(),
            "versioncreated": format!("2026-12-01T11:0{version}:00Z"),
            "pubstatus": pubstatus,
            "headline": "Bridge closed after crash",
            "body_text": "The bridge was closed on Tuesday after a lorry crashed into a barrier.",
        })
    };
    let id = push(&server(0, &servers), story("usable", 1));
    for index in [0, 1, 2] {
        // Twice: the second answer is the node's cached page.
        for _ in 0..2 {
            assert_eq!(get(&server(index, &servers), &format!("/items/{id}")), 200);
        }
    }
    push(&server(0, &servers), story("canceled", 2));
    let pushed = Instant::now();
    assert_eq!(
        get(&server(0, &servers), &format!("/items/{id}")),
        410,
        "the node that took the kill shows it at its very next request"
    );
    const KILL_BOUND: Duration = Duration::from_secs(1);
    let mut seen: [Option<Duration>; 2] = [None, None];
    while seen.iter().any(Option::is_none) {
        for (slot, index) in [1, 2].into_iter().enumerate() {
            // When the request that first answered 410 was sent.
            let sent = pushed.elapsed();
            if seen[slot].is_none() && get(&server(index, &servers), &format!("/items/{id}")) == 410
            {
                seen[slot] = Some(sent);
            }
        }
        assert!(
            pushed.elapsed() < KILL_BOUND || seen.iter().all(Option::is_some),
            "the kill is not on every node within {KILL_BOUND:?}: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    eprintln!("kill pushed to node A: a 410 on B and C for requests sent {seen:?} after it");

    // An embargo is released by one node, once.
    let until = chrono::Utc::now() + chrono::Duration::seconds(3);
    let mut embargoed = story("usable", 1);
    embargoed["uri"] = json!("urn:nodes:rates");
    embargoed["headline"] = json!("Rates rise");
    embargoed["embargoed"] = json!(until.to_rfc3339());
    let rates = push(&server(1, &servers), embargoed);
    assert_eq!(get(&server(2, &servers), &format!("/items/{rates}")), 404);
    for index in 0..3 {
        let base = server(index, &servers);
        let released = wait_for("the embargo release", Duration::from_secs(15), || {
            (get(&base, &format!("/items/{rates}")) == 200).then(chrono::Utc::now)
        });
        assert!(released >= until, "never before the embargo ends");
    }

    // Node A dies; its feeds pass to B and C within the lease period, and what the feeds add
    // meanwhile is published once.
    let orphaned = nodes(&dirs[0]).remove("node-a").unwrap_or_default();
    assert!(!orphaned.is_empty());
    if let Some(mut node) = servers[0].take() {
        let _ = node.child.kill(); // SIGKILL
        let _ = node.child.wait();
    }
    let killed = Instant::now();
    if let Ok(mut counts) = generations.lock() {
        counts.iter_mut().for_each(|count| *count = 3);
    }
    let taken_over = wait_for(
        "the dead node's feeds taken over",
        Duration::from_secs(30),
        || {
            let seen = fetchers(&feed_log, killed + LEASE / 2, Instant::now());
            orphaned
                .iter()
                .all(|source| {
                    let path = format!("/feed/{}", source.trim_start_matches("feed"));
                    seen.get(&path)
                        .is_some_and(|nodes| !nodes.contains("node-a"))
                })
                .then(|| killed.elapsed())
        },
    );
    eprintln!(
        "node A's {} feed(s) taken over {:.1} s after SIGKILL (lease {} s)",
        orphaned.len(),
        taken_over.as_secs_f64(),
        LEASE.as_secs()
    );
    for index in [1, 2] {
        let base = server(index, &servers);
        let ids = wait_for(
            "the new stories on B and C",
            Duration::from_secs(30),
            || {
                let (_, list) = util::get_json_at(&base, "/api/v1/items?limit=200");
                let ids: BTreeSet<String> = list["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|item| item["id"].as_str().map(str::to_string))
                    .collect();
                // Three stories per feed, and the embargoed one.
                (ids.len() == FEEDS * 3 + 1).then_some(ids)
            },
        );
        for id in &ids {
            let (status, history) = util::get_text_at(&base, &format!("/items/{id}/history"));
            assert_eq!(status, 200);
            assert_eq!(
                history.matches("class=\"seq\"").count(),
                1,
                "{id}: stored once, one version"
            );
        }
    }
    let live = nodes(&dirs[1]);
    assert_eq!(
        live.keys().cloned().collect::<Vec<_>>(),
        ["node-b", "node-c"],
        "node A's lease expired"
    );
    assert_eq!(
        live.values().map(BTreeSet::len).sum::<usize>(),
        FEEDS,
        "every feed held again: {live:?}"
    );
    // Webhooks: never a publish event twice (the dead node may leave deliveries it had
    // claimed to be retried later, so absence is not checked for those).
    std::thread::sleep(Duration::from_secs(2));
    let events = publish_events(&hook_log);
    assert!(!events.is_empty());
    for (story, count) in &events {
        assert_eq!(*count, 1, "{story}: one publish event");
    }
    assert_eq!(events.get(&rates), Some(&1), "the embargo's release, once");
    drop(servers);
}

#[test]
fn migrate_store_moves_an_installation_and_audit_passes() {
    let Some(target) = util::postgres_database() else {
        eprintln!("skipped: PostgreSQL is not installed");
        return;
    };
    // SQLite, whatever VERBATIM_TEST_STORE says.
    let mut data = DataDir::new();
    data.store = None;
    let output = data.run(&[
        "ingest",
        "--source",
        "fidelity",
        fixture("fidelity.rss").to_str().unwrap_or_default(),
        fixture("fidelity.atom").to_str().unwrap_or_default(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let before = {
        let server = data.serve(&[]);
        let (_, list) = server.get_json("/api/v1/items?limit=200");
        list
    };
    let from = format!("sqlite://{}", data.path().join("verbatim.db").display());
    let output = data.run(&["migrate-store", "--from", &from, "--to", &target, "--json"]);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let report: serde_json::Value =
        serde_json::from_str(stdout(&output).trim()).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report["counts_match"], true, "{report}");
    assert_eq!(report["raw_payloads_missing"], 0, "{report}");
    for table in report["tables"].as_array().into_iter().flatten() {
        assert_eq!(table["from"], table["to"], "{table}");
    }
    // A second copy into a store that is no longer empty is refused.
    let again = data.run(&["migrate-store", "--from", &from, "--to", &target]);
    assert!(!again.status.success());

    // The PostgreSQL side, with the same keys: audit passes and the API answers the same.
    let moved = node_dir(&target);
    let keys = data.path().join("keys");
    let config = moved.path().join("verbatim.toml");
    std::fs::write(
        &config,
        format!("[provenance]\nkeys = \"{}\"\n", keys.display()),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let config = config.to_str().unwrap_or_default();
    let audit = moved.run(&["--config", config, "audit", "--json"]);
    assert!(
        audit.status.success(),
        "{}{}",
        stdout(&audit),
        stderr(&audit)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout(&audit).trim()).unwrap_or_default();
    assert_eq!(summary["failed"], 0, "{summary}");
    assert!(
        summary["checked"].as_u64().unwrap_or_default() >= 7,
        "{summary}"
    );
    let server = moved.serve(&["--config", config]);
    let (_, after) = server.get_json("/api/v1/items?limit=200");
    // The same stories with the same text (addresses differ: another server, another port).
    let shown = |list: &serde_json::Value| -> Vec<String> {
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| {
                [
                    "id",
                    "guid",
                    "headline",
                    "body_html",
                    "body_text",
                    "text_hash",
                    "raw",
                ]
                .map(|key| item[key].to_string())
                .join("|")
            })
            .collect()
    };
    assert_eq!(shown(&before).len(), 9);
    assert_eq!(shown(&before), shown(&after), "the API answers the same");
    let first = before["items"][0]["id"].as_str().unwrap_or_default();
    let verify = moved.run(&["--config", config, "verify", first]);
    assert!(
        verify.status.success(),
        "{}{}",
        stdout(&verify),
        stderr(&verify)
    );
}
