//! The ingest engine against scripted servers on 127.0.0.1: WebSub (discovery, subscription,
//! verification, signed deliveries, renewal, a failing hub), backoff on errors and recovery,
//! `Cache-Control: max-age`, API keys in the query, push rate limits, and inbox files written
//! slowly.

mod util;

use hmac::Mac;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use util::{Answer, DataDir, Request, admin_token, client, http_server, stdout, wait_for};

fn atom(entries: &[(&str, &str)], links: &str) -> Vec<u8> {
    let mut feed = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>Test Wire</title><id>urn:test-wire</id><updated>2026-11-24T10:00:00Z</updated>\n{links}\n"
    );
    for (id, headline) in entries {
        feed.push_str(&format!(
            "<entry><id>urn:test-wire:{id}</id><title>{headline}</title><updated>2026-11-24T10:00:00Z</updated><content type=\"html\">&lt;p&gt;The full text of {headline}, as sent.&lt;/p&gt;</content></entry>\n"
        ));
    }
    feed.push_str("</feed>\n");
    feed.into_bytes()
}

fn ok(content_type: &str, body: Vec<u8>) -> Answer {
    (
        200,
        vec![("Content-Type".into(), content_type.into())],
        body,
    )
}

fn sources(data: &DataDir) -> serde_json::Value {
    let list = data.run(&["source", "list", "--json"]);
    serde_json::from_str(&stdout(&list)).unwrap_or_default()
}

fn source<'a>(sources: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    sources
        .as_array()
        .and_then(|all| all.iter().find(|source| source["name"] == name))
        .unwrap_or(&serde_json::Value::Null)
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn form_value(pairs: &[(String, String)], key: &str) -> String {
    pairs
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.clone())
        .unwrap_or_default()
}

