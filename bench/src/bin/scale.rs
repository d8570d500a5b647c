//! The ingest engine at scale: N sources (default 10,000) served by one local test server,
//! polled every few minutes by one `verbatim serve` (the real release binary). Reports the
//! server's resident memory, its CPU use while nothing changes (every answer a 304), and how late
//! each poll starts after its due time (p50/p99), next to the goals (the named baseline):
//! ≤ 256 MB, ≤ 20% of one core, p99 lateness ≤ 1 s.
//!
//! Run: `cargo build --release && cargo run --release -p bench --bin scale -- [--sources N]
//! [--every 5m] [--minutes M]`. The first round fetches every feed (200 and ingest); the figures
//! are taken after it, over at least one whole interval of conditional GETs.

use bench::serve::{percentile, verbatim_binary};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn main() {
    if let Err(error) = run() {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

/// One small feed per source; answers 304 to its own ETag.
fn feed_server(not_modified: Arc<AtomicUsize>, full: Arc<AtomicUsize>) -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|error| error.to_string())?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|error| error.to_string())?
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (not_modified, full) = (not_modified.clone(), full.clone());
            std::thread::spawn(move || {
                let mut reader = match stream.try_clone() {
                    Ok(clone) => BufReader::new(clone),
                    Err(_) => return,
                };
                let mut path = String::new();
                let mut conditional = None;
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    if path.is_empty() {
                        path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    } else if let Some(value) =
                        line.to_ascii_lowercase().strip_prefix("if-none-match:")
                    {
                        conditional = Some(value.trim().to_string());
                    }
                    line.clear();
                }
                let feed = path
                    .trim_start_matches("/feed/")
                    .trim_end_matches(".xml")
                    .to_string();
                let etag = format!("\"v-{feed}\"");
                if conditional.as_deref() == Some(etag.as_str()) {
                    not_modified.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.write_all(
                        format!(
                            "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                    return;
                }
                full.fetch_add(1, Ordering::Relaxed);
                let body = format!(
                    "<rss version=\"2.0\"><channel><title>Feed {feed}</title><item><guid>urn:scale:{feed}</guid>\
<title>Story of feed {feed}</title><description>&lt;p&gt;The text of feed {feed}.&lt;/p&gt;</description></item></channel></rss>"
                );
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            });
        }
    });
    Ok(base)
}

/// (resident KiB, CPU seconds used so far) of a process, from /proc.
fn usage(pid: u32) -> Option<(u64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((rss, bench::serve::cpu_seconds(pid)?))
}

