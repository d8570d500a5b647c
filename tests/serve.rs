//! `verbatim serve` as an operator runs it: files dropped into the inbox, agency pushes, and
//! polled sources served from a local HTTP server on 127.0.0.1 (conditional GET, SSRF guard).

mod util;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use util::{DataDir, client, fixture, stderr, stdout, wait_for};

#[test]
fn a_file_dropped_into_the_inbox_is_published_and_moved_to_done() {
    let data = DataDir::new();
    let server = data.serve(&[]);
    let folder = data.path().join("inbox").join("nordic");
    std::fs::create_dir_all(&folder).unwrap_or_default();
    // Agencies write under a temporary name and rename into place.
    let partial = folder.join("story.xml.part");
    std::fs::copy(fixture("fidelity.atom"), &partial).unwrap_or_default();
    std::fs::rename(&partial, folder.join("story.xml")).unwrap_or_default();
    wait_for("the inbox item", Duration::from_secs(10), || {
        server
            .headlines()
            .contains(&"Storm warning lifted".to_string())
            .then_some(())
    });
    wait_for("the file in done/", Duration::from_secs(5), || {
        data.path()
            .join("inbox/done/nordic/story.xml")
            .exists()
            .then_some(())
    });
    let (_, list) = server.get_json("/api/v1/items?source=nordic");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));

    // A file that is not a feed goes to failed/ with the reason beside it.
    std::fs::write(data.path().join("inbox/garbage.txt"), "not a feed at all").unwrap_or_default();
    let reason = wait_for("the failed file", Duration::from_secs(10), || {
        std::fs::read_to_string(data.path().join("inbox/failed/garbage.txt.error")).ok()
    });
    assert!(
        reason.contains("inbox:garbage.txt") && reason.contains("neither XML nor JSON"),
        "{reason}"
    );
}

#[test]
fn a_push_needs_the_source_token() {
    let data = DataDir::new();
    let added = data.run(&["source", "add", "wire", "--push"]);
    assert!(added.status.success(), "{}", stderr(&added));
    let token = util::push_token(&added);
    let server = data.serve(&[]);
    let body = std::fs::read(fixture("fidelity.rss")).unwrap_or_default();
    let push = |token: Option<&str>| {
        let mut request = client()
            .post(server.url("/api/v1/push/wire"))
            .body(body.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().unwrap_or_else(|error| panic!("{error}"))
    };
    assert_eq!(push(None).status().as_u16(), 401);
    assert_eq!(push(Some("wrong")).status().as_u16(), 401);
    let unknown = client()
        .post(server.url("/api/v1/push/nosuch"))
        .bearer_auth(&token)
        .body(body.clone())
        .send()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(unknown.status().as_u16(), 401);
    let accepted = push(Some(&token));
    assert_eq!(accepted.status().as_u16(), 202);
    let receipt: serde_json::Value = accepted.json().unwrap_or_default();
    assert_eq!(receipt["accepted"].as_array().map(Vec::len), Some(7));
    let id = receipt["accepted"][0].as_str().unwrap_or_default();
    let (status, _) = server.get_text(&format!("/items/{id}"));
    assert_eq!(status, 200, "pushed stories are on the site at once");
}

/// A feed server on 127.0.0.1 that honours If-None-Match and counts requests.
struct FeedServer {
    url: String,
    requests: Arc<AtomicUsize>,
    not_modified: Arc<AtomicUsize>,
}

fn feed_server(body: Vec<u8>) -> FeedServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("{error}"));
    let url = format!(
        "http://{}/feed.xml",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    let requests = Arc::new(AtomicUsize::new(0));
    let not_modified = Arc::new(AtomicUsize::new(0));
    let (requests_seen, not_modified_sent) = (requests.clone(), not_modified.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            requests_seen.fetch_add(1, Ordering::SeqCst);
            let mut reader =
                BufReader::new(stream.try_clone().unwrap_or_else(|error| panic!("{error}")));
            let mut conditional = false;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                if line
                    .to_ascii_lowercase()
                    .starts_with("if-none-match: \"v1\"")
                {
                    conditional = true;
                }
                line.clear();
            }
            if conditional {
                not_modified_sent.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(
                    b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n",
                );
            } else {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: \"v1\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        }
    });
    FeedServer {
        url,
        requests,
        not_modified,
    }
}

