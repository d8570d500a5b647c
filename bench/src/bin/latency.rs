//! Lifecycle latency, measured on the real binary: how long from an agency's push or inbox drop
//! until every output shows the change (a new story live, a kill gone everywhere), and how late
//! after its time an embargoed story appears. Prints p50 / p99 / max per path and the ratio of
//! each p99 to its goal (the named baseline: 1 s for kills and embargoes, 50 ms for push to page).
//!
//! Run: `cargo build --release && cargo run --release -p bench --bin latency -- [--rounds N]`.
//! With `--nodes N` (2–8) it measures kill propagation across N nodes on one private PostgreSQL
//! database instead: a kill pushed to node A, until every other node shows it gone.
//! The verbatim binary is found beside this one (target/release) or at `$VERBATIM_BIN`.

use bench::serve::{add_push_source, percentile, verbatim_binary};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

fn main() {
    if let Err(error) = run() {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

type Result<T> = std::result::Result<T, String>;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(binary: &Path, data: &Path) -> Result<Server> {
    start_with(binary, data, &[])
}

/// `verbatim --data DATA EXTRA… serve` (EXTRA: global options such as `--config FILE`).
fn start_with(binary: &Path, data: &Path, extra: &[&str]) -> Result<Server> {
    let (child, base) = bench::serve::start(binary, data, extra)?;
    Ok(Server { child, base })
}

fn story(guid: &str, version: u64, pubstatus: &str, embargoed: Option<&str>) -> String {
    let mut item = serde_json::json!({
        "uri": guid,
        "version": version.to_string(),
        "versioncreated": format!("2026-11-24T10:00:{:02}Z", version),
        "pubstatus": pubstatus,
        "headline": format!("Latency probe {guid}"),
        "body_text": format!("The text of {guid}, version {version}."),
    });
    if let (Some(embargoed), Some(map)) = (embargoed, item.as_object_mut()) {
        map.insert("embargoed".into(), serde_json::json!(embargoed));
    }
    item.to_string()
}

struct Probe {
    client: reqwest::blocking::Client,
    base: String,
    token: String,
}

impl Probe {
    fn get(&self, path: &str) -> (u16, String) {
        match self.client.get(format!("{}{path}", self.base)).send() {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.text().unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        }
    }

    /// Pushes one payload; returns the ids Verbatim accepted.
    fn push(&self, body: String) -> Result<Vec<String>> {
        bench::serve::push(&self.client, &self.base, "wire", &self.token, None, body)
    }

    /// Whether every output shows the story (`true`) or none does (`false`); `None` if mixed.
    fn everywhere(&self, id: &str) -> Option<bool> {
        let entry = format!("urn:verbatim:item:{id}");
        let (page, _) = self.get(&format!("/items/{id}"));
        let (api, _) = self.get(&format!("/api/v1/items/{id}"));
        let (_, list) = self.get("/api/v1/items?limit=200");
        let (_, atom) = self.get("/feeds/all.atom");
        let (_, rss) = self.get("/feeds/all.rss");
        let (_, json) = self.get("/feeds/all.json");
        // Only the list's items count: a killed story is named in its `gone` list on purpose.
        let listed = serde_json::from_str::<serde_json::Value>(&list)
            .ok()
            .and_then(|list| list["items"].as_array().cloned())
            .is_some_and(|items| items.iter().any(|item| item["id"] == id));
        let shown = [
            page == 200,
            api == 200,
            listed,
            atom.contains(&format!("<id>{entry}</id>")),
            rss.contains(&format!(">{entry}</guid>")),
            serde_json::from_str::<serde_json::Value>(&json)
                .ok()
                .and_then(|feed| feed["items"].as_array().cloned())
                .is_some_and(|items| items.iter().any(|item| item["id"] == entry.as_str())),
        ];
        if shown.iter().all(|shown| *shown) {
            Some(true)
        } else if shown.iter().all(|shown| !*shown) {
            Some(false)
        } else {
            None
        }
    }

    fn wait_until(&self, id: &str, visible: bool, timeout: Duration) -> Result<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.everywhere(id) == Some(visible) {
                return Ok(Instant::now());
            }
            if Instant::now() > deadline {
                return Err(format!("{id} never became visible={visible}"));
            }
        }
    }
}

