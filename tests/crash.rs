//! Crash safety, end to end: a large inbox delivery is ingested by `verbatim serve` while the
//! process is killed with SIGKILL at random moments (during start-up and recovery, archiving,
//! parsing, committing and moving files), many times, then left to finish. What the HTTP API
//! shows afterwards must equal, story for story, what one uninterrupted run shows: nothing
//! received is lost, nothing is stored or published twice, no half-written state is visible.
//! After each kill the test takes back the inbox files whose payload Verbatim had already
//! recorded, so those reach the end only through the archive and start-up recovery.
//!
//! Everything is derived from one seed (`VERBATIM_CRASH_SEED` to try another); the outcome does
//! not depend on where the kills land, only the route to it does.

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use util::DataDir;

const DEFAULT_SEED: u64 = 0x5EED_C0DE_2026;
/// How many times the crash run is killed before it is allowed to finish.
const KILLS: usize = 20;
/// Stories per format (RSS 2.0, Atom, ninjs); each has one to three versions (ninjs kills and
/// withdrawals add one more).
const STORIES_PER_FORMAT: usize = 180;
/// How many of the newest items an RSS or Atom file carries (most of them repeats).
const FEED_WINDOW: usize = 50;
/// Generous limits for polls; a slow machine only makes the test slower, never wrong.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------------
// A small deterministic generator (SplitMix64): the test owns its randomness.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[(self.next() % words.len() as u64) as usize]
    }
}

#[rustfmt::skip]
const WORDS: &[&str] = &[
    "harbour", "council", "ferry", "minister", "storm", "market", "bridge", "court", "election",
    "river", "strike", "airport", "hospital", "budget", "museum", "festival", "rail", "port",
    "union", "drought", "vaccine", "tariff", "school", "reactor", "satellite", "glacier", "summit",
    "Zürich", "São Paulo", "naïve", "€12 million", "12.5%", "O'Neill", "Łódź", "Ærø", "Ελλάδα",
    "quietly", "sharply", "again", "after", "before", "despite", "amid", "rises", "falls", "opens",
    "closes", "delays", "approves", "rejects", "warns", "expects", "record", "new", "old",
];

fn sentence(rng: &mut Rng, words: u64) -> String {
    let mut text = String::new();
    for index in 0..words {
        if index > 0 {
            text.push(' ');
        }
        text.push_str(rng.pick(WORDS));
    }
    text.push('.');
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

// ---------------------------------------------------------------------------------------------
// The agency copy: three sources, one per format, delivered as inbox files.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Format {
    Rss,
    Atom,
    Ninjs,
}

impl Format {
    fn source(self) -> &'static str {
        match self {
            Format::Rss => "rss-wire",
            Format::Atom => "atom-wire",
            Format::Ninjs => "ninjs-wire",
        }
    }

    fn guid(self, story: usize) -> String {
        match self {
            Format::Rss => format!("rss-wire-{story:04}"),
            Format::Atom => format!("urn:atom-wire:story:{story:04}"),
            Format::Ninjs => format!("urn:ninjs-wire:{story:04}"),
        }
    }
}

/// One take (version) of one story as the agency sends it.
#[derive(Clone, Debug)]
struct Take {
    format: Format,
    story: usize,
    version: u64,
    /// ninjs pubstatus: usable, canceled (a kill), withheld, or a word that is held ("draft").
    pubstatus: &'static str,
    embargoed: Option<&'static str>,
    headline: String,
    paragraphs: Vec<String>,
    /// Minutes after the base time: strictly increasing with the version within a story, so the
    /// order of the story's versions never depends on arrival.
    minute: u64,
}

