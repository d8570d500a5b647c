//! End-to-end ingest, side by side with a peer: N generated full-text wire stories, split over
//! feeds (RSS 2.0 and Atom, alternately) served from 127.0.0.1, ingested (1) by the real release
//! binary (`verbatim serve`: fetch, archive, parse, normalize, gate, sign, store in SQLite, index
//! for search) and (2) by the Python `reader` library (`add_feed`, `update_feeds`,
//! `enable_search`, `update_search`: fetch with requests, parse with feedparser, store in SQLite,
//! index with FTS5). Each run is timed from starting the process until every story is stored and
//! found by a search (for Verbatim, `/api/v1/items?q=…` counting all N; for reader, until the
//! script exits after `update_search`, having checked the same count). Reports items/s, the ratio,
//! and each process's peak resident memory (`VmHWM` of Verbatim before it is stopped; reader's
//! own `ru_maxrss`).
//!
//! Run: `cargo build --release && cargo run --release -p bench --bin ingest -- [--items N]
//! [--per-feed P] [--reader-workers W] [--no-peer]`, or `-- --grow [--sizes 1000,10000,100000,
//! 1000000]` for the growth table, CSV and SVG (`bench/results/ingest-growth.{csv,svg}`). A run
//! whose time, extrapolated from the size before, would pass its limit (`--peer-limit-min`,
//! default 10, for reader; `--verbatim-limit-min`, default 30) is skipped and says so; one that
//! passes twice its limit is stopped.

use anyhow::{Context, Result, anyhow, bail};
use bench::serve::{cpu_seconds, verbatim_binary};
use bench::{memory, plot, python, wire};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

fn main() {
    if let Err(error) = run() {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

struct Options {
    items: usize,
    per_feed: usize,
    reader_workers: usize,
    peer: bool,
    grow: Option<Vec<usize>>,
    peer_limit: Duration,
    verbatim_limit: Duration,
    out: PathBuf,
    /// Only draw the chart again from this CSV of an earlier `--grow`.
    plot: Option<PathBuf>,
    /// Which stores Verbatim runs on, each a row: SQLite, PostgreSQL, PostgreSQL with N nodes.
    stores: Vec<StoreChoice>,
}

/// The store a Verbatim run uses, and how many `serve` nodes share it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum StoreChoice {
    Sqlite,
    Postgres { nodes: usize },
}

impl StoreChoice {
    fn parse(text: &str) -> Result<StoreChoice> {
        match text.trim() {
            "sqlite" => Ok(StoreChoice::Sqlite),
            "postgres" => Ok(StoreChoice::Postgres { nodes: 1 }),
            other => match other.strip_prefix("postgres:").map(str::parse::<usize>) {
                Some(Ok(nodes)) if (1..=8).contains(&nodes) => Ok(StoreChoice::Postgres { nodes }),
                _ => bail!(
                    "--stores takes sqlite, postgres or postgres:N (N nodes, 1–8), not {other:?}"
                ),
            },
        }
    }

    /// The row's name: `verbatim` (SQLite, the row compared with reader), `verbatim-pg`,
    /// `verbatim-pg×N`.
    fn system(self) -> &'static str {
        match self {
            StoreChoice::Sqlite => "verbatim",
            StoreChoice::Postgres { nodes: 1 } => "verbatim-pg",
            StoreChoice::Postgres { nodes: 2 } => "verbatim-pg×2",
            StoreChoice::Postgres { nodes: 3 } => "verbatim-pg×3",
            StoreChoice::Postgres { .. } => "verbatim-pg×N",
        }
    }
}