fn run() -> Result<(), String> {
    let (mut sources, mut every, mut minutes) = (10_000usize, "5m".to_string(), 7u64);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--sources" => sources = value.parse().map_err(|_| "--sources N")?,
            "--every" => every = value,
            "--minutes" => minutes = value.parse().map_err(|_| "--minutes M")?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let binary = verbatim_binary()?;
    let (not_modified, full) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let base = feed_server(not_modified.clone(), full.clone())?;
    let data = std::env::temp_dir().join(format!("verbatim-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).map_err(|error| error.to_string())?;
    let mut config =
        String::from("[fetch]\nallow_private_networks = true\n\n[audit]\nevery = \"0s\"\n");
    for n in 0..sources {
        config.push_str(&format!(
            "\n[[sources]]\nname = \"feed{n}\"\nurl = \"{base}/feed/{n}.xml\"\nevery = \"{every}\"\n"
        ));
    }
    let config_path = data.join("verbatim.toml");
    std::fs::write(&config_path, config).map_err(|error| error.to_string())?;
    let token_output = Command::new(&binary)
        .arg("--data")
        .arg(&data)
        .arg("--config")
        .arg(&config_path)
        .arg("admin-token")
        .output()
        .map_err(|error| error.to_string())?;
    let admin = String::from_utf8_lossy(&token_output.stdout)
        .lines()
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string();

    let started = Instant::now();
    let (mut child, server) = bench::serve::start(
        &binary,
        &data,
        [std::ffi::OsStr::new("--config"), config_path.as_os_str()],
    )?;
    let pid = child.id();
    println!(
        "{sources} sources every {every} on one local server; serve listening after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|error| error.to_string())?;
    let read_sources = || -> Option<Vec<serde_json::Value>> {
        let response = client
            .get(format!("{server}/api/v1/sources"))
            .bearer_auth(&admin)
            .send()
            .ok()?;
        let mut text = String::new();
        response.take(u64::MAX).read_to_string(&mut text).ok()?;
        let value: serde_json::Value = serde_json::from_str(&text).ok()?;
        value["sources"].as_array().cloned()
    };
    let time = |value: &serde_json::Value| {
        value
            .as_str()
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
    };

    // Round one: every feed fetched in full and ingested.
    while full.load(Ordering::Relaxed) < sources {
        std::thread::sleep(Duration::from_secs(1));
        if started.elapsed() > Duration::from_secs(60 * minutes) {
            return Err(format!(
                "only {} of {sources} feeds fetched",
                full.load(Ordering::Relaxed)
            ));
        }
    }
    let first_round = started.elapsed();
    println!(
        "first round (every feed fetched and ingested): {:.1} s",
        first_round.as_secs_f64()
    );

    // Then at least one whole interval of conditional GETs, sampled every 5 s.
    let mut due: HashMap<String, chrono::DateTime<chrono::FixedOffset>> = HashMap::new();
    let mut attempted: HashMap<String, chrono::DateTime<chrono::FixedOffset>> = HashMap::new();
    let mut lateness: Vec<f64> = Vec::new();
    let Some((_, cpu_start)) = usage(pid) else {
        return Err("cannot read /proc for the server".into());
    };
    let idle_start = Instant::now();
    let mut peak_rss = 0u64;
    // (seconds into the window, resident KiB): whether memory plateaus or keeps growing.
    let mut timeline: Vec<(u64, u64)> = Vec::new();
    let not_modified_start = not_modified.load(Ordering::Relaxed);
    let window = Duration::from_secs(60 * minutes).saturating_sub(first_round);
    while idle_start.elapsed() < window {
        std::thread::sleep(Duration::from_secs(5));
        if let Some((rss, _)) = usage(pid) {
            peak_rss = peak_rss.max(rss);
            timeline.push((idle_start.elapsed().as_secs(), rss));
        }
        for source in read_sources().unwrap_or_default() {
            let name = source["name"].as_str().unwrap_or_default().to_string();
            let (Some(last), Some(next)) =
                (time(&source["last_attempt"]), time(&source["next_due"]))
            else {
                continue;
            };
            if let Some(previous) = attempted.get(&name)
                && last > *previous
                && let Some(expected) = due.get(&name)
            {
                lateness.push((last - *expected).num_milliseconds() as f64 / 1000.0);
            }
            attempted.insert(name.clone(), last);
            due.insert(name, next);
        }
    }
    let elapsed = idle_start.elapsed().as_secs_f64();
    let (rss_now, cpu_end) = usage(pid).unwrap_or((0, cpu_start));
    peak_rss = peak_rss.max(rss_now);
    let cpu = (cpu_end - cpu_start) / elapsed;
    lateness.sort_by(|a, b| a.total_cmp(b));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);

    println!(
        "\nafter the first round, {:.0} s of polling ({} conditional GETs answered 304, {} polls timed):",
        elapsed,
        not_modified.load(Ordering::Relaxed) - not_modified_start,
        lateness.len()
    );
    println!(
        "  resident memory, peak      {:>8.1} MB   goal 256 MB   ratio {:.2}",
        peak_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0 / 256.0
    );
    let minutes_seen: Vec<String> = timeline
        .chunk_by(|a, b| a.0 / 60 == b.0 / 60)
        .map(|minute| {
            let peak = minute.iter().map(|(_, rss)| *rss).max().unwrap_or(0);
            format!("{:.0}", peak as f64 / 1024.0)
        })
        .collect();
    println!(
        "  resident memory per minute (MB, peak of each): {}",
        minutes_seen.join(" → ")
    );
    println!(
        "  CPU while nothing changes  {:>8.1} %    goal 20 %     ratio {:.2}",
        cpu * 100.0,
        cpu / 0.20
    );
    println!(
        "  lateness after due time    p50 {:.3} s  p99 {:.3} s  max {:.3} s   goal p99 1 s   ratio {:.2}",
        percentile(&lateness, 0.5).unwrap_or(f64::NAN),
        percentile(&lateness, 0.99).unwrap_or(f64::NAN),
        lateness.last().copied().unwrap_or(f64::NAN),
        percentile(&lateness, 0.99).unwrap_or(f64::NAN)
    );
    Ok(())
}
