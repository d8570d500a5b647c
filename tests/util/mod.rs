//! Test harness: runs the real `verbatim` binary and the real server on 127.0.0.1.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The PostgreSQL server this test binary shares, started on first use (it stops when the
/// test process ends); `None`, with the reason printed, when PostgreSQL is not installed and
/// `VERBATIM_REQUIRE_ALL` is not set.
pub fn postgres() -> Option<&'static verbatim_store::throwaway_postgres::ThrowawayPostgres> {
    static SERVER: std::sync::OnceLock<
        Option<verbatim_store::throwaway_postgres::ThrowawayPostgres>,
    > = std::sync::OnceLock::new();
    SERVER
        .get_or_init(|| {
            verbatim_store::throwaway_postgres::ThrowawayPostgres::start()
                .unwrap_or_else(|error| panic!("cannot start PostgreSQL: {error}"))
        })
        .as_ref()
}

/// A new, empty database on the shared server: its URL.
pub fn postgres_database() -> Option<String> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let server = postgres()?;
    let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let name = format!("verbatim_{}_{number}", std::process::id());
    Some(
        server
            .create_database(&name)
            .unwrap_or_else(|error| panic!("{error}")),
    )
}

/// A fresh data folder, removed when dropped. With `VERBATIM_TEST_STORE=postgres` its store is
/// a fresh PostgreSQL database instead of `DIR/verbatim.db`, so one suite runs on both stores.
pub struct DataDir {
    pub dir: tempfile::TempDir,
    /// The `--store` URL every command gets, when not the default SQLite file.
    pub store: Option<String>,
    /// Whether a server was started on this folder (`run` then waits out [`CHANGE_BOUND`]).
    served: std::sync::atomic::AtomicBool,
}

/// How long a change another process commits (a CLI command on the same data folder, another
/// node) may take to reach a running server's cached article pages: a cached page is never
/// served on a reading of the store's change token that started longer ago than this.
pub const CHANGE_BOUND: Duration = Duration::from_millis(50);