#[test]
fn a_polled_source_is_fetched_then_revalidated_with_its_etag() {
    let feed = feed_server(std::fs::read(fixture("fidelity.atom")).unwrap_or_default());
    let data = DataDir::new();
    let config = data.path().join("verbatim.toml");
    std::fs::write(
        &config,
        format!("[fetch]\nallow_private_networks = true\n\n[[sources]]\nname = \"local-agency\"\nurl = \"{}\"\nevery = \"10s\"\n", feed.url),
    )
    .unwrap_or_default();
    let config_path = config.to_str().unwrap_or_default().to_string();
    let server = data.serve(&["--config", &config_path]);
    wait_for("the polled items", Duration::from_secs(10), || {
        (server.headlines().len() == 2).then_some(())
    });
    // The next poll (10 s + jitter later) must be conditional and answered 304.
    wait_for("a conditional re-fetch", Duration::from_secs(20), || {
        (feed.not_modified.load(Ordering::SeqCst) >= 1).then_some(())
    });
    assert!(feed.requests.load(Ordering::SeqCst) >= 2);
    let list = data.run(&["source", "list", "--json"]);
    let sources: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap_or_default();
    let source = &sources[0];
    assert_eq!(source["name"], "local-agency");
    assert_eq!(source["last_status"], 304);
    assert_eq!(source["etag"], "\"v1\"");
    assert_eq!(source["consecutive_errors"], 0);
}

#[test]
fn loopback_sources_are_refused_unless_allowed() {
    let feed = feed_server(std::fs::read(fixture("fidelity.atom")).unwrap_or_default());
    let data = DataDir::new();
    let added = data.run(&["source", "add", "sneaky", &feed.url, "--every", "10s"]);
    assert!(added.status.success(), "{}", stderr(&added));
    let _server = data.serve(&[]);
    let error = wait_for("the refusal", Duration::from_secs(10), || {
        let list = data.run(&["source", "list", "--json"]);
        let sources: serde_json::Value = serde_json::from_str(&stdout(&list)).ok()?;
        sources[0]["last_error"].as_str().map(str::to_string)
    });
    assert!(error.contains("refused to connect to 127.0.0.1"), "{error}");
    assert_eq!(
        feed.requests.load(Ordering::SeqCst),
        0,
        "no request reached the server"
    );

    // One-shot ingest of the same URL: refused by default, allowed with the flag.
    let refused = data.run(&["ingest", &feed.url]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("refused"), "{}", stderr(&refused));
    let allowed = data.run(&["ingest", "--allow-private-networks", &feed.url]);
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    assert!(stdout(&allowed).contains("2 new"), "{}", stdout(&allowed));
}