impl Take {
    fn time(&self) -> chrono::DateTime<chrono::Utc> {
        let base = chrono::DateTime::parse_from_rfc3339("2026-03-02T06:00:00Z")
            .map(|time| time.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        base + chrono::Duration::minutes(self.minute as i64)
    }

    fn body_html(&self) -> String {
        self.paragraphs
            .iter()
            .map(|paragraph| format!("<p>{}</p>", escape(paragraph)))
            .collect()
    }

    fn rss(&self) -> String {
        format!(
            "<item>\n<title>{}</title>\n<guid isPermaLink=\"false\">{}</guid>\n\
             <link>https://rss-wire.example/{}</link>\n<pubDate>{}</pubDate>\n\
             <content:encoded><![CDATA[{}]]></content:encoded>\n</item>\n",
            escape(&self.headline),
            self.format.guid(self.story),
            self.story,
            self.time().to_rfc2822(),
            self.body_html(),
        )
    }

    fn atom(&self) -> String {
        format!(
            "<entry>\n<id>{}</id>\n<title>{}</title>\n<updated>{}</updated>\n\
             <author><name>Atom Wire desk</name></author>\n\
             <link rel=\"alternate\" href=\"https://atom-wire.example/{}\"/>\n\
             <content type=\"html\">{}</content>\n</entry>\n",
            self.format.guid(self.story),
            escape(&self.headline),
            self.time().to_rfc3339(),
            self.story,
            escape(&self.body_html()),
        )
    }

    fn ninjs(&self) -> serde_json::Value {
        let mut item = serde_json::json!({
            "uri": self.format.guid(self.story),
            "type": "text",
            "version": self.version.to_string(),
            "versioncreated": self.time().to_rfc3339(),
            "pubstatus": self.pubstatus,
            "language": "en",
            "headline": self.headline,
            "byline": "Ninjs Wire desk",
            "body_html": self.body_html(),
        });
        if let (Some(embargoed), Some(object)) = (self.embargoed, item.as_object_mut()) {
            object.insert("embargoed".into(), embargoed.into());
        }
        item
    }
}

/// What one uninterrupted run must show for a story (a check on the reference run itself).
#[derive(Debug, Clone)]
struct Expected {
    id: String,
    status: u16,
    headline: Option<String>,
    versions: usize,
}

struct Corpus {
    /// (path relative to the inbox, bytes), in delivery order.
    files: Vec<(PathBuf, Vec<u8>)>,
    /// (source, guid) → what the story must look like.
    stories: BTreeMap<(String, String), Expected>,
    items: usize,
    distinct_versions: usize,
}

fn story_copies(format: Format, story: usize, seed: u64) -> Vec<Take> {
    let mut rng = Rng::new(seed ^ ((format as u64) << 40) ^ (story as u64).wrapping_mul(0x1F3D));
    let versions = rng.between(1, 3);
    // A kill, a withdrawal, a future embargo, a held status and a past embargo, in ninjs.
    let special = match (format, story % 29) {
        (Format::Ninjs, 3 | 17) => "canceled",
        (Format::Ninjs, 11) => "withheld",
        (Format::Ninjs, 7) => "future-embargo",
        (Format::Ninjs, 8) => "draft",
        (Format::Ninjs, 2 | 20) => "past-embargo",
        _ => "",
    };
    let versions = if matches!(special, "future-embargo" | "draft") {
        1
    } else {
        versions
    };
    let start = story as u64 * 7 + rng.between(0, 20);
    let mut copies = Vec::new();
    let topic = format!(
        "{} {} {}",
        sentence(&mut rng, 1).trim_end_matches('.'),
        rng.pick(WORDS),
        rng.pick(WORDS)
    );
    for version in 1..=versions {
        let paragraphs = (0..rng.between(1, 4))
            .map(|_| {
                let words = rng.between(6, 24);
                sentence(&mut rng, words)
            })
            .collect();
        copies.push(Take {
            format,
            story,
            version,
            pubstatus: if special == "draft" {
                "draft"
            } else {
                "usable"
            },
            embargoed: match special {
                "future-embargo" => Some("2099-01-01T00:00:00Z"),
                "past-embargo" if version == 1 => Some("2020-01-01T00:00:00Z"),
                _ => None,
            },
            headline: format!("{topic}, take {version} of story {story}"),
            paragraphs,
            minute: start + version * 3,
        });
    }
    if matches!(special, "canceled" | "withheld") {
        let version = versions + 1;
        copies.push(Take {
            format,
            story,
            version,
            pubstatus: special,
            embargoed: None,
            headline: format!("{topic}: {special} (story {story})"),
            paragraphs: vec![format!("This story has been {special} by the agency.")],
            minute: start + version * 3,
        });
    }
    copies
}

fn expectation(format: Format, story: usize, copies: &[Take]) -> Expected {
    let last = &copies[copies.len() - 1];
    let id = verbatim_store::story_id(format.source(), &format.guid(story));
    let (status, headline) = match (last.pubstatus, last.embargoed) {
        ("canceled" | "withheld", _) => (410, None),
        ("draft", _) | (_, Some("2099-01-01T00:00:00Z")) => (404, None),
        _ => (200, Some(last.headline.clone())),
    };
    Expected {
        id,
        status,
        headline,
        versions: copies.len(),
    }
}

fn feed_file(format: Format, copies: &[&Take], extra: &str) -> Vec<u8> {
    match format {
        Format::Rss => {
            let items: String = copies.iter().map(|copy| copy.rss()).collect();
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
                 <rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\n\
                 <channel>\n<title>RSS Wire (crash test)</title>\n\
                 <link>https://rss-wire.example/</link>\n<description>Invented copy.</description>\n\
                 <language>en</language>\n{items}{extra}</channel>\n</rss>\n"
            )
            .into_bytes()
        }
        Format::Atom => {
            let entries: String = copies.iter().map(|copy| copy.atom()).collect();
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
                 <feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n\
                 <id>urn:atom-wire:feed</id>\n<title>Atom Wire (crash test)</title>\n\
                 <updated>2026-03-02T06:00:00Z</updated>\n{entries}</feed>\n"
            )
            .into_bytes()
        }
        Format::Ninjs => {
            let items: Vec<serde_json::Value> = copies.iter().map(|copy| copy.ninjs()).collect();
            // Arrays and newline-delimited objects, both as agencies send them.
            if copies.len().is_multiple_of(2) {
                serde_json::to_vec_pretty(&items).unwrap_or_default()
            } else {
                items
                    .iter()
                    .map(|item| format!("{item}\n"))
                    .collect::<String>()
                    .into_bytes()
            }
        }
    }
}