fn sign(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        panic!("HMAC takes any key");
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn seconds_between(source: &serde_json::Value, from: &str, to: &str) -> i64 {
    let time = |key: &str| {
        chrono::DateTime::parse_from_rfc3339(source[key].as_str().unwrap_or_default())
            .unwrap_or_else(|error| panic!("{key}: {error} in {source}"))
    };
    (time(to) - time(from)).num_seconds()
}

/// What the test hub learnt from a subscription request.
#[derive(Clone, Default)]
struct Subscribed {
    topic: String,
    callback: String,
    secret: String,
    /// Whether the subscriber echoed the challenge.
    verified: bool,
}

#[test]
fn websub_subscribes_verifies_takes_signed_deliveries_and_renews() {
    // The hub: accepts a subscription with 202, then verifies it by calling back (lease 4 s).
    let subscriptions: Arc<Mutex<Vec<Subscribed>>> = Arc::default();
    let recorded = subscriptions.clone();
    let (hub, _) = http_server(move |request: &Request| {
        let pairs = form(&request.body);
        if request.method != "POST" || form_value(&pairs, "hub.mode") != "subscribe" {
            return (400, vec![], b"bad request".to_vec());
        }
        let mut subscribed = Subscribed {
            topic: form_value(&pairs, "hub.topic"),
            callback: form_value(&pairs, "hub.callback"),
            secret: form_value(&pairs, "hub.secret"),
            verified: false,
        };
        let recorded = recorded.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            let challenge = "challenge-1234";
            let mut verification = url::Url::parse(&subscribed.callback)
                .unwrap_or_else(|error| panic!("callback {:?}: {error}", subscribed.callback));
            verification
                .query_pairs_mut()
                .append_pair("hub.mode", "subscribe")
                .append_pair("hub.topic", &subscribed.topic)
                .append_pair("hub.challenge", challenge)
                .append_pair("hub.lease_seconds", "4");
            let answer = client().get(verification).send();
            subscribed.verified = answer.is_ok_and(|answer| {
                answer.status() == 200 && answer.text().unwrap_or_default() == challenge
            });
            if let Ok(mut all) = recorded.lock() {
                all.push(subscribed);
            }
        });
        (202, vec![], Vec::new())
    });
    // The feed names the hub and its own URL.
    let feed_body = Arc::new(Mutex::new(Vec::new()));
    let served = feed_body.clone();
    let (feed, _) = http_server(move |_| {
        ok(
            "application/atom+xml",
            served.lock().map(|body| body.clone()).unwrap_or_default(),
        )
    });
    let topic = format!("{feed}/feed.xml");
    let links = format!("<link rel=\"hub\" href=\"{hub}/\"/><link rel=\"self\" href=\"{topic}\"/>");
    if let Ok(mut body) = feed_body.lock() {
        *body = atom(&[("1", "Polled first story")], &links);
    }
    // A second source whose hub refuses: it is polled as before.
    let (broken_hub, _) = http_server(|_| (500, vec![], b"hub is down".to_vec()));
    let broken_links = format!("<link rel=\"hub\" href=\"{broken_hub}/\"/>");
    let broken_body = atom(&[("9", "Story from the other feed")], &broken_links);
    let (other_feed, _) = http_server(move |_| ok("application/atom+xml", broken_body.clone()));

    let data = DataDir::new();
    let config = data.path().join("verbatim.toml");
    std::fs::write(
        &config,
        format!(
            "[fetch]\nallow_private_networks = true\n\n[websub]\nenabled = true\nlease = \"4s\"\n\n\
             [[sources]]\nname = \"wire\"\nurl = \"{topic}\"\nevery = \"10s\"\n\n\
             [[sources]]\nname = \"other\"\nurl = \"{other_feed}/feed.xml\"\nevery = \"10s\"\n"
        ),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let server = data.serve(&["--config", config.to_str().unwrap_or_default()]);

    // Discovery from the polled feed, subscription, verification.
    let first = wait_for("a verified subscription", Duration::from_secs(15), || {
        subscriptions
            .lock()
            .ok()
            .and_then(|all| all.first().cloned())
    });
    assert_eq!(first.topic, topic);
    assert_eq!(first.callback, format!("{}/websub/wire", server.base));
    assert!(first.verified, "the subscriber echoed the hub's challenge");
    assert!(first.secret.len() >= 32, "a real secret was sent");
    let listed = wait_for("the live subscription", Duration::from_secs(5), || {
        let all = sources(&data);
        let wire = source(&all, "wire").clone();
        (wire["websub"]["state"] == "active").then_some(wire)
    });
    assert!(
        listed["websub"].get("secret").is_none(),
        "secrets are never shown"
    );

    // A signed delivery is published at once.
    let delivery = atom(&[("2", "Delivered by the hub")], "");
    let answer = client()
        .post(&first.callback)
        .header("Content-Type", "application/atom+xml")
        .header("X-Hub-Signature", sign(&first.secret, &delivery))
        .body(delivery)
        .send()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(answer.status(), 202);
    assert!(
        server
            .headlines()
            .contains(&"Delivered by the hub".to_string())
    );

    // A delivery with a wrong or missing signature is acknowledged (WebSub §7) and ignored.
    for signature in [Some(sign("not-the-secret", b"x")), None] {
        let forged = atom(&[("3", "Forged delivery")], "");
        let mut request = client()
            .post(&first.callback)
            .header("Content-Type", "application/atom+xml")
            .body(forged);
        if let Some(signature) = signature {
            request = request.header("X-Hub-Signature", signature);
        }
        let answer = request.send().unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(answer.status(), 202);
    }
    assert!(!server.headlines().contains(&"Forged delivery".to_string()));

    // Verifications the subscriber never asked for are refused.
    let stray = |target: &str| {
        client()
            .get(format!(
                "{}{target}&hub.challenge=c&hub.lease_seconds=60",
                server.base
            ))
            .send()
            .map(|answer| answer.status().as_u16())
            .unwrap_or_default()
    };
    assert_eq!(
        stray("/websub/wire?hub.mode=subscribe&hub.topic=https%3A%2F%2Felsewhere.test%2F"),
        404
    );
    assert_eq!(stray("/websub/nobody?hub.mode=subscribe&hub.topic=x"), 404);

    // The 4-second lease is renewed before it ends, with the same topic and callback.
    let renewed = wait_for("a renewal", Duration::from_secs(10), || {
        subscriptions
            .lock()
            .ok()
            .and_then(|all| all.get(1).cloned())
    });
    assert_eq!(renewed.topic, topic);
    assert_eq!(renewed.callback, first.callback);
    assert!(renewed.verified);

    // The refusing hub leaves its source on plain polling, with the reason shown.
    let all = sources(&data);
    let other = source(&all, "other");
    assert_eq!(other["websub"]["state"], "failed", "{other}");
    assert!(
        other["websub"]["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("500"),
        "{other}"
    );
    assert!(seconds_between(other, "last_attempt", "next_due") <= 11);
    assert!(
        server
            .headlines()
            .contains(&"Story from the other feed".to_string())
    );
    let token = admin_token(&data);
    let (status, api) = {
        let answer = client()
            .get(server.url("/api/v1/sources"))
            .bearer_auth(&token)
            .send()
            .unwrap_or_else(|error| panic!("{error}"));
        (
            answer.status().as_u16(),
            answer.json::<serde_json::Value>().unwrap_or_default(),
        )
    };
    assert_eq!(status, 200);
    assert_eq!(source(&api["sources"], "wire")["websub"]["state"], "active");
}

#[test]
fn a_failing_source_backs_off_then_recovers() {
    // Three 500s, then the feed.
    let body = atom(&[("1", "After the outage")], "");
    let failures = Arc::new(Mutex::new(0));
    let counted = failures.clone();
    let (feed, log) = http_server(move |_| {
        let mut seen = counted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *seen += 1;
        if *seen <= 3 {
            (500, vec![], b"down".to_vec())
        } else {
            ok("application/atom+xml", body.clone())
        }
    });
    let data = DataDir::new();
    let config = data.path().join("verbatim.toml");
    std::fs::write(
        &config,
        format!(
            "[fetch]\nallow_private_networks = true\nmin_interval = \"1s\"\n\n\
             [[sources]]\nname = \"flaky\"\nurl = \"{feed}/feed.xml\"\nevery = \"1s\"\n"
        ),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let server = data.serve(&["--config", config.to_str().unwrap_or_default()]);
    wait_for("recovery", Duration::from_secs(30), || {
        server
            .headlines()
            .contains(&"After the outage".to_string())
            .then_some(())
    });
    let all = sources(&data);
    let flaky = source(&all, "flaky");
    assert_eq!(flaky["consecutive_errors"], 0, "{flaky}");
    assert!(flaky["last_error"].is_null(), "{flaky}");
    assert_eq!(flaky["last_status"], 200);
    assert!(
        seconds_between(flaky, "last_attempt", "next_due") <= 2,
        "back to the source's interval: {flaky}"
    );
    // The waits after the first, second and third error: 1 s, 2 s, 4 s (lower bounds only).
    let times: Vec<std::time::Instant> = log
        .lock()
        .map(|log| log.iter().map(|request| request.at).collect())
        .unwrap_or_default();
    assert!(times.len() >= 4, "{} requests", times.len());
    let gaps: Vec<f64> = times
        .windows(2)
        .map(|pair| pair[1].duration_since(pair[0]).as_secs_f64())
        .collect();
    assert!(gaps[0] >= 0.9, "{gaps:?}");
    assert!(gaps[1] >= 1.9, "the wait doubles: {gaps:?}");
    assert!(gaps[2] >= 3.9, "and doubles again: {gaps:?}");
}

#[test]
fn cache_control_max_age_delays_the_next_poll_within_the_cap() {
    let body = atom(&[("1", "Cached story")], "");
    let (feed, _) = http_server(move |_| {
        (
            200,
            vec![
                ("Content-Type".into(), "application/atom+xml".into()),
                ("Cache-Control".into(), "public, max-age=86400".into()),
            ],
            body.clone(),
        )
    });
    let data = DataDir::new();
    let config = data.path().join("verbatim.toml");
    std::fs::write(
        &config,
        format!(
            "[fetch]\nallow_private_networks = true\nmax_age_cap = \"15m\"\n\n\
             [[sources]]\nname = \"cached\"\nurl = \"{feed}/feed.xml\"\nevery = \"10s\"\n"
        ),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let _server = data.serve(&["--config", config.to_str().unwrap_or_default()]);
    let cached = wait_for("the first poll", Duration::from_secs(10), || {
        let all = sources(&data);
        let cached = source(&all, "cached").clone();
        (cached["last_status"] == 200).then_some(cached)
    });
    let wait = seconds_between(&cached, "last_attempt", "next_due");
    // A day of freshness, capped at 15 minutes (plus up to 10% jitter).
    assert!((900..=990).contains(&wait), "next poll in {wait} s");
}

#[test]
fn an_api_key_in_the_query_is_sent_but_never_stored_or_shown() {
    let body = atom(&[("1", "Keyed story")], "");
    let (feed, log) = http_server(move |request: &Request| {
        if request.target.contains("api_key=k3y-s3cret") {
            ok("application/atom+xml", body.clone())
        } else {
            (401, vec![], b"key required".to_vec())
        }
    });
    let data = DataDir::new();
    let url = format!("{feed}/feed.xml?lang=en");
    let added = data.run(&[
        "source",
        "add",
        "keyed",
        &url,
        "--every",
        "10s",
        "--auth",
        "query:api_key:k3y-s3cret",
    ]);
    assert!(added.status.success(), "{}", util::stderr(&added));
    let server = data.serve(&["--allow-private-networks"]);
    wait_for("the keyed story", Duration::from_secs(10), || {
        server
            .headlines()
            .contains(&"Keyed story".to_string())
            .then_some(())
    });
    let sent = log
        .lock()
        .map(|log| log.first().map(|request| request.target.clone()))
        .ok()
        .flatten()
        .unwrap_or_default();
    assert!(
        sent.contains("lang=en") && sent.contains("api_key=k3y-s3cret"),
        "{sent}"
    );
    let (_, items) = server.get_json("/api/v1/items");
    let listing = data.run(&["source", "list", "--json"]);
    for shown in [items.to_string(), stdout(&listing)] {
        assert!(!shown.contains("k3y-s3cret"), "{shown}");
    }
    let id = items["items"][0]["id"].as_str().unwrap_or_default();
    let (_, page) = server.get_text(&format!("/items/{id}/provenance"));
    assert!(!page.contains("k3y-s3cret"));
    assert!(
        page.contains("lang=en"),
        "the URL is shown, without the key"
    );
}

#[test]
fn pushes_beyond_the_rate_limit_are_told_when_to_retry() {
    let data = DataDir::new();
    let config = data.path().join("verbatim.toml");
    std::fs::write(&config, "[limits]\npush_per_second = 1\npush_burst = 2\n")
        .unwrap_or_else(|error| panic!("{error}"));
    let added = data.run(&["source", "add", "pusher", "--push"]);
    let token = stdout(&added)
        .lines()
        .find_map(|line| {
            line.split_whitespace()
                .last()
                .filter(|word| word.len() >= 32)
        })
        .unwrap_or_default()
        .to_string();
    assert!(!token.is_empty(), "{}", stdout(&added));
    let server = data.serve(&["--config", config.to_str().unwrap_or_default()]);
    let push = |n: usize| {
        client()
            .post(server.url("/api/v1/push/pusher"))
            .bearer_auth(&token)
            .header("Content-Type", "application/atom+xml")
            .body(atom(&[(&n.to_string(), &format!("Pushed {n}"))], ""))
            .send()
            .unwrap_or_else(|error| panic!("{error}"))
    };
    let statuses: Vec<u16> = (0..4).map(|n| push(n).status().as_u16()).collect();
    assert_eq!(&statuses[..2], &[202, 202], "the burst is allowed");
    assert!(statuses[2..].contains(&429), "{statuses:?}");
    let limited = push(9);
    if limited.status() == 429 {
        let retry = limited
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        assert!(
            retry.is_some_and(|seconds| (1..=2).contains(&seconds)),
            "{retry:?}"
        );
    }
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(push(10).status(), 202, "the rate refills");
}

#[test]
fn an_inbox_file_written_slowly_is_read_only_when_complete() {
    let data = DataDir::new();
    let server = data.serve(&[]);
    let inbox = data.path().join("inbox").join("slow");
    std::fs::create_dir_all(&inbox).unwrap_or_else(|error| panic!("{error}"));
    let body = atom(&[("1", "First half"), ("2", "Second half")], "");
    let (head, tail) = body.split_at(body.len() / 2);
    let path = inbox.join("delivery.xml");
    // Half the file, a pause shorter than the settle time (500 ms) but longer than the old rule's
    // 200 ms between two scans, then the rest.
    std::fs::write(&path, head).unwrap_or_else(|error| panic!("{error}"));
    std::thread::sleep(Duration::from_millis(350));
    {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|error| panic!("{error}"));
        file.write_all(tail)
            .unwrap_or_else(|error| panic!("{error}"));
    }
    wait_for("both stories", Duration::from_secs(10), || {
        (server.headlines().len() == 2).then_some(())
    });
    assert!(
        data.path().join("inbox/done/slow/delivery.xml").exists(),
        "moved to done/ whole"
    );
    assert!(!data.path().join("inbox/failed").exists());
}