#[test]
fn a_source_is_tested_paused_resumed_and_removed() {
    let feed = feed_server(std::fs::read(fixture("fidelity.atom")).unwrap_or_default());
    let data = DataDir::new();
    let added = data.run(&["source", "add", "local", &feed.url, "--every", "10s"]);
    assert!(added.status.success(), "{}", stderr(&added));

    // `test` fetches once and stores nothing.
    let tested = data.run(&["source", "test", "local", "--allow-private-networks"]);
    assert!(tested.status.success(), "{}", stderr(&tested));
    let said = stdout(&tested);
    assert!(
        said.contains("2 item(s): 2 new, 0 already stored") && said.contains("nothing was stored"),
        "{said}"
    );
    let refused = data.run(&["source", "test", "local"]);
    assert!(
        stdout(&refused).contains("refused to connect"),
        "the SSRF guard applies"
    );
    let audit = data.run(&["audit", "--json"]);
    assert!(
        stdout(&audit).contains("\"checked\":0"),
        "{}",
        stdout(&audit)
    );

    // Paused: never fetched.
    let paused = data.run(&["source", "pause", "local"]);
    assert!(paused.status.success(), "{}", stderr(&paused));
    let pushed = data.run(&["source", "add", "wire", "--push"]);
    let token = util::push_token(&pushed);
    assert!(data.run(&["source", "pause", "wire"]).status.success());
    let server = data.serve(&["--allow-private-networks"]);
    let requests_before = feed.requests.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        feed.requests.load(Ordering::SeqCst),
        requests_before,
        "a paused source is not polled"
    );
    let push = |token: &str| {
        util::client()
            .post(server.url("/api/v1/push/wire"))
            .bearer_auth(token)
            .body(std::fs::read(fixture("fidelity.rss")).unwrap_or_default())
            .send()
            .map(|response| response.status().as_u16())
            .unwrap_or_default()
    };
    assert_eq!(push(&token), 401, "a paused push source takes nothing");

    // Resumed: polled and pushed again.
    assert!(data.run(&["source", "resume", "local"]).status.success());
    assert!(data.run(&["source", "resume", "wire"]).status.success());
    wait_for("the resumed poll", Duration::from_secs(10), || {
        (server.headlines().len() >= 2).then_some(())
    });
    assert_eq!(push(&token), 202);

    // Removed: gone from the list, pushes refused, its stories stay.
    let published = server.headlines().len();
    assert!(data.run(&["source", "remove", "wire"]).status.success());
    assert_eq!(push(&token), 401);
    let list = data.run(&["source", "list", "--json"]);
    let sources: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap_or_default();
    assert_eq!(sources.as_array().map(Vec::len), Some(1));
    assert_eq!(server.headlines().len(), published);
    assert_eq!(
        data.run(&["source", "remove", "nosuch"]).status.code(),
        Some(2)
    );

    // Source health over HTTP needs the admin token; push tokens never appear.
    let sources = |token: Option<&str>| {
        let mut request = util::client().get(server.url("/api/v1/sources"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().unwrap_or_else(|error| panic!("{error}"));
        (
            response.status().as_u16(),
            response.text().unwrap_or_default(),
        )
    };
    assert_eq!(sources(None).0, 401);
    assert_eq!(
        sources(Some(&token)).0,
        401,
        "a push token is not the admin token"
    );
    let issued = data.run(&["admin-token"]);
    let admin = stdout(&issued)
        .lines()
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string();
    let (status, body) = sources(Some(&admin));
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(body["sources"][0]["name"], "local");
    assert_eq!(body["sources"][0]["items_last_24h"], 2);
    assert!(body["sources"][0].get("push_token_sha256").is_none());
    let reissued = data.run(&["admin-token"]);
    assert!(reissued.status.success());
    assert_eq!(
        sources(Some(&admin)).0,
        401,
        "a new token replaces the old one"
    );
}

#[test]
fn a_push_may_be_signed_with_hmac_instead_of_the_token() {
    use hmac::Mac;
    let data = DataDir::new();
    assert!(
        data.run(&["source", "add", "wire", "--push"])
            .status
            .success()
    );
    let server = data.serve(&[]);
    let body = std::fs::read(fixture("fidelity.atom")).unwrap_or_default();
    let sign = |secret: &str, body: &[u8]| {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|error| panic!("{error}"));
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    let push = |header: &str, signature: &str| {
        client()
            .post(server.url("/api/v1/push/wire"))
            .header(header, signature)
            .body(body.clone())
            .send()
            .map(|response| response.status().as_u16())
            .unwrap_or_default()
    };
    // Before the operator makes a secret, no signature is accepted.
    assert_eq!(push("X-Verbatim-Signature", &sign("guess", &body)), 401);

    let made = data.run(&["source", "hmac", "wire"]);
    assert!(made.status.success(), "{}", stderr(&made));
    let secret = stdout(&made)
        .lines()
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string();
    assert_eq!(secret.len(), 64);
    assert_eq!(
        push("X-Verbatim-Signature", &sign("wrong secret", &body)),
        401
    );
    assert_eq!(
        push("X-Verbatim-Signature", &sign(&secret, b"other bytes")),
        401
    );
    assert_eq!(push("X-Verbatim-Signature", "sha256=not-hex"), 401);
    assert_eq!(push("X-Verbatim-Signature", &sign(&secret, &body)), 202);
    assert_eq!(push("X-Hub-Signature-256", &sign(&secret, &body)), 202);

    let off = data.run(&["source", "hmac", "wire", "--off"]);
    assert!(off.status.success());
    assert_eq!(push("X-Verbatim-Signature", &sign(&secret, &body)), 401);
    assert_eq!(
        data.run(&["source", "hmac", "nosuch"]).status.code(),
        Some(2)
    );
}

#[test]
fn a_server_saying_retry_after_is_believed() {
    // Answers every request 503 with Retry-After: 2 hours.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("{error}"));
    let url = format!(
        "http://{}/feed.xml",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 2048];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7200\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let data = DataDir::new();
    assert!(
        data.run(&["source", "add", "busy", &url, "--every", "10s"])
            .status
            .success()
    );
    let _server = data.serve(&["--allow-private-networks"]);
    let source = wait_for("the failed fetch", Duration::from_secs(10), || {
        let list = data.run(&["source", "list", "--json"]);
        let sources: serde_json::Value = serde_json::from_str(&stdout(&list)).ok()?;
        (sources[0]["last_status"] == 503).then(|| sources[0].clone())
    });
    let time = |key: &str| {
        chrono::DateTime::parse_from_rfc3339(source[key].as_str().unwrap_or_default())
            .unwrap_or_else(|error| panic!("{key}: {error} in {source}"))
    };
    let wait = time("next_due") - time("last_attempt");
    assert!(
        (7190..=7210).contains(&wait.num_seconds()),
        "next try in {wait}, not the two hours the server asked for"
    );
}

#[test]
fn sources_authenticate_and_their_secrets_are_never_shown() {
    // Serves the feed only to requests that carry one of the three credentials.
    let body = std::fs::read(fixture("fidelity.atom")).unwrap_or_default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("{error}"));
    let base = format!(
        "http://{}",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().take(100) {
            let Ok(mut stream) = stream else { continue };
            let mut reader =
                BufReader::new(stream.try_clone().unwrap_or_else(|error| panic!("{error}")));
            let mut head = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                head.push_str(&line.to_ascii_lowercase());
                line.clear();
            }
            // "agency:pa55" in base64, a bearer token, or an API key header.
            let allowed = head.contains("authorization: basic ywdlbmn5onbhntu=")
                || head.contains("authorization: bearer t0ken")
                || head.contains("x-api-key: k3y");
            if allowed {
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/atom+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                );
                let _ = stream.write_all(&body);
            } else {
                let _ = stream.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        }
    });
    let data = DataDir::new();
    for (name, auth) in [
        ("basic", "basic:agency:pa55"),
        ("bearer", "bearer:t0ken"),
        ("header", "header:X-Api-Key:k3y"),
    ] {
        let added = data.run(&[
            "source",
            "add",
            name,
            &format!("{base}/{name}.xml"),
            "--every",
            "10s",
            "--auth",
            auth,
        ]);
        assert!(added.status.success(), "{}", stderr(&added));
        let tested = data.run(&["source", "test", name, "--allow-private-networks"]);
        assert!(
            stdout(&tested).contains("2 item(s)"),
            "{name}: {}",
            stdout(&tested)
        );
    }
    let keyed = format!("{base}/keyed.xml?apikey=SUPERSECRET&lang=en");
    assert!(
        data.run(&["source", "add", "keyed", &keyed, "--every", "10s"])
            .status
            .success()
    );
    assert_eq!(
        data.run(&["source", "add", "bad", &base, "--auth", "digest:x:y"])
            .status
            .code(),
        Some(2)
    );

    let _server = data.serve(&["--allow-private-networks"]);
    let sources = wait_for("every source polled", Duration::from_secs(15), || {
        let list = data.run(&["source", "list", "--json"]);
        let sources: serde_json::Value = serde_json::from_str(&stdout(&list)).ok()?;
        sources
            .as_array()?
            .iter()
            .all(|source| !source["last_status"].is_null())
            .then_some(sources)
    });
    for source in sources.as_array().into_iter().flatten() {
        let expected = if source["name"] == "keyed" { 401 } else { 200 };
        assert_eq!(source["last_status"], expected, "{source}");
    }
    let text = format!(
        "{}{}",
        stdout(&data.run(&["source", "list"])),
        stdout(&data.run(&["source", "list", "--json"]))
    );
    for secret in ["pa55", "t0ken", "k3y", "SUPERSECRET"] {
        assert!(!text.contains(secret), "{secret} shown in: {text}");
    }
    assert!(text.contains("apikey=REDACTED"), "{text}");
}