fn corpus(seed: u64) -> Corpus {
    let mut rng = Rng::new(seed);
    let mut files = Vec::new();
    let mut stories = BTreeMap::new();
    let mut items = 0;
    let mut distinct_versions = 0;
    for format in [Format::Rss, Format::Atom, Format::Ninjs] {
        let mut all: Vec<Take> = Vec::new();
        for story in 0..STORIES_PER_FORMAT {
            let copies = story_copies(format, story, seed);
            stories.insert(
                (format.source().to_string(), format.guid(story)),
                expectation(format, story, &copies),
            );
            distinct_versions += copies.len();
            all.extend(copies);
        }
        // Roughly in time order, with some copy arriving late (an older version after a newer).
        let mut keyed: Vec<(u64, Take)> = all
            .into_iter()
            .map(|copy| (copy.minute + rng.between(0, 90), copy))
            .collect();
        keyed.sort_by_key(|(key, copy)| (*key, copy.story, copy.version));
        let ordered: Vec<Take> = keyed.into_iter().map(|(_, copy)| copy).collect();
        let mut start = 0;
        let mut number = 0;
        while start < ordered.len() {
            let end = (start + rng.between(2, 6) as usize).min(ordered.len());
            let chunk: Vec<&Take> = match format {
                // A feed is a window on the newest copy: each poll repeats most of the last one,
                // the same bytes for an item, which must be stored once.
                Format::Rss | Format::Atom => ordered[end.saturating_sub(FEED_WINDOW)..end]
                    .iter()
                    .rev()
                    .collect(),
                // Push deliveries carry new copy, now and then a repeat.
                Format::Ninjs => {
                    let mut chunk: Vec<&Take> = ordered[start..end].iter().collect();
                    if start > 0 && rng.chance(30) {
                        chunk.push(&ordered[rng.between(0, start as u64 - 1) as usize]);
                    }
                    chunk
                }
            };
            items += chunk.len();
            number += 1;
            // One RSS file carries an item the parser must skip; the rest of it goes through.
            let extra = if format == Format::Rss && number == 5 {
                "<item><title>Broken item</oops><guid>rss-wire-broken</guid>\
                 <description>Never read.</description></item>\n"
            } else {
                ""
            };
            let extension = match format {
                Format::Rss => "xml",
                Format::Atom => "atom",
                Format::Ninjs => "json",
            };
            files.push((
                Path::new(format.source())
                    .join(format!("{}-{number:04}.{extension}", format.source())),
                feed_file(format, &chunk, extra),
            ));
            start = end;
        }
    }
    // Payloads nothing can be read from: archived, then moved to failed/ with the reason.
    files.push((
        PathBuf::from("not-a-feed.txt"),
        b"this is not a feed at all".to_vec(),
    ));
    files.push((
        Path::new("ninjs-wire").join("truncated.json"),
        b"[{\"uri\": \"urn:ninjs-wire:trunc".to_vec(),
    ));
    // Interleave the sources, as deliveries from several agencies would be.
    let mut order: Vec<usize> = (0..files.len()).collect();
    for index in (1..order.len()).rev() {
        let other = rng.between(0, index as u64) as usize;
        order.swap(index, other);
    }
    let files = order
        .into_iter()
        .map(|index| files[index].clone())
        .collect();
    Corpus {
        files,
        stories,
        items,
        distinct_versions,
    }
}