fn options() -> Result<Options> {
    let mut options = Options {
        items: 10_000,
        per_feed: 200,
        reader_workers: 1,
        peer: true,
        grow: None,
        peer_limit: Duration::from_secs(600),
        verbatim_limit: Duration::from_secs(1800),
        out: Path::new(env!("CARGO_MANIFEST_DIR")).join("results"),
        plot: None,
        stores: vec![StoreChoice::Sqlite],
    };
    let mut args = std::env::args().skip(1);
    let number = |value: Option<String>, name: &str| -> Result<usize> {
        value
            .and_then(|value| value.replace('_', "").parse().ok())
            .ok_or_else(|| anyhow!("{name} needs a number"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--items" => options.items = number(args.next(), "--items")?,
            "--per-feed" => options.per_feed = number(args.next(), "--per-feed")?.max(1),
            "--reader-workers" => {
                options.reader_workers = number(args.next(), "--reader-workers")?.max(1)
            }
            "--no-peer" => options.peer = false,
            "--grow" => {
                options
                    .grow
                    .get_or_insert_with(|| vec![1_000, 10_000, 100_000, 1_000_000]);
            }
            "--sizes" => {
                let list = args.next().ok_or_else(|| anyhow!("--sizes needs a list"))?;
                let sizes = list
                    .split(',')
                    .map(|size| number(Some(size.trim().to_string()), "--sizes"))
                    .collect::<Result<Vec<_>>>()?;
                options.grow = Some(sizes);
            }
            "--peer-limit-min" => {
                options.peer_limit =
                    Duration::from_secs(60 * number(args.next(), "--peer-limit-min")? as u64)
            }
            "--verbatim-limit-min" => {
                options.verbatim_limit =
                    Duration::from_secs(60 * number(args.next(), "--verbatim-limit-min")? as u64)
            }
            "--out" => {
                options.out = args
                    .next()
                    .map(PathBuf::from)
                    .ok_or_else(|| anyhow!("--out needs a folder"))?
            }
            "--stores" => {
                let list = args
                    .next()
                    .ok_or_else(|| anyhow!("--stores needs a list"))?;
                options.stores = list
                    .split(',')
                    .map(StoreChoice::parse)
                    .collect::<Result<Vec<_>>>()?;
            }
            "--plot" => {
                options.plot = Some(
                    args.next()
                        .map(PathBuf::from)
                        .ok_or_else(|| anyhow!("--plot needs the CSV of a --grow run"))?,
                )
            }
            other => bail!(
                "unknown argument {other}; usage: ingest [--items N] [--per-feed P] [--reader-workers W] [--no-peer] [--grow] [--sizes A,B,C] [--peer-limit-min M] [--verbatim-limit-min M] [--out DIR] [--plot CSV] [--stores sqlite,postgres,postgres:3]"
            ),
        }
    }
    Ok(options)
}

/// The generated feeds on disk: feed `k` holds stories `k·P .. min((k+1)·P, N)`, so the feeds of
/// a smaller N are the first feeds of a larger one and are written once.
struct Corpus {
    dir: tempfile::TempDir,
    per_feed: usize,
    reference: chrono::DateTime<chrono::Utc>,
    /// (feed number, its last story + 1) → (path, format, bytes).
    written: HashMap<(usize, usize), (PathBuf, wire::Syndication, u64)>,
}

/// The feeds of one size: (feed name, path, format) and the total bytes.
struct FeedSet {
    feeds: Vec<(String, PathBuf, wire::Syndication)>,
    bytes: u64,
}

impl Corpus {
    fn new(per_feed: usize) -> Result<Corpus> {
        let now = chrono::Utc::now();
        Ok(Corpus {
            dir: tempfile::Builder::new()
                .prefix("verbatim-ingest-feeds-")
                .tempdir()?,
            per_feed,
            reference: now - chrono::Duration::nanoseconds(now.timestamp_subsec_nanos() as i64),
            written: HashMap::new(),
        })
    }

    fn feeds_for(&mut self, items: usize) -> Result<FeedSet> {
        let mut set = FeedSet {
            feeds: Vec::new(),
            bytes: 0,
        };
        let count = items.div_ceil(self.per_feed);
        for number in 0..count {
            let start = number * self.per_feed;
            let end = (start + self.per_feed).min(items);
            let format = if number.is_multiple_of(2) {
                wire::Syndication::Rss2
            } else {
                wire::Syndication::Atom
            };
            let name = format!("feed{number}");
            if !self.written.contains_key(&(number, end)) {
                let text = wire::feed(&name, start..end, format, self.reference);
                let path = self.dir.path().join(format!("{name}-{end}.xml"));
                std::fs::write(&path, &text)
                    .with_context(|| format!("writing {}", path.display()))?;
                self.written
                    .insert((number, end), (path, format, text.len() as u64));
            }
            if let Some((path, format, bytes)) = self.written.get(&(number, end)) {
                set.feeds.push((name, path.clone(), *format));
                set.bytes += bytes;
            }
        }
        Ok(set)
    }
}

/// The local feed server: `/{run}/{feed}.xml` → a file of the current set.
struct FeedServer {
    base: String,
    routes: Arc<RwLock<HashMap<String, (PathBuf, wire::Syndication)>>>,
    served: Arc<AtomicU64>,
}

impl FeedServer {
    fn start() -> Result<FeedServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let routes: Arc<RwLock<HashMap<String, (PathBuf, wire::Syndication)>>> = Arc::default();
        let served = Arc::new(AtomicU64::new(0));
        let (table, counter) = (routes.clone(), served.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (table, counter) = (table.clone(), counter.clone());
                std::thread::spawn(move || {
                    let _ = answer(stream, &table, &counter);
                });
            }
        });
        Ok(FeedServer {
            base,
            routes,
            served,
        })
    }

    /// Serves `set` under a new prefix; returns the feeds' URLs.
    fn publish(&self, run: &str, set: &FeedSet) -> Result<Vec<String>> {
        let mut routes = self
            .routes
            .write()
            .map_err(|_| anyhow!("feed routes poisoned"))?;
        routes.clear();
        let mut urls = Vec::new();
        for (name, path, format) in &set.feeds {
            let route = format!("/{run}/{name}.xml");
            urls.push(format!("{}{route}", self.base));
            routes.insert(route, (path.clone(), *format));
        }
        self.served.store(0, Ordering::Relaxed);
        Ok(urls)
    }
}