#[test]
fn one_host_gets_at_most_two_fetches_at_once() {
    // A slow agency host serving six feeds; it records how many requests it had at once.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("{error}"));
    let base = format!(
        "http://{}",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    let (current, most, served) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (current_in, most_in, served_in) = (current.clone(), most.clone(), served.clone());
    let body = std::fs::read(fixture("fidelity.atom")).unwrap_or_default();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(60) {
            let Ok(mut stream) = stream else { continue };
            let (current, most, served, body) = (
                current_in.clone(),
                most_in.clone(),
                served_in.clone(),
                body.clone(),
            );
            std::thread::spawn(move || {
                let now = current.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let mut request = [0u8; 2048];
                let _ = std::io::Read::read(&mut stream, &mut request);
                std::thread::sleep(Duration::from_millis(400));
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/atom+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                );
                let _ = stream.write_all(&body);
                current.fetch_sub(1, Ordering::SeqCst);
                served.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    let data = DataDir::new();
    for feed in 0..6 {
        let added = data.run(&[
            "source",
            "add",
            &format!("feed{feed}"),
            &format!("{base}/feed{feed}.xml"),
            "--every",
            "10s",
        ]);
        assert!(added.status.success(), "{}", stderr(&added));
    }
    let _server = data.serve(&["--allow-private-networks"]);
    wait_for("all six feeds fetched", Duration::from_secs(20), || {
        (served.load(Ordering::SeqCst) >= 6).then_some(())
    });
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "the host had at most two requests at once (and did have two)"
    );
}

/// Article pages are served from a cache that reads nothing from the store per request. A kill
/// or update this server commits (here a push) makes the cached page stale before the push is
/// answered, so the very next request shows it; a change another process makes on the same
/// store (`verbatim ingest`, `verbatim headline set`) shows within the change watch's bound
/// (`util::CHANGE_BOUND`, 50 ms; asserted against the 1 s a kill may take, and printed).
#[test]
fn cached_pages_show_this_servers_changes_at_once_and_other_processes_within_the_bound() {
    const BOUND: Duration = Duration::from_secs(1);
    let data = DataDir::new();
    let added = data.run(&["source", "add", "wire", "--push"]);
    assert!(added.status.success(), "{}", stderr(&added));
    let token = util::push_token(&added);
    let server = data.serve(&[]);
    let story = |uri: &str, version: u64, pubstatus: &str, headline: &str| {
        serde_json::json!({
            "uri": uri,
            "version": version.to_string(),
            "versioncreated": format!("2026-12-01T11:0{version}:00Z"),
            "pubstatus": pubstatus,
            "headline": headline,
            "body_text": "The bridge was closed on Tuesday after a lorry crashed into a barrier.",
        })
    };
    let push = |item: serde_json::Value| -> String {
        util::push_item(&server.url(""), "wire", &token, &item)
    };
    // Read twice, so the second answer comes from the cache.
    let cached = |id: &str, headline: &str| {
        for _ in 0..2 {
            let (status, page) = server.get_text(&format!("/items/{id}"));
            assert_eq!(status, 200);
            assert!(page.contains(headline), "{page}");
        }
    };

    // This server's own writes: exact.
    let bridge = push(story("urn:cache:bridge", 1, "usable", "Bridge closed"));
    cached(&bridge, "Bridge closed");
    push(story("urn:cache:bridge", 2, "usable", "Bridge reopened"));
    let (status, page) = server.get_text(&format!("/items/{bridge}"));
    assert_eq!(status, 200);
    assert!(
        page.contains("Bridge reopened"),
        "an update at the next request"
    );
    push(story("urn:cache:bridge", 3, "canceled", "Bridge reopened"));
    let (status, _) = server.get_text(&format!("/items/{bridge}"));
    assert_eq!(status, 410, "a kill at the very next request");

    // Another process on the same store: within the bound.
    let within = |what: &str, check: &dyn Fn() -> bool| {
        let started = std::time::Instant::now();
        while !check() {
            assert!(
                started.elapsed() < BOUND,
                "{what} not seen within {BOUND:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        eprintln!(
            "{what}: seen {:.0} ms after the command ended",
            started.elapsed().as_secs_f64() * 1000.0
        );
    };
    let ferry = push(story("urn:cache:ferry", 1, "usable", "Ferry delayed"));
    cached(&ferry, "Ferry delayed");
    let kill = data.path().join("kill.json");
    std::fs::write(
        &kill,
        story("urn:cache:ferry", 2, "canceled", "Ferry delayed").to_string(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    // `command`, not `run`: `run` would wait out the bound this measures.
    let run = |args: &[&str]| {
        data.command()
            .args(args)
            .env("VERBATIM_LOG", "warn")
            .output()
            .unwrap_or_else(|error| panic!("{error}"))
    };
    let ingested = run(&[
        "ingest",
        "--source",
        "wire",
        kill.to_str().unwrap_or_default(),
    ]);
    assert!(ingested.status.success(), "{}", stderr(&ingested));
    within("a kill ingested by the CLI", &|| {
        server.get_text(&format!("/items/{ferry}")).0 == 410
    });
    let train = push(story("urn:cache:train", 1, "usable", "Trains run late"));
    cached(&train, "Trains run late");
    let set = run(&["headline", "set", &train, "Rail strike called off"]);
    assert!(set.status.success(), "{}", stderr(&set));
    within("a headline set by the CLI", &|| {
        server
            .get_text(&format!("/items/{train}"))
            .1
            .contains("Rail strike called off")
    });
}