// ---------------------------------------------------------------------------------------------
// Running the real binary.

/// `verbatim serve` with its stdout (the listening line) and stderr (the log) read by threads.
struct Running {
    child: Child,
    base: mpsc::Receiver<String>,
    log: Option<std::thread::JoinHandle<Vec<String>>>,
}

fn start(data: &Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verbatim"))
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("VERBATIM_LOG", "warn,verbatim=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start verbatim serve: {error}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let (tell, base) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("Verbatim is serving on ") {
                let _ = tell.send(url.trim_end_matches('/').to_string());
            }
        }
    });
    let log = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect()
    });
    Running {
        child,
        base,
        log: Some(log),
    }
}

impl Running {
    /// SIGKILL (what `Child::kill` sends on Unix): no destructor, no flush, no clean shutdown.
    fn kill(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log
            .take()
            .and_then(|log| log.join().ok())
            .unwrap_or_default()
    }

    /// Fails the test at once, with the process's log, if the process has died.
    fn check_alive(&mut self, doing: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = self
                .log
                .take()
                .and_then(|log| log.join().ok())
                .unwrap_or_default();
            panic!(
                "verbatim serve exited ({status}) while {doing}:\n{}",
                log.join("\n")
            );
        }
    }

    fn wait_listening(&mut self) -> String {
        match self.base.recv_timeout(START_TIMEOUT) {
            Ok(base) => base,
            Err(error) => {
                // Its stdout closed without the listening line: it exited; say why.
                if error == mpsc::RecvTimeoutError::Disconnected {
                    let _ = self.child.wait();
                }
                self.check_alive("starting");
                panic!("verbatim serve did not start listening within {START_TIMEOUT:?}")
            }
        }
    }
}

/// Delivers a file the way an FTP upload should: under a temporary name, then renamed.
fn deliver(inbox: &Path, relative: &Path, bytes: &[u8]) {
    let target = inbox.join(relative);
    let folder = target.parent().unwrap_or(inbox);
    std::fs::create_dir_all(folder).unwrap_or_else(|error| panic!("{error}"));
    let partial = PathBuf::from(format!("{}.part", target.display()));
    std::fs::write(&partial, bytes).unwrap_or_else(|error| panic!("{error}"));
    std::fs::rename(&partial, &target).unwrap_or_else(|error| panic!("{error}"));
}

/// Every regular file under `folder`, relative to it, sorted.
fn files_under(folder: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(folder).unwrap_or(&path).to_path_buf());
            }
        }
    }
    found.sort();
    found
}

/// Files still waiting in the inbox (not yet moved to done/ or failed/).
fn waiting(inbox: &Path) -> Vec<PathBuf> {
    files_under(inbox)
        .into_iter()
        .filter(|path| !path.starts_with("done") && !path.starts_with("failed"))
        .collect()
}

fn wait_until_drained(inbox: &Path, server: &mut Running) {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    loop {
        server.check_alive("the inbox was being processed");
        let left = waiting(inbox);
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "the inbox was not processed within {DRAIN_TIMEOUT:?}; {} files left, e.g. {:?}",
                left.len(),
                &left[..left.len().min(5)]
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// What the outside world sees, through the HTTP API only.

/// Per story (keyed "source guid"): field → value. Per-run details (ids of versions, arrival
/// times, signatures) are left out; everything a reader or a downstream system sees is in.
type Snapshot = BTreeMap<String, BTreeMap<&'static str, String>>;

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|error| panic!("client: {error}"))
}

