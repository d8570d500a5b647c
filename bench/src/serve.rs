//! Starting the real `verbatim serve` for a benchmark: on a free loopback port, its log quiet,
//! returned once it says where it listens.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Runs `BINARY --data DATA EXTRA… serve --listen 127.0.0.1:0` (EXTRA: global options such as
/// `--config FILE`) and waits until it prints its address; returns the process and its base URL
/// (`http://127.0.0.1:PORT`). Its standard output keeps being read so it never blocks.
pub fn start<I, S>(binary: &Path, data: &Path, extra: I) -> Result<(Child, String), String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = Command::new(binary)
        .arg("--data")
        .arg(data)
        .args(extra)
        .args(["serve", "--listen", "127.0.0.1:0"])
        // Errors only, unless the benchmark's own VERBATIM_LOG asks for more (e.g. the search
        // follower's page timings: `VERBATIM_LOG=verbatim::index=debug`).
        .env(
            "VERBATIM_LOG",
            std::env::var("VERBATIM_LOG").unwrap_or_else(|_| "error".to_string()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", binary.display()))?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("no stdout".into());
    };
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
                let _ = child.wait();
                return Err("verbatim serve exited before listening".into());
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((child, base))
}