fn report(name: &str, mut samples: Vec<Duration>, goal: Duration) {
    samples.sort();
    let p50 = percentile(&samples, 0.50).unwrap_or_default();
    let p99 = percentile(&samples, 0.99).unwrap_or_default();
    let max = samples.last().copied().unwrap_or_default();
    println!(
        "{name:<44} {:>4}  p50 {:>8.1} ms  p99 {:>8.1} ms  max {:>8.1} ms  p99/goal {:>5.2} (goal {} ms)",
        samples.len(),
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0,
        max.as_secs_f64() * 1000.0,
        p99.as_secs_f64() / goal.as_secs_f64(),
        goal.as_millis()
    );
}

/// Kill propagation across nodes: `nodes` serve processes on one private PostgreSQL database;
/// each round pushes a story to node A, waits until every other node shows it, pushes its kill
/// to node A and times until it is gone from every output of every other node.
fn run_nodes(binary: &Path, nodes: usize, rounds: usize) -> Result<()> {
    let postgres = verbatim_store::throwaway_postgres::ThrowawayPostgres::start()?
        .ok_or("PostgreSQL is not installed")?;
    let url = postgres.create_database("latency")?;
    let root = tempfile::tempdir().map_err(|error| error.to_string())?;
    let keys = root.path().join("keys");
    let token = add_push_source(
        binary,
        &root.path().join("admin"),
        &["--store", &url],
        "wire",
    )?;
    let mut servers = Vec::new();
    for node in 0..nodes {
        let data = root.path().join(format!("node{node}"));
        std::fs::create_dir_all(&data).map_err(|error| error.to_string())?;
        let config = data.join("verbatim.toml");
        std::fs::write(
            &config,
            format!(
                "[store]\nurl = \"{url}\"\n[node]\nname = \"node{node}\"\n[provenance]\nkeys = \"{}\"\n",
                keys.display()
            ),
        )
        .map_err(|error| error.to_string())?;
        servers.push(start_with(
            binary,
            &data,
            &["--config", config.to_str().unwrap_or_default()],
        )?);
    }
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|error| error.to_string())?;
    let probes: Vec<Probe> = servers
        .iter()
        .map(|server| Probe {
            client: client.clone(),
            base: server.base.clone(),
            token: token.clone(),
        })
        .collect();
    println!(
        "kill propagation across {nodes} nodes on one PostgreSQL database, {rounds} rounds, 127.0.0.1 ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let (mut page_gone, mut everywhere_gone) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let guid = format!("urn:probe:nodes:{round}");
        let ids = probes[0].push(story(&guid, 1, "usable", None))?;
        let id = ids.first().cloned().ok_or("the push accepted nothing")?;
        for probe in &probes[1..] {
            probe.wait_until(&id, true, Duration::from_secs(10))?;
        }
        let started = Instant::now();
        probes[0].push(story(&guid, 2, "canceled", None))?;
        // The article page on every other node (read from the store per request) …
        let mut slowest_page = Duration::ZERO;
        for probe in &probes[1..] {
            loop {
                if probe.get(&format!("/items/{id}")).0 == 410 {
                    slowest_page = slowest_page.max(started.elapsed());
                    break;
                }
                if started.elapsed() > Duration::from_secs(10) {
                    return Err(format!("{id}: the kill never reached {}", probe.base));
                }
            }
        }
        page_gone.push(slowest_page);
        // … and every output (lists, feeds follow the store's change stream).
        let mut slowest = Duration::ZERO;
        for probe in &probes[1..] {
            slowest = slowest.max(probe.wait_until(&id, false, Duration::from_secs(10))? - started);
        }
        everywhere_gone.push(slowest);
    }
    println!();
    report(
        "kill on node A → 410 on every other node",
        page_gone,
        Duration::from_secs(1),
    );
    report(
        "kill on node A → gone from every output, all nodes",
        everywhere_gone,
        Duration::from_secs(1),
    );
    drop(servers);
    Ok(())
}

