//! Running the real `verbatim` binary for a benchmark: finding it, starting `serve` on a free
//! loopback port (its log quiet, returned once it says where it listens), adding a push source
//! and pushing to it, reading a process's CPU time; and the percentiles the reports print.

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

/// The `verbatim` binary a benchmark runs: `$VERBATIM_BIN` if set (to compare two builds in
/// turn), else the one beside the running benchmark (`target/release`).
pub fn verbatim_binary() -> Result<std::path::PathBuf, String> {
    if let Some(path) = std::env::var_os("VERBATIM_BIN") {
        return Ok(std::path::PathBuf::from(path));
    }
    let beside = std::env::current_exe()
        .map_err(|error| error.to_string())?
        .with_file_name("verbatim");
    if beside.exists() {
        Ok(beside)
    } else {
        Err(format!(
            "{} not found: run `cargo build --release` first, or set VERBATIM_BIN",
            beside.display()
        ))
    }
}

/// Runs `BINARY --data DATA EXTRA… source add NAME --push` (EXTRA: global options such as
/// `--store URL`) and returns the token it printed.
pub fn add_push_source<S: AsRef<OsStr>>(
    binary: &Path,
    data: &Path,
    extra: &[S],
    name: &str,
) -> Result<String, String> {
    let added = Command::new(binary)
        .arg("--data")
        .arg(data)
        .args(extra)
        .args(["source", "add", name, "--push"])
        .output()
        .map_err(|error| format!("cannot run {}: {error}", binary.display()))?;
    let token = push_token(&added.stdout);
    if token.is_empty() {
        return Err(format!(
            "`source add {name} --push` printed no token: {}",
            String::from_utf8_lossy(&added.stderr).trim()
        ));
    }
    Ok(token)
}

/// Pushes `body` to `BASE/api/v1/push/SOURCE` with the source's token (and `content_type`, if
/// given: without one Verbatim sniffs the format); returns the ids of the stories it accepted.
/// Anything but 202 Accepted is an error.
pub fn push(
    client: &reqwest::blocking::Client,
    base: &str,
    source: &str,
    token: &str,
    content_type: Option<&str>,
    body: String,
) -> Result<Vec<String>, String> {
    let mut request = client
        .post(format!("{base}/api/v1/push/{source}"))
        .bearer_auth(token)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().map_err(|error| error.to_string())?;
    if response.status().as_u16() != 202 {
        return Err(format!("push answered {}", response.status()));
    }
    let answer: serde_json::Value = response.json().map_err(|error| error.to_string())?;
    Ok(answer["accepted"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// The token `verbatim source add NAME --push` printed, on the line after "Its token …".
pub fn push_token(printed: &[u8]) -> String {
    String::from_utf8_lossy(printed)
        .lines()
        .skip_while(|line| !line.contains("Its token"))
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The CPU seconds a process has used so far (user + system), from `/proc/PID/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces: utime
    // and stime are the 12th and 13th of them, in USER_HZ (100 a second on Linux).
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The value at `fraction` (0.5 for the median) of sorted samples, nearest rank; `None` when
/// there are none.
pub fn percentile<T: Copy>(sorted: &[T], fraction: f64) -> Option<T> {
    let last = sorted.len().checked_sub(1)?;
    let index = ((last as f64) * fraction.clamp(0.0, 1.0)).round() as usize;
    sorted.get(index.min(last)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let samples = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(percentile(&samples, 0.0), Some(1));
        assert_eq!(percentile(&samples, 0.5), Some(6));
        assert_eq!(percentile(&samples, 0.99), Some(10));
        assert_eq!(percentile(&samples, 1.0), Some(10));
        assert_eq!(percentile::<u32>(&[], 0.5), None);
    }

    #[test]
    fn the_push_token_is_the_line_after_its_heading() {
        let printed =
            b"Added push source wire.\nIts token (shown once, keep it):\n  abc123  \nmore\n";
        assert_eq!(push_token(printed), "abc123");
        assert_eq!(push_token(b"nothing here"), "");
    }

    /// User CPU of this process so far, as the kernel's own accounting gives it.
    fn user_seconds() -> f64 {
        use nix::sys::resource::{UsageWho, getrusage};
        getrusage(UsageWho::RUSAGE_SELF).map_or(0.0, |usage| {
            let time = usage.user_time();
            time.tv_sec() as f64 + time.tv_usec() as f64 / 1e6
        })
    }

    #[test]
    fn the_cpu_time_read_grows_with_the_work_done_in_user_mode() {
        // Reading the wrong fields of the stat line (system time and the children's, say) still
        // gives a number; only a count that follows work done in user mode tells them apart.
        let pid = std::process::id();
        let before = cpu_seconds(pid);
        let started = user_seconds();
        let mut spin: u64 = 1;
        while user_seconds() - started < 0.3 {
            for _ in 0..100_000 {
                spin = std::hint::black_box(spin.wrapping_mul(6_364_136_223_846_793_005) ^ 1);
            }
        }
        let after = cpu_seconds(pid);
        match (before, after) {
            // Ticks of 10 ms, and the two clocks round differently: most of the 0.3 s is enough.
            (Some(before), Some(after)) => assert!(after - before >= 0.2, "{before} → {after}"),
            other => panic!("no CPU time read: {other:?}"),
        }
        assert_eq!(cpu_seconds(u32::MAX), None);
    }
}