fn get(client: &reqwest::blocking::Client, base: &str, path: &str) -> (u16, String) {
    let response = client
        .get(format!("{base}{path}"))
        .send()
        .unwrap_or_else(|error| panic!("GET {path}: {error}"));
    let status = response.status().as_u16();
    (status, response.text().unwrap_or_default())
}

fn get_json(client: &reqwest::blocking::Client, base: &str, path: &str) -> serde_json::Value {
    let (status, text) = get(client, base, path);
    assert_eq!(status, 200, "GET {path}: {text}");
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("GET {path} ({status}): not JSON ({error}): {text}"))
}

/// The text of each `<div class="version-headline">` on a history page, in story order.
fn history_headlines(page: &str) -> Vec<String> {
    let marker = "<div class=\"version-headline\">";
    page.split(marker)
        .skip(1)
        .map(|rest| rest.split("</div>").next().unwrap_or_default().to_string())
        .collect()
}

fn snapshot(base: &str, corpus: &Corpus) -> Snapshot {
    let client = http();
    // Every story the API lists or reports gone, plus every story the copy names (held and
    // embargoed ones are in no list).
    let mut ids: BTreeMap<String, String> = corpus
        .stories
        .iter()
        .map(|((source, guid), expected)| (expected.id.clone(), format!("{source} {guid}")))
        .collect();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/items?limit=200&cursor={cursor}"),
            None => "/api/v1/items?limit=200".to_string(),
        };
        let page = get_json(&client, base, &path);
        let listed = page["items"].as_array().into_iter().flatten();
        let gone = page["gone"].as_array().into_iter().flatten();
        for item in listed.chain(gone) {
            let id = item["id"].as_str().unwrap_or_default().to_string();
            ids.entry(id.clone()).or_insert_with(|| {
                format!(
                    "{} {} (not in the copy)",
                    item["source"].as_str().unwrap_or("?"),
                    item["guid"].as_str().unwrap_or("?")
                )
            });
        }
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let mut snapshot = Snapshot::new();
    for (id, name) in ids {
        let mut fields = BTreeMap::new();
        fields.insert("id", id.clone());
        let (status, text) = get(&client, base, &format!("/api/v1/items/{id}"));
        fields.insert("status", status.to_string());
        let item: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        match status {
            200 => {
                for key in [
                    "source",
                    "guid",
                    "pubstatus",
                    "version",
                    "versioncreated",
                    "embargoed",
                    "signals",
                    "headline",
                    "byline",
                    "link",
                    "language",
                    "body_html",
                    "body_text",
                    "text_hash",
                ] {
                    fields.insert(key, item[key].to_string());
                }
                let (history_status, page) = get(&client, base, &format!("/items/{id}/history"));
                fields.insert("history status", history_status.to_string());
                let headlines = history_headlines(&page);
                fields.insert("history versions", headlines.len().to_string());
                fields.insert("history", headlines.join(" | "));
            }
            410 => {
                fields.insert("pubstatus", item["pubstatus"].to_string());
            }
            _ => {}
        }
        snapshot.insert(name, fields);
    }
    // The store's own counts, as Prometheus sees them.
    let (_, metrics) = get(&client, base, "/metrics");
    let mut counts = BTreeMap::new();
    for line in metrics.lines() {
        if line.starts_with('#') || line.contains("last_success") || line.contains("audit") {
            continue;
        }
        if let Some((name, value)) = line.rsplit_once(' ') {
            counts.insert(
                match name {
                    "verbatim_stories" => "stories",
                    "verbatim_stories_published" => "published",
                    "verbatim_versions" => "versions",
                    "verbatim_versions_held" => "versions held",
                    "verbatim_raw_payloads" => "raw payloads",
                    "verbatim_raw_payloads_failed" => "raw payloads failed",
                    _ => continue,
                },
                value.to_string(),
            );
        }
    }
    snapshot.insert("~ /metrics".to_string(), counts);
    snapshot
}

