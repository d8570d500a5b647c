//! A peer's suite: Python feedparser's test data (`../shared/peer-tests/feedparser/tests`), read by
//! Verbatim. Each file carries a Python `Expect:` expression over feedparser's result; this
//! harness builds the same shape of result from Verbatim's items (for the fields Verbatim has),
//! evaluates the expression, and prints passed / failed / not applicable per folder. It fails
//! when the pass rate falls below the floor recorded in `feedparser_peer.floor`.
//!
//! How Verbatim's answers are compared (the rest is Python's `==`):
//! - headlines, authors and feed titles are visible text: equal to feedparser's value, or to the
//!   visible text of feedparser's value when feedparser answers with markup;
//! - bodies and summaries are sanitized HTML: equal to feedparser's value after that value goes
//!   through Verbatim's own sanitizer (Verbatim keeps no `style` or presentation attributes, by
//!   policy, so those are compared as Verbatim would publish them);
//! - `encoding` is equal when both labels name the same decoder (WHATWG Encoding Standard);
//! - dates are compared as feedparser's UTC `struct_time` tuples.

#[path = "feedparser_peer/python.rs"]
mod python;

use python::{Dict, Outcome, StrKind, Value};
use std::collections::BTreeMap;
use std::path::Path;
use verbatim_item::Item;

#[path = "shared_data/mod.rs"]
mod shared_data;

/// One fixture's verdict.
#[derive(Debug)]
enum Verdict {
    Passed,
    Failed(String),
    NotApplicable(String),
}

#[test]
fn feedparser_peer_suite() {
    let Some(root) = shared_data::shared("peer-tests/feedparser/tests") else {
        return;
    };
    let floor: f64 = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/feedparser_peer.floor"),
    )
    .ok()
    .and_then(|text| text.trim().parse().ok())
    .unwrap_or(1.0);

    let mut files = shared_data::files_with_extension(&root, "xml");
    files.extend(shared_data::files_with_extension(&root, "json"));
    let mut per_folder: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for file in &files {
        let folder = file
            .parent()
            .and_then(|parent| parent.strip_prefix(&root).ok())
            .map(|folder| folder.display().to_string())
            .unwrap_or_default();
        let counts = per_folder.entry(folder).or_default();
        match run_case(&root, file) {
            Verdict::Passed => counts[0] += 1,
            Verdict::Failed(detail) => {
                counts[1] += 1;
                failures.push(format!(
                    "{}: {detail}",
                    file.strip_prefix(&root).unwrap_or(file).display()
                ));
            }
            Verdict::NotApplicable(reason) => {
                counts[2] += 1;
                *reasons.entry(reason).or_default() += 1;
            }
        }
    }

    let mut totals = [0usize; 3];
    println!(
        "{:<28} {:>7} {:>7} {:>7}",
        "folder", "passed", "failed", "n/a"
    );
    for (folder, counts) in &per_folder {
        println!(
            "{folder:<28} {:>7} {:>7} {:>7}",
            counts[0], counts[1], counts[2]
        );
        for (total, count) in totals.iter_mut().zip(counts) {
            *total += count;
        }
    }
    let applicable = totals[0] + totals[1];
    let rate = totals[0] as f64 / applicable.max(1) as f64;
    println!(
        "{:<28} {:>7} {:>7} {:>7}",
        "total", totals[0], totals[1], totals[2]
    );
    println!(
        "pass rate {:.2}% of {applicable} applicable cases (floor {:.2}%)",
        rate * 100.0,
        floor * 100.0
    );
    println!("\nnot applicable, by reason:");
    let mut reasons: Vec<_> = reasons.into_iter().collect();
    reasons.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    for (reason, count) in reasons {
        println!("{count:>6}  {reason}");
    }
    println!("\nfailed:");
    for failure in &failures {
        println!("  {failure}");
    }
    assert!(
        rate >= floor,
        "the feedparser pass rate fell to {:.2}%, below the recorded floor {:.2}%",
        rate * 100.0,
        floor * 100.0
    );
}

/// The `Expect:` expression and the HTTP headers a fixture declares in its leading comment.
struct Expectation {
    expression: String,
    content_type: Option<String>,
    content_location: Option<String>,
    skip_unless: Option<String>,
}