fn answer(
    stream: std::net::TcpStream,
    routes: &RwLock<HashMap<String, (PathBuf, wire::Syndication)>>,
    served: &AtomicU64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 && line != "\r\n" {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    let route = routes
        .read()
        .ok()
        .and_then(|routes| routes.get(&path).cloned());
    let mut out = BufWriter::new(stream);
    match route.and_then(|(file, format)| Some((std::fs::read(file).ok()?, format))) {
        Some((body, format)) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                format.content_type(),
                body.len()
            )?;
            out.write_all(&body)?;
            served.fetch_add(1, Ordering::Relaxed);
        }
        None => write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?,
    }
    out.flush()
}

#[derive(Clone, Debug)]
enum Outcome {
    Done,
    Incomplete(String),
    Skipped(String),
}

#[derive(Clone, Debug)]
struct Measured {
    system: &'static str,
    items: usize,
    feeds: usize,
    /// Wall time from starting the process until every story was stored and searchable.
    seconds: f64,
    peak_kib: u64,
    /// What the run left on disk (store, archive, index; reader's database).
    disk_bytes: u64,
    /// When the last feed had been fetched, if known.
    fetched_seconds: Option<f64>,
    detail: String,
    outcome: Outcome,
    /// The 1-minute load average at the start and at the end: this machine is shared.
    load: (f64, f64),
}

impl Measured {
    fn skipped(system: &'static str, items: usize, feeds: usize, why: String) -> Measured {
        Measured {
            system,
            items,
            feeds,
            seconds: f64::NAN,
            peak_kib: 0,
            disk_bytes: 0,
            fetched_seconds: None,
            detail: String::new(),
            outcome: Outcome::Skipped(why),
            load: (f64::NAN, f64::NAN),
        }
    }

    fn rate(&self) -> Option<f64> {
        matches!(self.outcome, Outcome::Done).then(|| self.items as f64 / self.seconds)
    }
}

/// The 1-minute load average (NaN when unknown).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn disk_usage(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return std::fs::metadata(path).map_or(0, |meta| meta.len());
    };
    entries
        .filter_map(|entry| entry.ok())
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => disk_usage(&entry.path()),
            _ => entry.metadata().map_or(0, |meta| meta.len()),
        })
        .sum()
}

/// A fresh PostgreSQL database for one run, on the bench's private server.
fn postgres_database(
    server: &verbatim_store::throwaway_postgres::ThrowawayPostgres,
) -> Result<String> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!("ingest_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    server
        .create_database(&name)
        .map_err(|error| anyhow!(error))
}

