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

/// A fresh data folder, removed when dropped.
pub struct DataDir {
    pub dir: tempfile::TempDir,
}

impl DataDir {
    pub fn new() -> DataDir {
        DataDir {
            dir: tempfile::tempdir().unwrap_or_else(|error| panic!("temp dir: {error}")),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `verbatim --data DIR ARGS...` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_verbatim"))
            .arg("--data")
            .arg(self.path())
            .args(args)
            .env("VERBATIM_LOG", "warn")
            .output()
            .unwrap_or_else(|error| panic!("cannot run verbatim: {error}"))
    }

    /// Starts `verbatim --data DIR serve --listen 127.0.0.1:0 EXTRA...` and waits until it listens.
    pub fn serve(&self, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_verbatim"))
            .arg("--data")
            .arg(self.path())
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