fn run_case(root: &Path, file: &Path) -> Verdict {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => return Verdict::Failed(format!("cannot read: {error}")),
    };
    let Some(expectation) = expectation_of(&bytes) else {
        return Verdict::NotApplicable("the file has no Expect: line".into());
    };
    if let Some(reason) = skip_reason(&expectation) {
        return Verdict::NotApplicable(reason);
    }

    // Upstream serves every file whose path mentions "http" over HTTP, as text/xml by default.
    let over_http = file
        .strip_prefix(root)
        .is_ok_and(|relative| relative.to_string_lossy().contains("http"));
    let content_type = expectation
        .content_type
        .clone()
        .or_else(|| over_http.then(|| "text/xml".to_string()));
    // Over HTTP the document's URL (or its Content-Location) is its base, as Verbatim's fetcher
    // reports it; upstream serves the files at http://127.0.0.1:8097/<path>.
    let origin = match over_http {
        true => {
            let relative = file.strip_prefix(root).unwrap_or(file).to_string_lossy();
            let document = format!("http://127.0.0.1:8097/tests/{relative}");
            match (&expectation.content_location, url::Url::parse(&document)) {
                (Some(location), Ok(document)) => document
                    .join(location)
                    .map(String::from)
                    .unwrap_or_else(|_| document.to_string()),
                _ => document,
            }
        }
        false => file.display().to_string(),
    };
    let parsed = verbatim_parse::parse(
        verbatim_parse::Input {
            bytes: &bytes,
            content_type: content_type.as_deref(),
            origin: &origin,
        },
        &verbatim_parse::Limits::default(),
    );
    if let Err(error) = &parsed
        && error.to_string().contains("root element <CHANNEL>")
    {
        return Verdict::NotApplicable(
            "CDF (Microsoft's 1997 Channel Definition Format) is not a format Verbatim reads"
                .into(),
        );
    }
    let names = result_view(&parsed);
    let sanitize = |html: &str| verbatim_normalize::sanitize_html(html);
    let visible = |html: &str| verbatim_normalize::visible_text(html);
    // In the Encoding Standard GBK and gb18030 share one decoder.
    let decoder = |name: &str| match name.to_ascii_lowercase().as_str() {
        "gbk" => "gb18030".to_string(),
        other => other.to_string(),
    };
    let same_encoding = |ours: &str, label: &str| {
        encoding_rs::Encoding::for_label(label.trim().as_bytes())
            .is_some_and(|encoding| decoder(encoding.name()) == decoder(ours))
            || ours.eq_ignore_ascii_case(label.trim())
    };
    let equivalence = python::Equivalence {
        sanitize: &sanitize,
        visible_text: &visible,
        same_encoding: &same_encoding,
    };
    let rfc3023_default = expectation.expression.contains("encoding == 'us-ascii'")
        && !content_type
            .as_deref()
            .is_some_and(|content_type| content_type.contains("charset"));
    match python::evaluate(&expectation.expression, &names, &equivalence) {
        Ok(true) => Verdict::Passed,
        Ok(false) if rfc3023_default => Verdict::NotApplicable(
            "expects RFC 3023's us-ascii default for text/xml; Verbatim follows RFC 7303, which \
             replaced it (the XML declaration, else UTF-8)"
                .into(),
        ),
        Ok(false) => Verdict::Failed(format!(
            "{}  -- Verbatim: {}",
            expectation.expression,
            summary_of(&parsed)
        )),
        Err(Outcome::Raised(error)) => Verdict::Failed(format!(
            "{} raised {error} -- Verbatim: {}",
            expectation.expression,
            summary_of(&parsed)
        )),
        Err(Outcome::NotApplicable(reason)) => Verdict::NotApplicable(reason),
        Err(Outcome::Unsupported(what)) => {
            Verdict::NotApplicable(format!("the expression uses {what}"))
        }
    }
}

/// Why a case cannot be run here, from its `SkipUnless:` line.
fn skip_reason(expectation: &Expectation) -> Option<String> {
    let condition = expectation.skip_unless.as_deref()?;
    if condition.contains("chardet") {
        return Some(
            "needs chardet: Verbatim never guesses an undeclared encoding, it holds the item"
                .into(),
        );
    }
    if let Some(start) = condition.find("lookup('") {
        let label = &condition[start + 8..];
        let label = label.split('\'').next().unwrap_or_default();
        let known = encoding_rs::Encoding::for_label(label.as_bytes()).is_some()
            || label.to_ascii_lowercase().starts_with("utf-32");
        return (!known).then(|| format!("encoding {label} is not one Verbatim reads"));
    }
    if condition.contains("ACCEPTABLE_URI_SCHEMES") {
        return Some("tests feedparser's URI scheme setting".into());
    }
    None // Python version checks hold.
}

