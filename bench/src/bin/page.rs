//! Article page throughput: `wrk` against one article page served by the real release binary
//! (`verbatim serve`, SQLite; after the first request the page comes from its rendered-page
//! cache, which reads nothing from the store per request) and against the same page's bytes
//! served as a static file by nginx (the named baseline), one after the other in the same run on
//! the same machine. Needs Debian's `wrk` and `nginx` on PATH.
//!
//! Run: `cargo build --release && cargo run --release -p bench --bin page -- [--seconds S]
//! [--connections C]`; `VERBATIM_BIN=PATH` measures another build of `verbatim`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|error| fail(error))
}

/// `Requests/sec` from wrk's report.
fn wrk(url: &str, seconds: u64, connections: u32) -> f64 {
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            url,
        ])
        .output()
        .unwrap_or_else(|error| fail(format!("wrk: {error} (apt-get install wrk)")));
    let report = String::from_utf8_lossy(&output.stdout);
    if report.contains("Non-2xx") {
        fail(format!("{url} answered errors:\n{report}"));
    }
    report
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| fail(format!("no Requests/sec in wrk's report:\n{report}")))
}

fn start_nginx(root: &Path, port: u16) -> Child {
    let config = root.join("nginx.conf");
    let text = format!(
        "daemon off;\nworker_processes auto;\npid {pid};\nerror_log {log} warn;\nevents {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  types {{ text/html html; }}\n  client_body_temp_path {root}/tmp;\n  proxy_temp_path {root}/tmp;\n  fastcgi_temp_path {root}/tmp;\n  uwsgi_temp_path {root}/tmp;\n  scgi_temp_path {root}/tmp;\n\
         server {{ listen 127.0.0.1:{port}; root {root}/www; location / {{ }} }}\n}}\n",
        pid = root.join("nginx.pid").display(),
        log = root.join("nginx.log").display(),
        root = root.display(),
    );
    std::fs::create_dir_all(root.join("tmp")).unwrap_or_else(|error| fail(error));
    std::fs::write(&config, text).unwrap_or_else(|error| fail(error));
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&config)
        .arg("-p")
        .arg(root)
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| fail(format!("nginx: {error} (apt-get install nginx)")));
    std::thread::sleep(Duration::from_millis(500));
    child
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut seconds, mut connections) = (10u64, 50u32);
    while let Some(flag) = args.next() {
        match (
            flag.as_str(),
            args.next().and_then(|value| value.parse().ok()),
        ) {
            ("--seconds", Some(value)) => seconds = value as u64,
            ("--connections", Some(value)) => connections = value,
            _ => fail("usage: page [--seconds S] [--connections C]"),
        }
    }
    let work = tempfile::tempdir().unwrap_or_else(|error| fail(error));
    let data = work.path().join("data");
    let story = work.path().join("story.json");
    let body: Vec<String> = (0..8)
        .map(|n| format!("Paragraph {n}: dockworkers voted to end the strike that had closed the harbour for nine days; the union said the agreement raised wages by 6% over two years and protected jobs at the container terminal."))
        .collect();
    let item = serde_json::json!({
        "uri": "urn:bench:page", "version": "1", "pubstatus": "usable", "language": "en",
        "versioncreated": "2026-11-24T10:00:00Z", "headline": "Harbour strike ends after nine days",
        "byline": "Ana Ruiz", "body_text": body.join("\n\n"),
    });
    std::fs::write(&story, item.to_string()).unwrap_or_else(|error| fail(error));
    let binary = bench::serve::verbatim_binary().unwrap_or_else(|error| fail(error));
    let ingest = Command::new(&binary)
        .arg("--data")
        .arg(&data)
        .args(["ingest", "--source", "wire"])
        .arg(&story)
        .output()
        .unwrap_or_else(|error| fail(format!("{}: {error}", binary.display())));
    if !ingest.status.success() {
        fail(String::from_utf8_lossy(&ingest.stderr));
    }
    let (mut server, base) = bench::serve::start(&binary, &data, std::iter::empty::<&str>())
        .unwrap_or_else(|error| fail(error));
    let client = reqwest::blocking::Client::new();
    let list: serde_json::Value = client
        .get(format!("{base}/api/v1/items"))
        .send()
        .and_then(|answer| answer.json())
        .unwrap_or_else(|error| fail(error));
    let id = list["items"][0]["id"]
        .as_str()
        .unwrap_or_else(|| fail("no story"))
        .to_string();
    let page_url = format!("{base}/items/{id}");
    let page = client
        .get(&page_url)
        .send()
        .and_then(|answer| answer.text())
        .unwrap_or_else(|error| fail(error));
    let www = work.path().join("www");
    std::fs::create_dir_all(&www).unwrap_or_else(|error| fail(error));
    std::fs::write(www.join("article.html"), &page).unwrap_or_else(|error| fail(error));
    let port = free_port();
    let mut nginx = start_nginx(work.path(), port);
    let static_url = format!("http://127.0.0.1:{port}/article.html");
    println!(
        "article page: {} bytes; wrk -t2 -c{connections} -d{seconds}s, one after the other",
        page.len()
    );
    let verbatim = wrk(&page_url, seconds, connections);
    let baseline = wrk(&static_url, seconds, connections);
    // A graceful stop takes the workers with it (killing the master would leave them).
    let _ = Command::new("nginx")
        .arg("-c")
        .arg(work.path().join("nginx.conf"))
        .arg("-p")
        .arg(work.path())
        .args(["-s", "quit"])
        .stderr(Stdio::null())
        .status();
    let _ = nginx.wait();
    let _ = server.kill();
    let _ = server.wait();
    println!("| server | requests/s | vs nginx |");
    println!("|---|---:|---:|");
    println!(
        "| Verbatim (article page, `verbatim serve`) | {verbatim:.0} | {:.2} |",
        verbatim / baseline
    );
    println!("| nginx static file (baseline) | {baseline:.0} | 1.00 |");
    println!("goal: ≥ 0.50 of nginx");
}