/// A readable difference, at most `limit` lines.
fn diff(clean: &Snapshot, crashed: &Snapshot, limit: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let keys: BTreeSet<&String> = clean.keys().chain(crashed.keys()).collect();
    for key in keys {
        match (clean.get(key), crashed.get(key)) {
            (Some(_), None) => lines.push(format!("{key}: only in the clean run")),
            (None, Some(_)) => lines.push(format!("{key}: only in the crash run")),
            (Some(left), Some(right)) => {
                let fields: BTreeSet<&&str> = left.keys().chain(right.keys()).collect();
                for field in fields {
                    let (a, b) = (left.get(*field), right.get(*field));
                    if a != b {
                        lines.push(format!(
                            "{key} · {field}:\n    clean: {}\n    crash: {}",
                            a.map_or("(absent)", String::as_str),
                            b.map_or("(absent)", String::as_str)
                        ));
                    }
                }
            }
            (None, None) => {}
        }
    }
    lines.truncate(limit);
    lines
}

/// The raw archive holds each payload under the SHA-256 of its bytes: a name must match its
/// content (a half-written file under a valid name would be a lie). Returns (payloads, leftover
/// temporary files from interrupted writes).
fn check_archive(data: &Path) -> (BTreeSet<String>, usize) {
    let raw = data.join("raw");
    let mut payloads = BTreeSet::new();
    let mut leftovers = 0;
    for relative in files_under(&raw) {
        let name = relative
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.len() == 64 && name.chars().all(|ch| ch.is_ascii_hexdigit()) {
            let bytes = std::fs::read(raw.join(&relative)).unwrap_or_default();
            assert_eq!(
                verbatim_item::sha256_hex(&bytes),
                name,
                "raw/{} does not hold the bytes its name promises",
                relative.display()
            );
            payloads.insert(name);
        } else {
            leftovers += 1;
        }
    }
    (payloads, leftovers)
}

fn count(logs: &[String], needle: &str) -> usize {
    logs.iter().filter(|line| line.contains(needle)).count()
}