fn expectation_of(bytes: &[u8]) -> Option<Expectation> {
    let text = decode_for_reading(bytes);
    let expect_at = text.find("Expect:")?;
    let comment_start = text[..expect_at].rfind("<!--").unwrap_or(0);
    let after = &text[expect_at + "Expect:".len()..];
    let expression = after[..after.find("-->")?].trim().to_string();
    let comment = &text[comment_start..expect_at];
    let mut content_type = None;
    let mut content_location = None;
    let mut skip_unless = None;
    for line in comment.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix("Header:") {
            if let Some((name, value)) = header.trim().split_once(':') {
                let value = Some(value.trim().to_string());
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-type" => content_type = value,
                    "content-location" => content_location = value,
                    _ => {}
                }
            }
        } else if let Some(condition) = line.strip_prefix("SkipUnless:") {
            skip_unless = Some(condition.trim().to_string());
        }
    }
    Some(Expectation {
        expression,
        content_type,
        content_location,
        skip_unless,
    })
}

/// Enough decoding to find the comment: UTF-32 and UTF-16 by BOM or by `<?xml` pattern, else
/// UTF-8 with errors replaced (upstream does the same).
fn decode_for_reading(bytes: &[u8]) -> String {
    let utf32 = |big_endian: bool, body: &[u8]| -> String {
        body.chunks_exact(4)
            .filter_map(|unit| {
                let unit = [unit[0], unit[1], unit[2], unit[3]];
                let code = if big_endian {
                    u32::from_be_bytes(unit)
                } else {
                    u32::from_le_bytes(unit)
                };
                char::from_u32(code)
            })
            .collect()
    };
    match bytes {
        [0, 0, 0xFE, 0xFF, ..] | [0, 0, 0, b'<', ..] => utf32(true, bytes),
        [0xFF, 0xFE, 0, 0, ..] | [b'<', 0, 0, 0, ..] => utf32(false, bytes),
        [0xFE, 0xFF, ..] | [0, b'<', ..] => encoding_rs::UTF_16BE.decode(bytes).0.into_owned(),
        [0xFF, 0xFE, ..] | [b'<', 0, ..] => encoding_rs::UTF_16LE.decode(bytes).0.into_owned(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// feedparser's result, as far as Verbatim has the fields: `bozo`, `encoding`, `feed`, `entries`.
fn result_view(
    parsed: &Result<verbatim_parse::Parsed, verbatim_parse::ParseError>,
) -> BTreeMap<&'static str, Value> {
    let mut names = BTreeMap::new();
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(_) => {
            names.insert("bozo", Value::Bool(true));
            names.insert("entries", Value::List(Vec::new()));
            names.insert("feed", Value::Dict(feed_view(&Default::default())));
            return names;
        }
    };
    let bozo = !parsed.errors.is_empty() || parsed.drafts.iter().any(|d| !d.holds.is_empty());
    names.insert("bozo", Value::Bool(bozo));
    names.insert(
        "encoding",
        Value::Str(parsed.encoding.to_ascii_lowercase(), StrKind::Encoding),
    );
    names.insert("feed", Value::Dict(feed_view(&parsed.feed)));
    let entries = parsed
        .drafts
        .iter()
        .map(|draft| {
            let body_is_text = matches!(draft.body, verbatim_item::SourceBody::Text(_));
            let item = verbatim_normalize::normalize(draft.clone()).item;
            Value::Dict(entry_view(&item, body_is_text))
        })
        .collect();
    names.insert("entries", Value::List(entries));
    names
}

const FEED_ALIASES: &[(&str, &str)] = &[
    ("tagline", "subtitle"),
    ("tagline_detail", "subtitle_detail"),
    ("description", "subtitle"),
    ("description_detail", "subtitle_detail"),
    ("copyright", "rights"),
    ("copyright_detail", "rights_detail"),
];

const ENTRY_ALIASES: &[(&str, &str)] = &[
    ("description", "summary"),
    ("description_detail", "summary_detail"),
    ("guid", "id"),
    ("date_parsed", "updated_parsed"),
    ("modified_parsed", "updated_parsed"),
    ("issued_parsed", "published_parsed"),
];

fn dict(
    aliases: &'static [(&'static str, &'static str)],
    modelled: &[&'static str],
    entries: Vec<(&str, Option<Value>)>,
) -> Dict {
    Dict {
        modelled: modelled.to_vec(),
        entries: entries
            .into_iter()
            .filter_map(|(key, value)| Some((key.to_string(), value?)))
            .collect(),
        aliases,
    }
}

/// A `*_detail` dictionary: the value, with the other members (type, base, language) unmodelled.
fn detail(value: Option<Value>) -> Option<Value> {
    value.map(|value| Value::Dict(dict(&[], &["value"], vec![("value", Some(value))])))
}

fn text(value: &Option<String>, kind: StrKind) -> Option<Value> {
    value.clone().map(|text| Value::Str(text, kind))
}

fn feed_view(feed: &verbatim_parse::FeedMeta) -> Dict {
    // What Verbatim would show: the visible text of a title, sanitized markup for the others.
    let shown = |text: &Option<verbatim_parse::FeedText>, as_title: bool| {
        text.as_ref().map(|text| match (text.is_html, as_title) {
            (true, true) => Value::Str(
                verbatim_normalize::visible_text(&text.value),
                StrKind::VisibleText,
            ),
            (true, false) => Value::Str(
                verbatim_normalize::sanitize_html_with_base(&text.value, feed.base_url.as_deref()),
                StrKind::Html,
            ),
            (false, _) => Value::Str(text.value.clone(), StrKind::VisibleText),
        })
    };
    let title = shown(&feed.title, true);
    let subtitle = shown(&feed.subtitle, false);
    let rights = shown(&feed.rights, false);
    dict(
        FEED_ALIASES,
        &[
            "title",
            "title_detail",
            "subtitle",
            "subtitle_detail",
            "link",
            "language",
            "rights",
            "rights_detail",
        ],
        vec![
            ("title_detail", detail(title.clone())),
            ("title", title),
            ("subtitle_detail", detail(subtitle.clone())),
            ("subtitle", subtitle),
            ("rights_detail", detail(rights.clone())),
            ("rights", rights),
            ("link", text(&feed.link, StrKind::Exact)),
            ("language", text(&feed.language, StrKind::Exact)),
        ],
    )
}

fn entry_view(item: &Item, body_is_text: bool) -> Dict {
    let non_empty = |text: &str, kind| (!text.is_empty()).then(|| Value::Str(text.into(), kind));
    // Verbatim does not record whether an empty title or body was there and empty, or missing.
    let title = Some(Value::Str(item.headline.clone(), StrKind::VisibleText));
    // A plain-text body is compared as the text (feedparser gives it unescaped).
    let body = Some(match body_is_text {
        true => Value::Str(item.body_text.clone(), StrKind::VisibleText),
        false => Value::Str(item.body_html.clone(), StrKind::Html),
    });
    let content = body.clone().map(|body| {
        Value::List(vec![Value::Dict(dict(
            &[],
            &["value"],
            vec![("value", Some(body))],
        ))])
    });
    dict(
        ENTRY_ALIASES,
        &[
            "title",
            "title_detail",
            "link",
            "id",
            "author",
            "summary",
            "summary_detail",
            "content",
            "published_parsed",
            "updated_parsed",
        ],
        vec![
            ("title_detail", detail(title.clone())),
            ("title", title),
            ("link", text(&item.link, StrKind::Exact)),
            ("id", non_empty(&item.guid, StrKind::Exact)),
            ("author", text(&item.byline, StrKind::VisibleText)),
            // Verbatim keeps one body: the full content, else the summary.
            ("summary_detail", detail(body.clone())),
            ("summary", body),
            ("content", content),
            (
                "published_parsed",
                item.firstcreated.or(item.versioncreated).map(struct_time),
            ),
            ("updated_parsed", item.versioncreated.map(struct_time)),
        ],
    )
}

/// Python's `time.struct_time` for a UTC instant.
fn struct_time(at: chrono::DateTime<chrono::Utc>) -> Value {
    use chrono::{Datelike, Timelike};
    Value::Tuple(
        [
            i64::from(at.year()),
            i64::from(at.month()),
            i64::from(at.day()),
            i64::from(at.hour()),
            i64::from(at.minute()),
            i64::from(at.second()),
            i64::from(at.weekday().num_days_from_monday()),
            i64::from(at.ordinal()),
            0,
        ]
        .into_iter()
        .map(Value::Int)
        .collect(),
    )
}

/// What Verbatim read, in one line, for failure messages.
fn summary_of(parsed: &Result<verbatim_parse::Parsed, verbatim_parse::ParseError>) -> String {
    match parsed {
        Err(error) => format!("error {error}"),
        Ok(parsed) => {
            let mut line = format!(
                "{} {} feed={:?}",
                parsed.format.name(),
                parsed.encoding,
                parsed.feed.title
            );
            if let Some(error) = parsed.errors.first() {
                line.push_str(&format!(" error={error}"));
            }
            if let Some(draft) = parsed.drafts.first() {
                let item = verbatim_normalize::normalize(draft.clone()).item;
                line.push_str(&format!(
                    " title={:?} body={:?} link={:?} holds={:?}",
                    item.headline,
                    item.body_html.chars().take(120).collect::<String>(),
                    item.link,
                    draft.holds
                ));
            }
            line
        }
    }
}
