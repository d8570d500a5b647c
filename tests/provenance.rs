//! Provenance end to end: every published version carries a signed record; `verbatim verify`
//! passes an unmodified page (ours or a copy on another 127.0.0.1 port) and catches a changed
//! character, a dropped paragraph and a swapped headline; tampering with the stored record, the
//! stored text or the archive is caught by `verify` and `audit`; a headline override is disclosed
//! and still verifies; rotated keys keep old records verifiable.

mod util;

use std::io::{Read, Write};
use std::net::TcpListener;
use util::{DataDir, Server, fixture, stderr, stdout};

fn ingest_fixtures(data: &DataDir) {
    let output = data.run(&[
        "ingest",
        "--source",
        "fidelity",
        fixture("fidelity.rss").to_str().unwrap_or_default(),
        fixture("fidelity.atom").to_str().unwrap_or_default(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
}

fn ids(server: &Server) -> Vec<String> {
    let (_, list) = server.get_json("/api/v1/items?limit=100");
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Serves `html` at any path on a new 127.0.0.1 port: a copy of a page hosted elsewhere.
fn serve_copy(html: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("{error}"));
    let address = listener
        .local_addr()
        .map(|address| address.to_string())
        .unwrap_or_default();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
                html.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    format!("http://{address}/copied-story.html")
}

fn verify(data: &DataDir, target: &str) -> (i32, String) {
    let output = data.run(&["verify", "--allow-private-networks", target]);
    (
        output.status.code().unwrap_or(-1),
        format!("{}{}", stdout(&output), stderr(&output)),
    )
}

/// Changes the database directly, as an attacker with access to it would: `sqlite` on the
/// SQLite file, `postgres` when the suite runs on PostgreSQL (`VERBATIM_TEST_STORE`).
fn tamper_database(data: &DataDir, sqlite: &str, postgres: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    runtime.block_on(async {
        match &data.store {
            Some(url) => {
                let pool = sqlx::PgPool::connect(url)
                    .await
                    .unwrap_or_else(|error| panic!("{error}"));
                sqlx::query(postgres)
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|error| panic!("{postgres}: {error}"));
                pool.close().await;
            }
            None => {
                let url = format!("sqlite://{}", data.path().join("verbatim.db").display());
                let pool = sqlx::SqlitePool::connect(&url)
                    .await
                    .unwrap_or_else(|error| panic!("{error}"));
                sqlx::query(sqlite)
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|error| panic!("{sqlite}: {error}"));
                pool.close().await;
            }
        }
    });
}

/// Sets a field of the stored item JSON (both dialects).
fn set_item_field(data: &DataDir, story: &str, field: &str, value: &str) {
    tamper_database(
        data,
        &format!(
            "UPDATE versions SET item_json = json_set(item_json, '$.{field}', '{value}') \
             WHERE story_id = '{story}'"
        ),
        &format!(
            "UPDATE versions SET item_json = jsonb_set(item_json::jsonb, '{{{field}}}', '\"{value}\"')::text \
             WHERE story_id = '{story}'"
        ),
    );
}

#[test]
fn every_version_is_signed_and_verifies() {
    let data = DataDir::new();
    ingest_fixtures(&data);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let keys: Vec<_> = std::fs::read_dir(data.path().join("keys"))
            .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default();
        let secret = keys
            .iter()
            .find(|path| path.extension().is_some_and(|extension| extension == "key"))
            .unwrap_or_else(|| panic!("no private key in {keys:?}"));
        let mode = std::fs::metadata(secret)
            .map(|meta| meta.permissions().mode() & 0o777)
            .unwrap_or_default();
        assert_eq!(mode, 0o600, "the private key is readable by its owner only");
    }

    let server = data.serve(&[]);
    let (status, keys) = server.get_json("/.well-known/verbatim-keys.json");
    assert_eq!(status, 200);
    let key_id = keys["keys"][0]["key_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(keys["keys"][0]["algorithm"], "Ed25519");
    assert_eq!(keys["keys"][0]["current"], true);

    let ids = ids(&server);
    assert!(ids.len() >= 4, "{ids:?}");
    for id in &ids {
        let (_, item) = server.get_json(&format!("/api/v1/items/{id}"));
        let record = &item["provenance"]["record"];
        assert_eq!(record["format"], "verbatim-provenance/1");
        assert_eq!(record["key_id"], key_id.as_str());
        assert_eq!(record["story_id"], id.as_str());
        assert_eq!(record["raw_sha256"], item["raw"]);
        assert!(
            item["provenance"]["signature"]
                .as_str()
                .is_some_and(|s| s.len() > 80)
        );

        let (_, page) = server.get_text(&format!("/items/{id}"));
        assert!(page.contains(&format!(r#"<meta name="verbatim:item-id" content="{id}">"#)));
        assert!(page.contains(&format!("/items/{id}/provenance")));
        let (status, provenance) = server.get_text(&format!("/items/{id}/provenance"));
        assert_eq!(status, 200);
        assert!(
            provenance.contains("The signature is valid and the record matches"),
            "{provenance}"
        );

        let (code, said) = verify(&data, id);
        assert_eq!(code, 0, "{said}");
        assert!(said.starts_with("OK "), "{said}");
    }
    let output = data.run(&["audit"]);
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(
        stdout(&output).contains(&format!(
            "audited {} published stories: {} identical, 0 different",
            ids.len(),
            ids.len()
        )),
        "{}",
        stdout(&output)
    );
}

#[test]
fn verify_catches_an_altered_copy_of_a_page_and_passes_a_faithful_one() {
    let data = DataDir::new();
    ingest_fixtures(&data);
    let server = data.serve(&[]);
    // A story with at least two paragraphs.
    let (id, page) = ids(&server)
        .into_iter()
        .map(|id| {
            let (_, page) = server.get_text(&format!("/items/{id}"));
            (id, page)
        })
        .find(|(_, page)| page.matches("<p>").count() >= 2)
        .unwrap_or_else(|| panic!("no story with two paragraphs"));

    let (code, said) = verify(&data, &server.url(&format!("/items/{id}")));
    assert_eq!(code, 0, "our own page: {said}");
    let (code, said) = verify(&data, &serve_copy(page.clone()));
    assert_eq!(code, 0, "a faithful copy elsewhere: {said}");

    // One character changed in the text.
    let body_start = page.find("<div class=\"body\">").unwrap_or_default();
    let paragraph = page[body_start..]
        .find("<p>")
        .map(|at| body_start + at + 3)
        .unwrap_or_default();
    let mut one_char = page.clone();
    let changed: String = one_char[paragraph..]
        .chars()
        .next()
        .map(|ch| if ch == 'X' { "Y" } else { "X" }.to_string())
        .unwrap_or_default();
    let width = one_char[paragraph..]
        .chars()
        .next()
        .map_or(0, char::len_utf8);
    one_char.replace_range(paragraph..paragraph + width, &changed);
    let (code, said) = verify(&data, &serve_copy(one_char));
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("the page's text differs") && (said.contains("{+X") || said.contains("{+Y")),
        "{said}"
    );

    // A paragraph dropped.
    let first_end = page[paragraph..]
        .find("</p>")
        .map(|at| paragraph + at + 4)
        .unwrap_or_default();
    let mut dropped = page.clone();
    dropped.replace_range(paragraph - 3..first_end, "");
    let (code, said) = verify(&data, &serve_copy(dropped));
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("[-"),
        "the diff shows what is missing: {said}"
    );

    // The headline swapped for another.
    let headline_start = page.find("<h1 class=\"headline\">").unwrap_or_default() + 21;
    let headline_end = page[headline_start..]
        .find("</h1>")
        .map_or(headline_start, |at| headline_start + at);
    let mut swapped = page.clone();
    swapped.replace_range(
        headline_start..headline_end,
        "Something the agency never wrote",
    );
    let (code, said) = verify(&data, &serve_copy(swapped));
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("headline"), "{said}");

    // A page without any Verbatim id is bad input.
    let (code, _) = verify(
        &data,
        &serve_copy("<html><body><p>Hello</p></body></html>".into()),
    );
    assert_eq!(code, 2);
}

#[test]
fn tampering_with_the_record_the_text_or_the_archive_is_detected() {
    let data = DataDir::new();
    ingest_fixtures(&data);
    let server = data.serve(&[]);
    let ids = ids(&server);
    let (first, second, third) = (&ids[0], &ids[1], &ids[2]);
    drop(server);

    // The signed record edited in the database.
    let statement = format!(
        "UPDATE versions SET provenance = replace(provenance, '\"source\":\"fidelity\"', '\"source\":\"elsewhere\"') \
         WHERE story_id = '{first}'"
    );
    tamper_database(&data, &statement, &statement);
    let (code, said) = verify(&data, first);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("signature"), "{said}");

    // The published text edited in the database (record untouched).
    set_item_field(&data, second, "body_text", "Rewritten by someone.");
    let (code, said) = verify(&data, second);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("the stored text differs from the signed record"),
        "{said}"
    );

    // A byte of the archived payload changed.
    let (_, raw) = {
        let server = data.serve(&[]);
        server.get_json(&format!("/api/v1/items/{third}"))
    };
    let sha = raw["raw"].as_str().unwrap_or_default().to_string();
    if data.is_postgres() {
        // The archive is the database's `raw_blobs`.
        tamper_database(
            &data,
            "",
            &format!(
                "UPDATE raw_blobs SET bytes = set_byte(bytes, length(bytes) - 2, \
                 get_byte(bytes, length(bytes) - 2) # 32) WHERE sha256 = '{sha}'"
            ),
        );
    } else {
        let path = data.path().join("raw").join(&sha[..2]).join(&sha);
        let mut bytes =
            std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let last = bytes.len() - 2;
        bytes[last] ^= 0x20;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644));
        }
        std::fs::write(&path, bytes).unwrap_or_else(|error| panic!("{error}"));
    }
    let (code, said) = verify(&data, third);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("was altered"), "{said}");

    let output = data.run(&["audit", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let summary: serde_json::Value =
        serde_json::from_str(stdout(&output).trim()).unwrap_or_else(|error| panic!("{error}"));
    assert!(
        summary["failed"].as_u64().unwrap_or_default() >= 3,
        "{summary}"
    );
}

#[test]
fn a_headline_override_is_disclosed_signed_and_still_verifies() {
    let data = DataDir::new();
    ingest_fixtures(&data);
    let ids = {
        let server = data.serve(&[]);
        ids(&server)
    };
    let id = &ids[0];
    let output = data.run(&[
        "headline",
        "set",
        id,
        "A clearer headline",
        "--by",
        "night desk",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));

    let server = data.serve(&[]);
    let (_, page) = server.get_text(&format!("/items/{id}"));
    assert!(
        page.contains("<h1 class=\"headline\">A clearer headline</h1>"),
        "{page}"
    );
    assert!(
        page.contains("The agency's headline:"),
        "the change is disclosed: {page}"
    );
    let (_, item) = server.get_json(&format!("/api/v1/items/{id}"));
    assert_eq!(item["headline"], "A clearer headline");
    assert_eq!(item["headline_override"]["set_by"], "night desk");
    assert_eq!(
        item["provenance"]["record"]["headline_override"]["by"],
        "night desk"
    );
    let (_, provenance) = server.get_text(&format!("/items/{id}/provenance"));
    assert!(
        provenance.contains("The signature is valid"),
        "{provenance}"
    );
    assert!(provenance.contains("Headline changed by the site"));

    let (code, said) = verify(&data, &server.url(&format!("/items/{id}")));
    assert_eq!(code, 0, "a disclosed override verifies: {said}");
    // Dropping the disclosure makes the page's headline unaccounted for.
    let hidden = page
        .replace("The agency's headline:", "")
        .replace("agency-headline", "x");
    let (code, said) = verify(&data, &serve_copy(hidden));
    assert_eq!(code, 1, "{said}");

    let output = data.run(&["headline", "clear", id]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (_, page) = server.get_text(&format!("/items/{id}"));
    assert!(!page.contains("A clearer headline"));
}

#[test]
fn a_rotated_key_keeps_old_records_verifiable() {
    let data = DataDir::new();
    ingest_fixtures(&data);
    let output = data.run(&["key", "rotate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), 2, "{}", stdout(&output));
    let server = data.serve(&[]);
    let (_, keys) = server.get_json("/.well-known/verbatim-keys.json");
    assert_eq!(keys["keys"].as_array().map(Vec::len), Some(2));
    for id in ids(&server) {
        let (code, said) = verify(&data, &id);
        assert_eq!(code, 0, "{said}");
    }
}

#[test]
fn serve_audits_on_a_schedule_and_reports_failures_in_metrics() {
    let data = DataDir::new();
    ingest_fixtures(&data);
    let first = {
        let server = data.serve(&[]);
        ids(&server)[0].clone()
    };
    set_item_field(&data, &first, "headline", "Invented");
    let config = data.path().join("verbatim.toml");
    std::fs::write(&config, "[audit]\nevery = \"300ms\"\n")
        .unwrap_or_else(|error| panic!("{error}"));
    let server = data.serve(&["--config", config.to_str().unwrap_or_default()]);
    let failed = util::wait_for(
        "a scheduled audit",
        std::time::Duration::from_secs(20),
        || {
            let (_, metrics) = server.get_text("/metrics");
            metrics
                .lines()
                .find_map(|line| line.strip_prefix("verbatim_audit_failed "))
                .map(str::to_string)
        },
    );
    assert_eq!(failed, "1");
}
