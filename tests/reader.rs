//! The reader's side as search engines see it: robots.txt, the sitemap index, the Google News
//! sitemap and story sitemaps, and each article's NewsArticle JSON-LD and OpenGraph tags — with
//! kills and embargoes respected everywhere.

mod util;

use serde_json::json;
use util::{DataDir, Server, stderr};

fn ingest(data: &DataDir, name: &str, item: serde_json::Value) {
    data.ingest_as("wire", &format!("{name}.json"), &item.to_string());
}

fn id_of(server: &Server, headline: &str) -> String {
    let (_, list) = server.get_json("/api/v1/items?limit=100");
    list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|item| item["headline"] == headline))
        .and_then(|item| item["id"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The text between `<script type="application/ld+json">` and `</script>`.
fn json_ld(page: &str) -> serde_json::Value {
    let start = page
        .find("<script type=\"application/ld+json\">")
        .map(|at| at + "<script type=\"application/ld+json\">".len())
        .unwrap_or_else(|| panic!("no JSON-LD in {page}"));
    let end = page[start..]
        .find("</script>")
        .map(|at| start + at)
        .unwrap_or_else(|| panic!("unclosed JSON-LD"));
    serde_json::from_str(&page[start..end]).unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn sitemaps_and_structured_data_follow_the_lifecycle() {
    let data = DataDir::new();
    let now = chrono::Utc::now();
    let body = "Dockworkers voted 812 to 95 to end the strike. </script><script>alert(1)</script> « Les quais rouvrent » — العمال";
    ingest(
        &data,
        "port",
        json!({
            "uri": "urn:wire:port", "version": "1", "pubstatus": "usable",
            "versioncreated": now.to_rfc3339(), "language": "en",
            "headline": "Port strike ends & ships sail", "byline": "Ana Ruiz",
            "copyrightnotice": "© 2026 Test Wire", "body_text": body,
        }),
    );
    ingest(
        &data,
        "kill-me",
        json!({
            "uri": "urn:wire:rumour", "version": "1", "pubstatus": "usable",
            "versioncreated": now.to_rfc3339(),
            "headline": "Rumoured merger", "body_text": "Two banks are said to merge.",
        }),
    );
    ingest(
        &data,
        "embargoed",
        json!({
            "uri": "urn:wire:budget", "version": "1", "pubstatus": "usable",
            "embargoed": (now + chrono::Duration::hours(2)).to_rfc3339(),
            "headline": "Budget under embargo", "body_text": "Not yet.",
        }),
    );
    let server = data.serve(&[]);
    let port = id_of(&server, "Port strike ends & ships sail");
    let rumour = id_of(&server, "Rumoured merger");
    assert!(!port.is_empty() && !rumour.is_empty());

    let (status, robots) = server.get_text("/robots.txt");
    assert_eq!(status, 200);
    assert!(
        robots.contains(&format!("Sitemap: {}/sitemap.xml", server.base)),
        "{robots}"
    );
    assert!(robots.contains("Disallow: /api/"));

    let (status, index) = server.get_text("/sitemap.xml");
    assert_eq!(status, 200);
    assert!(index.contains(&format!("<loc>{}/sitemaps/news.xml</loc>", server.base)));
    assert!(index.contains(&format!(
        "<loc>{}/sitemaps/stories-1.xml</loc>",
        server.base
    )));

    let (_, news) = server.get_text("/sitemaps/news.xml");
    assert!(
        news.contains(&format!("<loc>{}/items/{port}</loc>", server.base)),
        "{news}"
    );
    assert!(news.contains("<news:title>Port strike ends &amp; ships sail</news:title>"));
    assert!(news.contains("<news:language>en</news:language>"));
    assert!(
        !news.contains("Budget under embargo"),
        "embargoed copy is not announced"
    );
    let (_, stories) = server.get_text("/sitemaps/stories-1.xml");
    assert!(stories.contains(&format!("/items/{port}</loc>")));
    assert!(stories.contains(&format!("/items/{rumour}</loc>")));
    assert_eq!(server.get_text("/sitemaps/stories-0.xml").0, 404);
    assert_eq!(server.get_text("/sitemaps/other.xml").0, 404);

    // The article's structured data carries the agency's text, unmodified, and cannot break out
    // of its script element.
    let (_, page) = server.get_text(&format!("/items/{port}"));
    assert_eq!(
        page.matches("</script>").count(),
        2,
        "the live script and the JSON-LD; the agency's `</script>` stays inside the JSON"
    );
    let article = json_ld(&page);
    assert_eq!(article["@type"], "NewsArticle");
    assert_eq!(article["headline"], "Port strike ends & ships sail");
    assert_eq!(article["articleBody"], body);
    assert_eq!(article["author"]["name"], "Ana Ruiz");
    assert_eq!(article["sourceOrganization"]["name"], "wire");
    assert_eq!(article["url"], format!("{}/items/{port}", server.base));
    assert!(
        page.contains("<meta property=\"og:title\" content=\"Port strike ends &amp; ships sail\">")
    );
    assert!(page.contains(&format!(
        "<meta property=\"og:url\" content=\"{}/items/{port}\">",
        server.base
    )));

    // A kill takes the story out of every sitemap.
    ingest(
        &data,
        "kill",
        json!({
            "uri": "urn:wire:rumour", "version": "2", "pubstatus": "canceled",
            "headline": "Rumoured merger", "body_text": "Killed.",
        }),
    );
    let (_, news) = server.get_text("/sitemaps/news.xml");
    let (_, stories) = server.get_text("/sitemaps/stories-1.xml");
    for sitemap in [news, stories] {
        assert!(!sitemap.contains(&rumour), "{sitemap}");
        assert!(sitemap.contains(&port));
    }
}

fn found(server: &Server, query: &str) -> Vec<String> {
    let (status, list) = server.get_json(&format!("/api/v1/items?q={query}&limit=50"));
    assert_eq!(status, 200, "{list}");
    let mut headlines: Vec<String> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["headline"].as_str().map(str::to_string))
        .collect();
    headlines.sort();
    headlines
}

#[test]
fn search_finds_published_stories_and_never_killed_or_embargoed_ones() {
    use std::time::Duration;
    let data = DataDir::new();
    let server = data.serve(&[]);
    let now = chrono::Utc::now();
    let story = |uri: &str, headline: &str, body: &str, language: &str| {
        json!({
            "uri": uri, "version": "1", "pubstatus": "usable", "language": language,
            "versioncreated": now.to_rfc3339(), "headline": headline, "body_text": body,
        })
    };
    ingest(
        &data,
        "a",
        story(
            "urn:w:a",
            "Harbour fire contained",
            "Crews fought the blaze at the harbour café for six hours.",
            "en",
        ),
    );
    ingest(
        &data,
        "b",
        story(
            "urn:w:b",
            "Dock strike ends",
            "Dockworkers voted to end the strike.",
            "en",
        ),
    );
    ingest(
        &data,
        "c",
        story("urn:w:c", "港口罢工结束", "码头工人投票结束罢工。", "zh"),
    );
    let mut embargoed = story("urn:w:d", "Budget harbour plan", "Under embargo.", "en");
    embargoed["embargoed"] = json!((now + chrono::Duration::hours(1)).to_rfc3339());
    ingest(&data, "d", embargoed);

    // Four separate ingests: the follower may have indexed some and not yet the others.
    util::wait_for(
        "the index to follow the store",
        Duration::from_secs(10),
        || {
            (found(&server, "harbour") == ["Harbour fire contained"]
                && found(&server, "strike") == ["Dock strike ends"]
                && found(&server, "%E7%BD%A2%E5%B7%A5") == ["港口罢工结束"])
            .then_some(())
        },
    );
    assert_eq!(
        found(&server, "cafe"),
        ["Harbour fire contained"],
        "diacritics folded"
    );
    assert_eq!(
        found(&server, "%22end%20the%20strike%22"),
        ["Dock strike ends"]
    );
    assert_eq!(found(&server, "strike%20OR%20blaze").len(), 2);
    assert_eq!(found(&server, "harbour%20-blaze"), Vec::<String>::new());
    assert_eq!(
        found(&server, "%E7%BD%A2%E5%B7%A5"),
        ["港口罢工结束"],
        "a Chinese word inside a sentence"
    );

    // The reader's search page shows highlighted, escaped snippets.
    let (status, page) = server.get_text("/search?q=blaze");
    assert_eq!(status, 200);
    assert!(page.contains("1 story found"), "{page}");
    assert!(page.contains("<b>blaze</b>"), "{page}");
    assert!(page.contains("/items/"));
    let (status, page) = server.get_text("/search?q=strike&from=not-a-date");
    assert_eq!(status, 400);
    assert!(page.contains("not a date"));
    let (_, page) = server.get_text("/search?q=%22unbalanced");
    assert!(page.contains("0 stories found"));

    // A kill takes the story out of search within a second.
    ingest(
        &data,
        "kill",
        json!({"uri": "urn:w:b", "version": "2", "pubstatus": "canceled", "headline": "Dock strike ends", "body_text": "Killed."}),
    );
    assert!(
        found(&server, "strike").is_empty(),
        "the store is asked, so never shown"
    );
    util::wait_for(
        "the kill to leave the index",
        Duration::from_secs(5),
        || {
            let (_, page) = server.get_text("/search?q=strike");
            page.contains("0 stories found").then_some(())
        },
    );

    // `reindex` rebuilds the same index from the store (with serve stopped).
    drop(server);
    let rebuilt = data.run(&["reindex"]);
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    assert!(
        util::stdout(&rebuilt).contains("2 published stories indexed"),
        "{}",
        util::stdout(&rebuilt)
    );
    let server = data.serve(&[]);
    assert_eq!(found(&server, "harbour"), ["Harbour fire contained"]);
}

fn ingest_from(data: &DataDir, source: &str, name: &str, item: serde_json::Value) {
    data.ingest_as(source, &format!("{name}.json"), &item.to_string());
}

#[test]
fn stories_about_one_event_link_to_each_other_and_a_kill_unlinks() {
    use std::time::Duration;
    let data = DataDir::new();
    let server = data.serve(&[]);
    let now = chrono::Utc::now();
    let story = |uri: &str, headline: &str, body: &str| {
        json!({
            "uri": uri, "version": "1", "pubstatus": "usable", "language": "en",
            "versioncreated": now.to_rfc3339(), "headline": headline, "body_text": body,
        })
    };
    ingest_from(
        &data,
        "northwire",
        "a",
        story(
            "urn:nw:kessland",
            "Bank of Kessland raises key rate to 4.25% as inflation stays high",
            "AVERSBURG (Northwire) - The Bank of Kessland raised its main policy rate by 25 basis points to 4.25% on Thursday, its second increase this year. Governor Petra Holm said services inflation remained uncomfortably high.",
        ),
    );
    ingest_from(
        &data,
        "meridien",
        "b",
        story(
            "urn:am:kessland",
            "Kessland central bank tightens again, crown climbs",
            "Kessland's central bank lifted borrowing costs for a second time on Thursday, taking its benchmark rate to 4.25 percent. Governor Petra Holm said price pressures had not eased. The Kessland crown strengthened in Aversburg.",
        ),
    );
    ingest_from(
        &data,
        "meridien",
        "c",
        story(
            "urn:am:ferry",
            "Ferry service to Orrin Island resumes after storm",
            "Ferries between Port Adel and Orrin Island sailed again on Friday after three days of gales kept the fleet in harbour.",
        ),
    );
    let bank = id_of(
        &server,
        "Bank of Kessland raises key rate to 4.25% as inflation stays high",
    );
    let other = id_of(
        &server,
        "Kessland central bank tightens again, crown climbs",
    );
    let ferry = id_of(&server, "Ferry service to Orrin Island resumes after storm");

    let cluster = util::wait_for("the cluster", Duration::from_secs(5), || {
        let (_, item) = server.get_json(&format!("/api/v1/items/{bank}"));
        let stories = item["cluster"]["stories"].as_array()?.clone();
        (stories.len() == 1 && stories[0]["id"] == other.as_str())
            .then(|| item["cluster"]["id"].as_i64())
            .flatten()
    });
    let (_, page) = server.get_text(&format!("/items/{bank}"));
    assert!(page.contains("Also reported by"), "{page}");
    assert!(page.contains(&format!("href=\"/items/{other}\"")));
    assert!(
        !page.contains(&format!("/items/{ferry}\"")),
        "another event is not linked"
    );
    let (_, ferry_item) = server.get_json(&format!("/api/v1/items/{ferry}"));
    assert!(
        ferry_item["cluster"]["stories"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{ferry_item}"
    );
    let (status, listed) = server.get_json(&format!("/api/v1/clusters/{cluster}"));
    assert_eq!(status, 200);
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );

    // A kill takes the story out of its cluster everywhere at once.
    ingest_from(
        &data,
        "meridien",
        "kill",
        json!({
            "uri": "urn:am:kessland", "version": "2", "pubstatus": "canceled",
            "headline": "Kessland central bank tightens again, crown climbs", "body_text": "Killed.",
        }),
    );
    let (_, page) = server.get_text(&format!("/items/{bank}"));
    assert!(!page.contains(&format!("/items/{other}\"")), "{page}");
    let (_, listed) = server.get_json(&format!("/api/v1/clusters/{cluster}"));
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
}

#[test]
fn each_source_has_its_page_and_feeds() {
    let data = DataDir::new();
    ingest_from(
        &data,
        "northwire",
        "n",
        json!({"uri": "urn:n:1", "headline": "North story", "body_text": "From the north."}),
    );
    ingest_from(
        &data,
        "meridien",
        "m",
        json!({"uri": "urn:m:1", "headline": "Meridien story", "body_text": "From Meridien."}),
    );
    let server = data.serve(&[]);
    let (status, page) = server.get_text("/sources/northwire");
    assert_eq!(status, 200);
    assert!(
        page.contains("North story") && !page.contains("Meridien story"),
        "{page}"
    );
    assert!(page.contains("/feeds/sources/northwire.atom"));
    for (extension, marker) in [("atom", "<feed"), ("rss", "<rss"), ("json", "\"version\"")] {
        let (status, feed) = server.get_text(&format!("/feeds/sources/meridien.{extension}"));
        assert_eq!(status, 200, "{extension}");
        assert!(feed.contains(marker), "{feed}");
        assert!(
            feed.contains("Meridien story") && !feed.contains("North story"),
            "{feed}"
        );
        assert!(
            feed.contains(&format!("/feeds/sources/meridien.{extension}")),
            "its own self link"
        );
    }
    assert_eq!(server.get_text("/sources/nobody").0, 404);
    assert_eq!(server.get_text("/feeds/sources/nobody.atom").0, 404);
    assert_eq!(server.get_text("/feeds/sources/meridien.xml").0, 404);
}

#[test]
fn open_pages_learn_of_new_and_killed_stories_as_events() {
    use std::io::BufRead;
    let data = DataDir::new();
    let server = data.serve(&[]);
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let stream = client
        .get(server.url("/events"))
        .send()
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(stream.status(), 200);
    assert!(
        stream
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"))
    );
    let (sender, events) = std::sync::mpsc::channel::<(String, serde_json::Value)>();
    std::thread::spawn(move || {
        let mut name = String::new();
        for line in std::io::BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if let Some(event) = line.strip_prefix("event: ") {
                name = event.to_string();
            } else if let Some(data) = line.strip_prefix("data: ") {
                let data = serde_json::from_str(data).unwrap_or_default();
                if sender.send((name.clone(), data)).is_err() {
                    return;
                }
            }
        }
    });
    // Give the watcher its starting point before the story arrives.
    std::thread::sleep(std::time::Duration::from_millis(300));
    ingest(
        &data,
        "live",
        json!({"uri": "urn:w:live", "version": "1", "pubstatus": "usable", "headline": "Breaking <b>now</b>", "body_text": "First paragraph."}),
    );
    let next = |wanted: &str| loop {
        let (name, data) = events
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no {wanted} event"));
        if name == wanted {
            return data;
        }
    };
    let story = next("story");
    assert_eq!(
        story["headline"], "Breaking <b>now</b>",
        "plain text, as sent"
    );
    let id = story["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(story["path"], format!("/items/{id}"));
    ingest(
        &data,
        "kill",
        json!({"uri": "urn:w:live", "version": "2", "pubstatus": "canceled", "headline": "Breaking", "body_text": "Killed."}),
    );
    let removed = next("removed");
    assert_eq!(removed["id"], id.as_str());
    // The pages carry what the script needs, and the policy lets only our own script run.
    let front = client
        .get(server.url("/"))
        .send()
        .unwrap_or_else(|error| panic!("{error}"));
    let policy = front
        .headers()
        .get("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"),
        "{policy}"
    );
    let page = front.text().unwrap_or_default();
    assert!(page.contains("<script src=\"/static/live.js\" defer></script>"));
    assert!(page.contains("data-live=\"all\""));
    let (status, script) = server.get_text("/static/live.js");
    assert_eq!(status, 200);
    assert!(script.contains("textContent") && !script.contains("innerHTML"));
}

#[test]
fn pages_and_feeds_are_compressed_for_clients_that_ask() {
    let data = DataDir::new();
    ingest(
        &data,
        "z",
        json!({"uri": "urn:z:1", "headline": "Compressed", "body_text": "Words. ".repeat(400)}),
    );
    let server = data.serve(&[]);
    let raw = reqwest::blocking::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    for path in ["/", "/feeds/all.atom", "/api/v1/items"] {
        let answer = raw
            .get(server.url(path))
            .header("Accept-Encoding", "gzip")
            .send()
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            answer
                .headers()
                .get("content-encoding")
                .and_then(|value| value.to_str().ok()),
            Some("gzip"),
            "{path}"
        );
        assert!(answer.headers().get("etag").is_some(), "{path}");
        let plain = raw
            .get(server.url(path))
            .send()
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(plain.headers().get("content-encoding").is_none(), "{path}");
    }
}