fn run_verbatim(
    binary: &Path,
    server: &FeedServer,
    urls: &[String],
    items: usize,
    limit: Duration,
    store: StoreChoice,
    postgres: Option<&verbatim_store::throwaway_postgres::ThrowawayPostgres>,
) -> Result<Measured> {
    let (store_url, nodes) = match store {
        StoreChoice::Sqlite => (None, 1),
        StoreChoice::Postgres { nodes } => {
            let postgres =
                postgres.ok_or_else(|| anyhow!("PostgreSQL runs need PostgreSQL installed"))?;
            (Some(postgres_database(postgres)?), nodes)
        }
    };
    let dirs = (0..nodes)
        .map(|_| {
            tempfile::Builder::new()
                .prefix("verbatim-ingest-data-")
                .tempdir()
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let keys = dirs[0].path().join("keys");
    let mut config = String::from("[fetch]\nallow_private_networks = true\n");
    if let Some(url) = &store_url {
        config.push_str(&format!(
            "[store]\nurl = \"{url}\"\n[provenance]\nkeys = \"{}\"\n",
            keys.display()
        ));
    }
    for (number, url) in urls.iter().enumerate() {
        config.push_str(&format!(
            "\n[[sources]]\nname = \"wire{number}\"\nurl = \"{url}\"\nevery = \"1h\"\n"
        ));
    }
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    let load_before = load_average();
    let started = Instant::now();
    let mut children = Vec::new();
    let mut base = String::new();
    for (number, dir) in dirs.iter().enumerate() {
        let config_path = dir.path().join("verbatim.toml");
        std::fs::write(
            &config_path,
            format!("[node]\nname = \"node{number}\"\n{config}"),
        )?;
        let (child, address) = bench::serve::start(
            binary,
            dir.path(),
            [std::ffi::OsStr::new("--config"), config_path.as_os_str()],
        )
        .map_err(|error| anyhow!(error))?;
        if number == 0 {
            base = address;
        }
        children.push(child);
    }
    let pids: Vec<u32> = children.iter().map(std::process::Child::id).collect();
    let pid = pids[0];
    let search = format!("{base}/api/v1/items?q={}&limit=1", wire::MARKER);

    let mut peak = 0u64;
    let mut fetched_seconds = None;
    // Still working: stories found, feeds fetched or a busy CPU since the last progress. (The
    // search index can commit nothing for minutes while it catches up with a long burst.)
    let (mut found, mut served, mut cpu) = (0usize, 0u64, 0.0f64);
    let (mut progress_at, mut told_at) = (Instant::now(), Instant::now());
    let outcome = loop {
        std::thread::sleep(Duration::from_millis(200));
        // All nodes together.
        let together: u64 = pids.iter().filter_map(|pid| memory::peak_kib(*pid)).sum();
        peak = peak.max(together);
        if fetched_seconds.is_none() && server.served.load(Ordering::Relaxed) >= urls.len() as u64 {
            fetched_seconds = Some(started.elapsed().as_secs_f64());
        }
        if let Some(status) = children
            .iter_mut()
            .find_map(|child| child.try_wait().ok().flatten())
        {
            break Outcome::Incomplete(format!("verbatim exited ({status}) with {found} found"));
        }
        let total = client
            .get(&search)
            .send()
            .ok()
            .and_then(|response| response.json::<serde_json::Value>().ok())
            .and_then(|answer| answer["total"].as_u64())
            .unwrap_or(0) as usize;
        let (served_now, cpu_now) = (
            server.served.load(Ordering::Relaxed),
            cpu_seconds(pid).unwrap_or(cpu),
        );
        // Busy: more than half a core since the last progress. A `serve` that only polls its
        // sources (a few percent of a core) has stopped, whatever CPU it still uses.
        let cpu_since = cpu_now - cpu;
        let busy = cpu_since > 1.0 && cpu_since > 0.5 * progress_at.elapsed().as_secs_f64();
        if total > found || served_now > served || busy {
            (found, served, cpu, progress_at) =
                (total.max(found), served_now, cpu_now, Instant::now());
        }
        if found >= items {
            break Outcome::Done;
        }
        if told_at.elapsed() > Duration::from_secs(60) {
            told_at = Instant::now();
            eprintln!(
                "  … verbatim at {:.0} s: {served} of {} feeds fetched, {found} of {items} searchable",
                started.elapsed().as_secs_f64(),
                urls.len()
            );
        }
        if started.elapsed() > limit * 2 {
            break Outcome::Incomplete(format!(
                "stopped after {:.0} s with {found} of {items} searchable",
                started.elapsed().as_secs_f64()
            ));
        }
        if progress_at.elapsed() > Duration::from_secs(180) {
            break Outcome::Incomplete(format!(
                "idle for 3 minutes (no feed fetched, no CPU used) with {found} of {items} searchable"
            ));
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let together: u64 = pids.iter().filter_map(|pid| memory::peak_kib(*pid)).sum();
    peak = peak.max(together);
    // CPU time is steadier than wall time on a shared machine: it compares two binaries'
    // work when a neighbour's load moves the wall clock.
    let cpu_used: f64 = pids.iter().filter_map(|pid| cpu_seconds(*pid)).sum();
    // The SQLite writer's one connection, a story's share: the wall time commits held it (which
    // grows with waits for a core) and the holding thread's CPU meanwhile, with the rate that
    // CPU alone allows on any number of cores (PostgreSQL has no such counters).
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .ok()
        .and_then(|response| response.text().ok())
        .unwrap_or_default();
    let per_story = |name: &str| Some(metric(&metrics, name)? * 1e6 / items as f64);
    let writer = match (
        per_story("verbatim_store_writer_busy_seconds_total"),
        per_story("verbatim_store_writer_cpu_seconds_total"),
    ) {
        (Some(held), Some(cpu)) => format!(
            "; writer held {held:.1} µs a story, its CPU {cpu:.1} µs (≤ {:.0} /s)",
            1e6 / cpu.max(f64::EPSILON)
        ),
        _ => String::new(),
    };
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    // The data folders (with PostgreSQL: search indexes only; the database is not counted).
    let disk_bytes = dirs.iter().map(|dir| disk_usage(dir.path())).sum();
    Ok(Measured {
        system: store.system(),
        items,
        feeds: urls.len(),
        seconds,
        peak_kib: peak,
        disk_bytes,
        fetched_seconds,
        detail: format!(
            "{found} found by a search for {:?}; CPU {cpu_used:.1} s{writer}{}",
            wire::MARKER,
            if store_url.is_some() {
                "; disk: the nodes' folders, the database not counted"
            } else {
                ""
            }
        ),
        outcome,
        load: (load_before, load_average()),
    })
}

/// An unlabelled sample's value from a /metrics answer.
fn metric(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

fn run_reader(
    python: &Path,
    server: &FeedServer,
    urls: &[String],
    items: usize,
    workers: usize,
    limit: Duration,
) -> Result<Measured> {
    let dir = tempfile::Builder::new()
        .prefix("verbatim-ingest-reader-")
        .tempdir()?;
    let list = dir.path().join("urls.txt");
    std::fs::write(&list, urls.join("\n"))?;
    let database = dir.path().join("reader.sqlite");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/peer_ingest.py");
    let load_before = load_average();
    let started = Instant::now();
    let mut child = Command::new(python)
        .arg(script)
        .arg(&database)
        .arg(&list)
        .arg(workers.to_string())
        .arg(wire::MARKER)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the reader script")?;
    let pid = child.id();
    let mut peak = 0u64;
    let mut fetched_seconds = None;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if let Some(kib) = memory::peak_kib(pid) {
            peak = peak.max(kib);
        }
        if fetched_seconds.is_none() && server.served.load(Ordering::Relaxed) >= urls.len() as u64 {
            fetched_seconds = Some(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > limit * 2 {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let seconds = started.elapsed().as_secs_f64();
    let mut measured = Measured {
        system: "reader",
        items,
        feeds: urls.len(),
        seconds,
        peak_kib: peak,
        disk_bytes: disk_usage(dir.path()),
        fetched_seconds,
        detail: String::new(),
        outcome: Outcome::Done,
        load: (load_before, load_average()),
    };
    let Some(status) = status else {
        measured.outcome = Outcome::Incomplete(format!("stopped after {seconds:.0} s"));
        return Ok(measured);
    };
    let mut text = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut text)?;
    }
    let report: serde_json::Value = match serde_json::from_str(text.trim()) {
        Ok(report) if status.success() => report,
        _ => {
            measured.outcome = Outcome::Incomplete(format!("the reader script failed ({status})"));
            return Ok(measured);
        }
    };
    if let Some(kib) = report["peak_kb"].as_u64() {
        measured.peak_kib = measured.peak_kib.max(kib);
    }
    let entries = report["entries"].as_u64().unwrap_or(0) as usize;
    let searchable = report["searchable"].as_u64().unwrap_or(0) as usize;
    let step = |name: &str| report["steps"][name].as_f64().unwrap_or(f64::NAN);
    measured.detail = format!(
        "reader {}, {entries} entries, {searchable} found by a search for {:?}; update_feeds {:.1} s, update_search {:.1} s",
        report["reader"].as_str().unwrap_or("?"),
        wire::MARKER,
        step("update_feeds"),
        step("update_search"),
    );
    if entries < items || searchable < items {
        measured.outcome = Outcome::Incomplete(format!(
            "{entries} of {items} stored, {searchable} searchable; broken feeds: {}",
            report["broken_feeds"]
        ));
    }
    Ok(measured)
}

fn print_table(rows: &[Measured]) {
    println!(
        "\n| items | feeds | system | seconds | items/s | verbatim / reader | peak MB | disk MB | |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---|");
    for row in rows {
        let reader_rate = rows
            .iter()
            .find(|other| other.items == row.items && other.system == "reader")
            .and_then(Measured::rate);
        let ratio = match (row.system, row.rate(), reader_rate) {
            ("verbatim", Some(ours), Some(theirs)) => format!("{:.2}×", ours / theirs),
            ("reader", Some(_), Some(_)) => "1.00×".to_string(),
            _ => "—".to_string(),
        };
        let note = match &row.outcome {
            Outcome::Done => String::new(),
            Outcome::Incomplete(why) => format!("incomplete: {why}"),
            Outcome::Skipped(why) => format!("skipped: {why}"),
        };
        if matches!(row.outcome, Outcome::Skipped(_)) {
            println!(
                "| {} | {} | {} | — | — | — | — | — | {note} |",
                row.items, row.feeds, row.system
            );
            continue;
        }
        println!(
            "| {} | {} | {} | {:.1} | {} | {ratio} | {:.0} | {:.0} | {note} |",
            row.items,
            row.feeds,
            row.system,
            row.seconds,
            row.rate()
                .map_or("—".to_string(), |rate| format!("{rate:.0}")),
            memory::mb(row.peak_kib),
            row.disk_bytes as f64 / 1e6,
        );
    }
}

/// The estimated time of a run at `items`, from the same system's run at a smaller size
/// (scaled linearly, which is optimistic for systems that slow down as they grow).
fn estimate(previous: Option<&Measured>, items: usize) -> Option<f64> {
    let previous = previous?;
    match previous.outcome {
        Outcome::Done => Some(previous.seconds * items as f64 / previous.items as f64),
        Outcome::Incomplete(_) | Outcome::Skipped(_) => Some(f64::INFINITY),
    }
}

/// Why a run is skipped: its estimated time passes `limit`.
fn over_limit(estimated: f64, limit: Duration) -> String {
    if estimated.is_finite() {
        format!(
            "estimated {estimated:.0} s (the size before, scaled linearly), over the {} min limit",
            limit.as_secs() / 60
        )
    } else {
        "the size before was skipped or did not finish".to_string()
    }
}

fn write_growth(out: &Path, rows: &[Measured], note: &str) -> Result<()> {
    std::fs::create_dir_all(out)?;
    let mut csv = String::from(
        "system,items,feeds,seconds,items_per_second,peak_mb,disk_mb,last_feed_fetched_seconds,load_before,load_after,outcome\n",
    );
    for row in rows {
        let outcome = match &row.outcome {
            Outcome::Done => "done".to_string(),
            Outcome::Incomplete(why) => format!("incomplete: {why}"),
            Outcome::Skipped(why) => format!("skipped: {why}"),
        };
        csv.push_str(&format!(
            "{},{},{},{:.3},{},{:.1},{:.1},{},{:.2},{:.2},\"{}\"\n",
            row.system,
            row.items,
            row.feeds,
            row.seconds,
            row.rate()
                .map_or(String::new(), |rate| format!("{rate:.1}")),
            memory::mb(row.peak_kib),
            row.disk_bytes as f64 / 1e6,
            row.fetched_seconds
                .map_or(String::new(), |seconds| format!("{seconds:.3}")),
            row.load.0,
            row.load.1,
            outcome.replace('"', "'")
        ));
    }
    std::fs::write(out.join("ingest-growth.csv"), csv)?;
    std::fs::write(out.join("ingest-growth.svg"), growth_svg(rows, note))?;
    Ok(())
}

/// The rows of a `--grow` CSV (skipped and incomplete runs keep only their outcome).
fn read_growth(csv: &str) -> Result<Vec<Measured>> {
    let mut rows = Vec::new();
    for line in csv.lines().skip(1).filter(|line| !line.trim().is_empty()) {
        let fields: Vec<&str> = line.splitn(11, ',').collect();
        let [
            system,
            items,
            feeds,
            seconds,
            _,
            peak,
            disk,
            fetched,
            before,
            after,
            outcome,
        ] = fields[..]
        else {
            bail!("not a line of ingest-growth.csv: {line}");
        };
        let number = |text: &str| text.parse::<f64>().unwrap_or(f64::NAN);
        let outcome = outcome.trim_matches('"');
        rows.push(Measured {
            system: if system == "verbatim" {
                "verbatim"
            } else {
                "reader"
            },
            items: items.parse()?,
            feeds: feeds.parse()?,
            seconds: number(seconds),
            peak_kib: (number(peak) * 1024.0).max(0.0) as u64,
            disk_bytes: (number(disk) * 1e6).max(0.0) as u64,
            fetched_seconds: fetched.parse().ok(),
            detail: String::new(),
            outcome: match outcome.split_once(": ") {
                Some(("skipped", why)) => Outcome::Skipped(why.to_string()),
                Some((_, why)) => Outcome::Incomplete(why.to_string()),
                None => Outcome::Done,
            },
            load: (number(before), number(after)),
        });
    }
    Ok(rows)
}

fn growth_svg(rows: &[Measured], note: &str) -> String {
    let series = |system: &str, value: fn(&Measured) -> f64| -> Vec<(f64, f64)> {
        rows.iter()
            .filter(|row| row.system == system && matches!(row.outcome, Outcome::Done))
            .map(|row| (row.items as f64, value(row)))
            .collect()
    };
    let panels = [
        plot::Panel {
            title: "Time until every story is stored and searchable".into(),
            x_label: "stories (log scale)".into(),
            y_label: "seconds (log scale)".into(),
            log_y: true,
            series: vec![
                plot::Series {
                    name: "Verbatim (verbatim serve)".into(),
                    color: "#1f6fb4",
                    points: series("verbatim", |row| row.seconds),
                    label: |y| format!("{y:.1} s"),
                },
                plot::Series {
                    name: "Python reader".into(),
                    color: "#d2452b",
                    points: series("reader", |row| row.seconds),
                    label: |y| format!("{y:.1} s"),
                },
            ],
        },
        plot::Panel {
            title: "Peak resident memory of the process".into(),
            x_label: "stories (log scale)".into(),
            y_label: "MB".into(),
            log_y: false,
            series: vec![
                plot::Series {
                    name: "Verbatim (verbatim serve)".into(),
                    color: "#1f6fb4",
                    points: series("verbatim", |row| memory::mb(row.peak_kib)),
                    label: |y| format!("{y:.0}"),
                },
                plot::Series {
                    name: "Python reader".into(),
                    color: "#d2452b",
                    points: series("reader", |row| memory::mb(row.peak_kib)),
                    label: |y| format!("{y:.0}"),
                },
            ],
        },
    ];
    let skipped: Vec<String> = rows
        .iter()
        .filter(|row| !matches!(row.outcome, Outcome::Done))
        .map(|row| format!("{} {}", row.system, plot::count_label(row.items as f64)))
        .collect();
    let note = if skipped.is_empty() {
        note.to_string()
    } else {
        format!("{note}; not run or not finished: {}", skipped.join(", "))
    };
    plot::svg(
        "End-to-end ingest from 127.0.0.1: Verbatim and Python reader",
        &note,
        &panels,
    )
}

fn growth_note(options: &Options) -> String {
    format!(
        "{} stories per feed, full-text RSS 2.0 and Atom; reader {} worker(s); {} cores; {}",
        options.per_feed,
        options.reader_workers,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        chrono::Utc::now().format("%Y-%m-%d")
    )
}

fn run() -> Result<()> {
    let options = options()?;
    if let Some(csv) = &options.plot {
        let rows = read_growth(&std::fs::read_to_string(csv)?)?;
        let svg = csv.with_file_name("ingest-growth.svg");
        std::fs::write(&svg, growth_svg(&rows, &growth_note(&options)))?;
        println!("wrote {}", svg.display());
        return Ok(());
    }
    let binary = verbatim_binary().map_err(anyhow::Error::msg)?;
    let python = if options.peer {
        // reader 3.26 vendors a feedparser that imports `sgmllib`, which the feedparser 6.0.14
        // it installs no longer brings (that one has `feedparser_sgmllib`): sgmllib3k provides it.
        python::python_with(&[("reader", "reader"), ("sgmllib", "sgmllib3k")])
    } else {
        None
    };
    // One private PostgreSQL server (127.0.0.1, fsync off) when a row needs it.
    let postgres = if options
        .stores
        .iter()
        .any(|store| *store != StoreChoice::Sqlite)
    {
        verbatim_store::throwaway_postgres::ThrowawayPostgres::start()
            .map_err(|error| anyhow!(error))?
    } else {
        None
    };
    let server = FeedServer::start()?;
    let mut corpus = Corpus::new(options.per_feed)?;
    let sizes = options.grow.clone().unwrap_or_else(|| vec![options.items]);
    println!(
        "end-to-end ingest from 127.0.0.1, {} per feed (RSS 2.0 and Atom alternately, full text), on {} cores",
        options.per_feed,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut rows: Vec<Measured> = Vec::new();
    for (round, &items) in sizes.iter().enumerate() {
        let feeds = items.div_ceil(options.per_feed);
        let last = |system: &str| rows.iter().rev().find(|row| row.system == system);
        let (verbatim_estimate, reader_estimate) = (
            estimate(last("verbatim"), items),
            estimate(last("reader"), items),
        );

        let skip_verbatim = verbatim_estimate
            .is_some_and(|estimated| estimated > options.verbatim_limit.as_secs_f64());
        let skip_reader = python.is_none()
            || reader_estimate
                .is_some_and(|estimated| estimated > options.peer_limit.as_secs_f64());
        // The feeds are written only when something will read them (1M stories are 2 GB).
        let set = if skip_verbatim && skip_reader {
            println!("\n{items} stories in {feeds} feeds:");
            FeedSet {
                feeds: Vec::new(),
                bytes: 0,
            }
        } else {
            let generated = Instant::now();
            let set = corpus.feeds_for(items)?;
            println!(
                "\n{items} stories in {feeds} feeds, {:.1} MB (generated in {:.1} s)",
                set.bytes as f64 / 1e6,
                generated.elapsed().as_secs_f64()
            );
            set
        };
        let estimates: Vec<Option<f64>> = options
            .stores
            .iter()
            .map(|store| estimate(last(store.system()), items))
            .collect();
        for (number, (&store, estimated)) in options.stores.iter().zip(estimates).enumerate() {
            let verbatim = match estimated {
                Some(estimated) if estimated > options.verbatim_limit.as_secs_f64() => {
                    Measured::skipped(
                        store.system(),
                        items,
                        feeds,
                        over_limit(estimated, options.verbatim_limit),
                    )
                }
                _ => {
                    let urls = server.publish(&format!("v{round}s{number}"), &set)?;
                    run_verbatim(
                        &binary,
                        &server,
                        &urls,
                        items,
                        options.verbatim_limit,
                        store,
                        postgres.as_ref(),
                    )?
                }
            };
            report_line(&verbatim);
            rows.push(verbatim);
        }

        let reader = match (&python, reader_estimate) {
            (None, _) => Measured::skipped(
                "reader",
                items,
                feeds,
                if options.peer {
                    "no Python virtualenv with reader".into()
                } else {
                    "--no-peer".into()
                },
            ),
            (Some(_), Some(estimated)) if estimated > options.peer_limit.as_secs_f64() => {
                Measured::skipped(
                    "reader",
                    items,
                    feeds,
                    over_limit(estimated, options.peer_limit),
                )
            }
            (Some(python), _) => {
                let urls = server.publish(&format!("r{round}"), &set)?;
                run_reader(
                    python,
                    &server,
                    &urls,
                    items,
                    options.reader_workers,
                    options.peer_limit,
                )?
            }
        };
        report_line(&reader);
        rows.push(reader);
    }
    print_table(&rows);
    if options.grow.is_some() {
        write_growth(&options.out, &rows, &growth_note(&options))?;
        println!(
            "\nwrote {} and {}",
            options.out.join("ingest-growth.csv").display(),
            options.out.join("ingest-growth.svg").display()
        );
    }
    drop(corpus);
    Ok(())
}

fn report_line(row: &Measured) {
    match &row.outcome {
        Outcome::Skipped(why) => println!("  {:<9} skipped: {why}", row.system),
        outcome => println!(
            "  {:<9} {:>8.1} s  {:>8} items/s  peak {:>7.0} MB  disk {:>7.0} MB  last feed fetched at {}  load {:.1} → {:.1}  ({}){}",
            row.system,
            row.seconds,
            row.rate()
                .map_or("—".to_string(), |rate| format!("{rate:.0}")),
            memory::mb(row.peak_kib),
            row.disk_bytes as f64 / 1e6,
            row.fetched_seconds
                .map_or("—".to_string(), |seconds| format!("{seconds:.1} s")),
            row.load.0,
            row.load.1,
            row.detail,
            match outcome {
                Outcome::Incomplete(why) => format!("  INCOMPLETE: {why}"),
                _ => String::new(),
            }
        ),
    }
}