impl DataDir {
    pub fn new() -> DataDir {
        let store = match std::env::var("VERBATIM_TEST_STORE").as_deref() {
            Ok("postgres") => {
                let url = postgres_database();
                match &url {
                    Some(url) => eprintln!("store: {url}"),
                    None => {
                        eprintln!(
                            "VERBATIM_TEST_STORE=postgres, but there is no PostgreSQL: SQLite"
                        )
                    }
                }
                url
            }
            _ => None,
        };
        DataDir {
            dir: tempfile::tempdir().unwrap_or_else(|error| panic!("temp dir: {error}")),
            store,
            served: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// `verbatim --data DIR` (with the store's URL), to add arguments to.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_verbatim"));
        command.arg("--data").arg(self.path());
        match &self.store {
            Some(url) => command.env("VERBATIM_STORE", url),
            None => command.env_remove("VERBATIM_STORE"),
        };
        command
    }

    pub fn is_postgres(&self) -> bool {
        self.store.is_some()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `verbatim --data DIR ARGS...` to completion. When a server runs on this folder, then
    /// waits out [`CHANGE_BOUND`] (and a little), so what the server answers next is exact: its
    /// cached pages have seen whatever the command changed. (`command` does not wait, for tests
    /// that measure the bound.)
    pub fn run(&self, args: &[&str]) -> Output {
        let output = self
            .command()
            .args(args)
            .env("VERBATIM_LOG", "warn")
            .output()
            .unwrap_or_else(|error| panic!("cannot run verbatim: {error}"));
        if self.served.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(CHANGE_BOUND + Duration::from_millis(20));
        }
        output
    }

    /// Writes `contents` to `DIR/FILE` and runs `verbatim ingest --source SOURCE` on it, which
    /// must succeed.
    pub fn ingest_as(&self, source: &str, file: &str, contents: &str) {
        let path = self.path().join(file);
        std::fs::write(&path, contents).unwrap_or_else(|error| panic!("{error}"));
        let output = self.run(&[
            "ingest",
            "--source",
            source,
            path.to_str().unwrap_or_default(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
    }

    /// Starts `verbatim --data DIR serve --listen 127.0.0.1:0 EXTRA...` and waits until it listens.
    pub fn serve(&self, extra: &[&str]) -> Server {
        self.served
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut child = self
            .command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("VERBATIM_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start verbatim serve: {error}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("Verbatim is serving on ") {
                        break url.trim_end_matches('/').to_string();
                    }
                }
                _ => {
                    let _ = child.kill();
                    panic!("verbatim serve exited before listening");
                }
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }
}

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        client()
            .get(self.url(path))
            .send()
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    pub fn get_text(&self, path: &str) -> (u16, String) {
        let response = self.get(path);
        let status = response.status().as_u16();
        (status, response.text().unwrap_or_default())
    }

    /// The headlines of the newest 100 published stories, from the API.
    pub fn headlines(&self) -> Vec<String> {
        let (_, list) = self.get_json("/api/v1/items?limit=100");
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["headline"].as_str().map(str::to_string))
            .collect()
    }

    pub fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, text) = self.get_text(path);
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("GET {path}: not JSON ({error}): {text}"));
        (status, value)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET base+path`: status and body.
pub fn get_text_at(base: &str, path: &str) -> (u16, String) {
    let response = client()
        .get(format!("{base}{path}"))
        .send()
        .unwrap_or_else(|error| panic!("GET {path}: {error}"));
    let status = response.status().as_u16();
    (status, response.text().unwrap_or_default())
}

/// `GET base+path` as JSON.
pub fn get_json_at(base: &str, path: &str) -> (u16, serde_json::Value) {
    let (status, text) = get_text_at(base, path);
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("GET {path}: not JSON ({error}): {text}"));
    (status, value)
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|error| panic!("client: {error}"))
}

/// Polls `check` until it returns Some or the deadline passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// One request as a test server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// An answer from a test server: status, headers, body.
pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// A scripted HTTP/1.1 server on 127.0.0.1: every request is logged and answered by `handler`
/// (one connection per request). Returns its base URL (`http://127.0.0.1:PORT`) and the log.
pub fn http_server(
    handler: impl Fn(&Request) -> Answer + Send + Sync + 'static,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Request>>>) {
    use std::io::{Read, Write};
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("{error}"));
    let base = format!(
        "http://{}",
        listener
            .local_addr()
            .unwrap_or_else(|error| panic!("{error}"))
    );
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let handler = std::sync::Arc::new(handler);
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (handler, seen) = (handler.clone(), seen.clone());
            std::thread::spawn(move || {
                let Ok(clone) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(clone);
                let mut first = String::new();
                if reader.read_line(&mut first).unwrap_or(0) == 0 {
                    return;
                }
                let mut parts = first.split_whitespace();
                let method = parts.next().unwrap_or_default().to_string();
                let target = parts.next().unwrap_or_default().to_string();
                let mut headers = Vec::new();
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    if let Some((name, value)) = line.split_once(':') {
                        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                    }
                    line.clear();
                }
                let length = headers
                    .iter()
                    .find(|(name, _)| name == "content-length")
                    .and_then(|(_, value)| value.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length.min(64 << 20)];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let request = Request {
                    method,
                    target,
                    headers,
                    body,
                    at: Instant::now(),
                };
                if let Ok(mut log) = seen.lock() {
                    log.push(request.clone());
                }
                let (status, headers, body) = handler(&request);
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            });
        }
    });
    (base, log)
}

/// The token `source add NAME --push` prints once (the line after its announcement).
pub fn push_token(added: &Output) -> String {
    stdout(added)
        .lines()
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Pushes one ninjs item to the push source `source` of the server at `base`, checks the 202
/// and returns the id of the story it was accepted into.
pub fn push_item(base: &str, source: &str, token: &str, item: &serde_json::Value) -> String {
    let response = client()
        .post(format!("{base}/api/v1/push/{source}"))
        .bearer_auth(token)
        .body(item.to_string())
        .send()
        .unwrap_or_else(|error| panic!("push to {base}: {error}"));
    assert_eq!(response.status().as_u16(), 202, "push to {base}");
    let receipt: serde_json::Value = response.json().unwrap_or_default();
    receipt["accepted"][0]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Issues a new admin token for the data folder (replacing any earlier one).
pub fn admin_token(data: &DataDir) -> String {
    let output = data.run(&["admin-token"]);
    stdout(&output)
        .lines()
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Debian's `chromium` (or `$VERBATIM_CHROMIUM`); `None` with a printed reason when missing, a
/// failure under `VERBATIM_REQUIRE_ALL=1`.
pub fn chromium() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("VERBATIM_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|path| path.is_file())
        })
    });
    if found.is_none() {
        assert!(
            std::env::var("VERBATIM_REQUIRE_ALL").is_err(),
            "VERBATIM_REQUIRE_ALL is set but chromium is not installed"
        );
        eprintln!("skipped: chromium not installed");
    }
    found
}