#[test]
fn an_operator_theme_overrides_templates_and_adds_css_without_rebuilding() {
    let data = DataDir::new();
    ingest(
        &data,
        "t",
        json!({"uri": "urn:t:1", "headline": "Themed story", "body_text": "Body."}),
    );
    let theme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/theme");
    let config = data.path().join("verbatim.toml");
    std::fs::write(
        &config,
        format!(
            "[site]\ntitle = \"Harbour Post\"\ntemplates = {:?}\n",
            theme.display().to_string()
        ),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let server = data.serve(&["--config", config.to_str().unwrap_or_default()]);
    let (status, page) = server.get_text("/");
    assert_eq!(status, 200);
    assert!(
        page.contains("class=\"theme-harbour\""),
        "the operator's base.html: {page}"
    );
    assert!(
        page.contains("Themed story"),
        "the built-in front.html still fills it"
    );
    assert!(page.contains("/static/theme/theme.css"));
    let (status, css) = server.get_text("/static/theme/theme.css");
    assert_eq!(status, 200);
    assert!(css.contains(".theme-harbour"));
    for refused in [
        "/static/theme/..%2Fbase.html",
        "/static/theme/base.html",
        "/static/theme/.hidden.css",
        "/static/theme/missing.css",
    ] {
        assert_eq!(server.get_text(refused).0, 404, "{refused}");
    }
    let (_, article) = server.get_text(&format!("/items/{}", id_of(&server, "Themed story")));
    assert!(article.contains("theme-harbour") && article.contains("Body."));
}

#[test]
fn webhooks_are_signed_retried_and_logged_for_every_lifecycle_event() {
    use hmac::Mac;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    // The endpoint refuses its first request, then accepts everything.
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let (endpoint, log) = util::http_server(move |_| {
        if counted.fetch_add(1, Ordering::SeqCst) == 0 {
            (503, vec![], b"try later".to_vec())
        } else {
            (204, vec![], Vec::new())
        }
    });
    let secret = "a-webhook-secret-of-some-length";
    let data = DataDir::new();
    let config = data.path().join("verbatim.toml");
    std::fs::write(
        &config,
        format!(
            "[fetch]\nallow_private_networks = true\n\n[[webhooks]]\nurl = \"{endpoint}/hook\"\nsecret = \"{secret}\"\n"
        ),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let _server = data.serve(&["--config", config.to_str().unwrap_or_default()]);
    std::thread::sleep(Duration::from_millis(400));
    // NewsML-G2 carries the agency's correction signal.
    let version = |number: u64, pubstatus: &str, signal: Option<&str>| {
        let signal = signal
            .map(|signal| format!(r#"<signal qcode="sig:{signal}"/>"#))
            .unwrap_or_default();
        format!(
            r#"<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:w:hook" version="{number}" standard="NewsML-G2" standardversion="2.29">
  <itemMeta><itemClass qcode="ninat:text"/><versionCreated>2026-11-24T10:0{number}:00Z</versionCreated>
  <pubStatus qcode="stat:{pubstatus}"/>{signal}</itemMeta>
  <contentMeta><headline>Harbour fire, version {number}</headline></contentMeta>
  <contentSet><inlineXML contenttype="application/xhtml+xml"><html xmlns="http://www.w3.org/1999/xhtml"><body><p>Text {number}.</p></body></html></inlineXML></contentSet>
</newsItem>"#
        )
    };
    let ingest_xml = |name: &str, xml: String| data.ingest_as("wire", &format!("{name}.xml"), &xml);
    let received = |count: usize| {
        util::wait_for("webhook deliveries", Duration::from_secs(15), || {
            let log = log.lock().ok()?;
            let accepted: Vec<util::Request> = log.iter().skip(1).cloned().collect();
            (accepted.len() >= count).then_some(accepted)
        })
    };
    ingest_xml("v1", version(1, "usable", None));
    received(1);
    ingest_xml("v2", version(2, "usable", None));
    received(2);
    ingest_xml("v3", version(3, "usable", Some("correction")));
    received(3);
    ingest_xml("v4", version(4, "canceled", None));
    let accepted = received(4);

    let kinds: Vec<&str> = accepted
        .iter()
        .map(|request| request.header("x-verbatim-event").unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["publish", "update", "correction", "kill"]);
    for request in &accepted {
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
            panic!("HMAC takes any key");
        };
        mac.update(&request.body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(
            request.header("x-verbatim-signature"),
            Some(expected.as_str())
        );
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        assert_eq!(
            body["event"],
            request.header("x-verbatim-event").unwrap_or_default()
        );
        assert!(body["url"].as_str().unwrap_or_default().contains("/items/"));
    }
    let first: serde_json::Value = serde_json::from_slice(&accepted[0].body).unwrap_or_default();
    assert_eq!(first["headline"], "Harbour fire, version 1");
    // The refused first attempt was retried after a backoff, and the log says so.
    let log_output = data.run(&["webhooks", "--json"]);
    let deliveries: serde_json::Value =
        serde_json::from_str(&util::stdout(&log_output)).unwrap_or_default();
    let all = deliveries.as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), 4, "{deliveries}");
    assert!(
        all.iter().all(|delivery| delivery["state"] == "delivered"),
        "{deliveries}"
    );
    let publish = all.iter().find(|delivery| delivery["kind"] == "publish");
    assert_eq!(
        publish.map(|delivery| delivery["attempts"].clone()),
        Some(json!(2))
    );
    assert!(!util::stdout(&log_output).contains(secret));
}