/// The raw-payload records: sha256 → (source, origin, state, error). Read from the database
/// file directly (the process is not running): the API has no view of payloads still pending.
fn payload_records(data: &Path) -> BTreeMap<String, (String, String, String, Option<String>)> {
    let path = data.join("verbatim.db");
    if !path.exists() {
        return BTreeMap::new();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    runtime.block_on(async {
        let url = format!("sqlite://{}", path.display());
        let pool = sqlx::SqlitePool::connect(&url)
            .await
            .unwrap_or_else(|error| panic!("{url}: {error}"));
        // A kill during the very first start can land before the migrations made the table.
        let rows: Vec<(String, String, String, String, Option<String>)> =
            sqlx::query_as("SELECT sha256, source, origin, state, error FROM raw_payloads")
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
        pool.close().await;
        rows.into_iter()
            .map(|(sha256, source, origin, state, error)| (sha256, (source, origin, state, error)))
            .collect()
    })
}

#[test]
fn killed_at_random_moments_ends_exactly_like_a_clean_run() {
    let began = Instant::now();
    let seed = std::env::var("VERBATIM_CRASH_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let corpus = corpus(seed);
    let inputs: BTreeSet<PathBuf> = corpus.files.iter().map(|(path, _)| path.clone()).collect();
    assert_eq!(inputs.len(), corpus.files.len(), "file names are unique");

    // The reference: one uninterrupted run.
    let clean = DataDir::new();
    let clean_inbox = clean.path().join("inbox");
    let mut server = start(clean.path());
    let base = server.wait_listening();
    for (relative, bytes) in &corpus.files {
        deliver(&clean_inbox, relative, bytes);
    }
    wait_until_drained(&clean_inbox, &mut server);
    let reference = snapshot(&base, &corpus);
    let clean_logs = server.kill();
    let clean_seconds = began.elapsed().as_secs_f64();

    // The reference itself must be right, or comparing with it proves nothing.
    for ((source, guid), expected) in &corpus.stories {
        let fields = &reference[&format!("{source} {guid}")];
        assert_eq!(
            fields["status"],
            expected.status.to_string(),
            "{source} {guid}: {fields:?}"
        );
        if let Some(headline) = &expected.headline {
            assert_eq!(fields["headline"], serde_json::json!(headline).to_string());
            assert_eq!(
                fields["history versions"],
                expected.versions.to_string(),
                "{source} {guid}: {}",
                fields["history"]
            );
        }
    }
    let counts = &reference["~ /metrics"];
    assert_eq!(counts["stories"], corpus.stories.len().to_string());
    assert_eq!(counts["versions"], corpus.distinct_versions.to_string());
    assert_eq!(counts["raw payloads"], corpus.files.len().to_string());
    let clean_errors: Vec<&String> = clean_logs
        .iter()
        .filter(|line| line.contains("ERROR"))
        .collect();
    assert!(
        clean_errors.is_empty(),
        "the clean run logged errors: {clean_errors:#?}"
    );

    // The same copy, delivered in batches to a process killed at random moments.
    let crashed = DataDir::new();
    let inbox = crashed.path().join("inbox");
    let withdrawn_folder = DataDir::new();
    let mut withdrawn: BTreeSet<PathBuf> = BTreeSet::new();
    let mut rng = Rng::new(seed ^ 0xC4A5_4C4A_5400);
    let mut logs: Vec<String> = Vec::new();
    let mut delivered = 0;
    let mut kills_before_listening = 0;
    let mut kills_mid_payload = 0;
    let batches = KILLS * 2 / 3;
    for kill in 0..KILLS {
        // Half the copy is waiting at the first start, the rest arrives between restarts while
        // earlier files may still be waiting; the last third of the kills only meet the backlog
        // and the recovery of what the previous kill interrupted.
        if kill < batches {
            let total = corpus.files.len();
            let upto = total / 2 + (total - total / 2) * kill / (batches - 1);
            for (relative, bytes) in &corpus.files[delivered..upto] {
                deliver(&inbox, relative, bytes);
            }
            delivered = upto;
        }
        let running = start(crashed.path());
        // From a few milliseconds (start-up, migrations, keys, recovery) to most of a second
        // (archiving, parsing, committing, moving files).
        let delay = if rng.chance(20) {
            rng.between(2, 40)
        } else {
            rng.between(40, 800)
        };
        std::thread::sleep(Duration::from_millis(delay));
        if running.base.try_recv().is_err() {
            kills_before_listening += 1;
        }
        logs.extend(running.kill());

        // Once a payload is recorded it is Verbatim's to keep: the test takes such files back
        // out of the inbox, so only the archive and start-up recovery can bring them to the
        // end. (A file not yet recorded stays: its sender has no receipt and delivers again.)
        let records = payload_records(crashed.path());
        kills_mid_payload += records
            .values()
            .filter(|(_, _, state, _)| state == "pending")
            .count();
        for relative in waiting(&inbox) {
            let path = inbox.join(&relative);
            let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{error}"));
            if records.contains_key(&verbatim_item::sha256_hex(&bytes)) {
                let target = withdrawn_folder.path().join(&relative);
                std::fs::create_dir_all(target.parent().unwrap_or(withdrawn_folder.path()))
                    .unwrap_or_else(|error| panic!("{error}"));
                std::fs::rename(&path, &target).unwrap_or_else(|error| panic!("{error}"));
                withdrawn.insert(relative);
            }
        }
    }
    for (relative, bytes) in &corpus.files[delivered..] {
        deliver(&inbox, relative, bytes);
    }
    let done_before_final = files_under(&inbox.join("done"))
        .iter()
        .filter(|path| {
            path.extension()
                .is_none_or(|extension| extension != "error")
        })
        .count();
    let mut server = start(crashed.path());
    let base = server.wait_listening();
    wait_until_drained(&inbox, &mut server);
    let after = snapshot(&base, &corpus);
    logs.extend(server.kill());

    // 1. What the API shows equals the clean run's, story for story.
    let differences = diff(&reference, &after, 60);
    assert!(
        differences.is_empty(),
        "after {KILLS} kills the state differs from a clean run's (seed {seed}):\n{}",
        differences.join("\n")
    );

    // 2. Nothing stored twice: each story's history lists distinct versions (and the counts in
    //    /metrics, compared above, equal the clean run's).
    for (name, fields) in &after {
        if let Some(history) = fields.get("history") {
            let headlines: Vec<&str> = history.split(" | ").collect();
            let distinct: BTreeSet<&&str> = headlines.iter().collect();
            assert_eq!(
                distinct.len(),
                headlines.len(),
                "{name}: a version is stored twice: {history}"
            );
        }
    }

    // 3. Every payload recorded, none left pending, each with the clean run's outcome.
    let clean_records = payload_records(clean.path());
    let crash_records = payload_records(crashed.path());
    let pending: Vec<&String> = crash_records
        .iter()
        .filter(|(_, (_, _, state, _))| state == "pending")
        .map(|(_, (_, origin, _, _))| origin)
        .collect();
    assert!(pending.is_empty(), "payloads left pending: {pending:?}");
    assert_eq!(crash_records.len(), clean_records.len(), "payload records");
    for (sha256, record) in &clean_records {
        assert_eq!(
            crash_records.get(sha256),
            Some(record),
            "the payload record of {sha256}"
        );
    }

    // 4. No file lost or handled twice: every input is in done/ or failed/ exactly once, with
    //    the same outcome and `.error` note as in the clean run (files the test took back
    //    excepted); nothing is left waiting.
    let taken_back = |path: &PathBuf| {
        withdrawn.iter().any(|input| {
            ["done", "failed"].iter().any(|folder| {
                let placed = Path::new(folder).join(input);
                *path == placed
                    || (path
                        .extension()
                        .is_some_and(|extension| extension == "error")
                        && path.with_extension("") == placed)
            })
        })
    };
    let clean_layout: Vec<PathBuf> = files_under(&clean_inbox)
        .into_iter()
        .filter(|path| !taken_back(path))
        .collect();
    let crash_layout = files_under(&inbox);
    assert_eq!(
        crash_layout, clean_layout,
        "the inbox folders differ from the clean run's"
    );
    for input in inputs.iter().filter(|input| !withdrawn.contains(*input)) {
        let places: Vec<&PathBuf> = crash_layout
            .iter()
            .filter(|path| {
                path.strip_prefix("done")
                    .or_else(|_| path.strip_prefix("failed"))
                    .is_ok_and(|rest| rest == input)
            })
            .collect();
        assert_eq!(
            places.len(),
            1,
            "{} should be in done/ or failed/ exactly once: {places:?}",
            input.display()
        );
    }
    for note in crash_layout.iter().filter(|path| {
        path.extension()
            .is_some_and(|extension| extension == "error")
    }) {
        let text =
            std::fs::read_to_string(inbox.join(note)).unwrap_or_else(|error| panic!("{error}"));
        let clean_text = std::fs::read_to_string(clean_inbox.join(note)).unwrap_or_default();
        assert_eq!(text, clean_text, "{}", note.display());
    }

    // 5. The archive: the same payloads as the clean run, each whole under its own hash.
    let (clean_payloads, _) = check_archive(clean.path());
    let (crash_payloads, leftovers) = check_archive(crashed.path());
    assert_eq!(crash_payloads, clean_payloads, "the raw archives differ");

    // 6. Nothing went wrong that the process itself noticed.
    let errors: Vec<&String> = logs
        .iter()
        .filter(|line| line.contains("ERROR") || line.contains("panicked"))
        .collect();
    assert!(
        errors.is_empty(),
        "the crash run logged errors: {errors:#?}"
    );

    eprintln!(
        "crash test (seed {seed}): {} payloads ({} items, {} stories, {} distinct versions); \
         clean run {clean_seconds:.1} s; {KILLS} kills ({kills_before_listening} before the \
         server listened, {kills_mid_payload} with a payload pending), {done_before_final} \
         files done before the final run, {} files taken back after being recorded; {} \
         payloads recovered at start-up, {} inbox files ingested for {} inputs; {leftovers} \
         temporary archive files left by interrupted writes; {:.1} s in all",
        corpus.files.len(),
        corpus.items,
        corpus.stories.len(),
        corpus.distinct_versions,
        withdrawn.len(),
        count(&logs, "recovered a pending payload"),
        count(&logs, "inbox file ingested"),
        inputs.len(),
        began.elapsed().as_secs_f64(),
    );
}