fn run() -> Result<()> {
    let mut rounds = 100usize;
    let mut nodes = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .ok_or("--rounds needs a number")?
            }
            "--nodes" => {
                nodes = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .filter(|nodes| (2..=8).contains(nodes))
                    .ok_or("--nodes needs a number from 2 to 8")?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let binary = verbatim_binary()?;
    if nodes > 1 {
        return run_nodes(&binary, nodes, rounds);
    }
    let data = std::env::temp_dir().join(format!("verbatim-latency-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let token = add_push_source(&binary, &data, &[] as &[&str], "wire")?;
    let server = start(&binary, &data)?;
    let probe = Probe {
        client: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| error.to_string())?,
        base: server.base.clone(),
        token,
    };
    println!(
        "verbatim lifecycle latency, {rounds} rounds per path, one process on 127.0.0.1 ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // Push → live everywhere, then kill → gone everywhere.
    let mut live = Vec::new();
    let mut page_live = Vec::new();
    let mut killed = Vec::new();
    for round in 0..rounds {
        let guid = format!("urn:probe:push:{round}");
        let started = Instant::now();
        let ids = probe.push(story(&guid, 1, "usable", None))?;
        let id = ids.first().cloned().ok_or("the push accepted nothing")?;
        let (status, page) = probe.get(&format!("/items/{id}"));
        if status == 200 && page.contains(&format!("The text of {guid}")) {
            page_live.push(started.elapsed());
        }
        live.push(probe.wait_until(&id, true, Duration::from_secs(10))? - started);
        let started = Instant::now();
        probe.push(story(&guid, 2, "canceled", None))?;
        killed.push(probe.wait_until(&id, false, Duration::from_secs(10))? - started);
    }

    // Inbox drop (written under a temporary name, renamed into place) → kill gone everywhere.
    let inbox = data.join("inbox").join("wire");
    std::fs::create_dir_all(&inbox).map_err(|error| error.to_string())?;
    let mut inbox_killed = Vec::new();
    for round in 0..rounds.min(40) {
        let guid = format!("urn:probe:inbox:{round}");
        let ids = probe.push(story(&guid, 1, "usable", None))?;
        let id = ids.first().cloned().ok_or("the push accepted nothing")?;
        probe.wait_until(&id, true, Duration::from_secs(10))?;
        let temporary = inbox.join(format!("kill-{round}.json.part"));
        std::fs::write(&temporary, story(&guid, 2, "canceled", None))
            .map_err(|error| error.to_string())?;
        let started = Instant::now();
        std::fs::rename(&temporary, inbox.join(format!("kill-{round}.json")))
            .map_err(|error| error.to_string())?;
        inbox_killed.push(probe.wait_until(&id, false, Duration::from_secs(10))? - started);
    }

    // Embargo: how late after its time the story is live everywhere; never visible before.
    let mut lateness = Vec::new();
    let mut early = 0;
    for round in 0..rounds.min(40) {
        let guid = format!("urn:probe:embargo:{round}");
        let until = chrono::Utc::now() + chrono::Duration::milliseconds(700);
        let until_instant = Instant::now() + Duration::from_millis(700);
        let ids = probe.push(story(&guid, 1, "usable", Some(&until.to_rfc3339())))?;
        let id = ids.first().cloned().ok_or("the push accepted nothing")?;
        loop {
            let visible = probe.everywhere(&id);
            let now = Instant::now();
            if visible.is_some_and(|visible| visible) || visible.is_none() {
                if now < until_instant {
                    early += 1;
                }
                if visible == Some(true) {
                    lateness.push(now.saturating_duration_since(until_instant));
                    break;
                }
            }
            if now > until_instant + Duration::from_secs(10) {
                return Err(format!("{id} was never released"));
            }
        }
    }

    println!();
    report(
        "push → page answers 200 with the text",
        page_live,
        Duration::from_millis(50),
    );
    report("push → live in every output", live, Duration::from_secs(1));
    report(
        "push kill → gone from every output",
        killed,
        Duration::from_secs(1),
    );
    report(
        "inbox kill → gone from every output",
        inbox_killed,
        Duration::from_secs(1),
    );
    report(
        "embargo time → live in every output",
        lateness,
        Duration::from_secs(1),
    );
    println!("outputs showing an embargoed story before its time: {early}");
    println!(
        "\n(each sample ends when one full poll of page, API item, API list, Atom, RSS and JSON Feed\n agrees, so every figure includes one poll round; the store is SQLite in {})",
        data.display()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}
