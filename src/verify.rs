//! `verbatim verify` and `verbatim audit`: check what is published against its signed provenance
//! record and against the archived payload it came from, re-read with the current code. A page
//! fetched from anywhere (ours, or a copy elsewhere) is checked the same way, by its item id.

use crate::pipeline::{Pipeline, Received, prepare};
use anyhow::Result;
use scraper::{Html, Selector};
use verbatim_provenance::{ProvenanceRecord, Signed, sha256_text};
use verbatim_store::{StoryRecord, VersionRecord};

/// What a check found wrong with one story.
#[derive(Debug, Default)]
pub struct Findings {
    pub problems: Vec<String>,
    /// Word-level differences (`[-removed-]{+added+}`) behind the problems, when there is text.
    pub diffs: Vec<String>,
}

impl Findings {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }
}

/// The words removed and added between two texts, `[-like this-]{+and this+}`.
pub fn word_diff(expected: &str, actual: &str) -> String {
    use similar::{ChangeTag, TextDiff};
    let diff = TextDiff::configure()
        .timeout(std::time::Duration::from_millis(500))
        .diff_words(expected, actual);
    let mut out = String::new();
    let mut last: Option<ChangeTag> = None;
    let close = |out: &mut String, tag: Option<ChangeTag>| match tag {
        Some(ChangeTag::Delete) => out.push_str("-]"),
        Some(ChangeTag::Insert) => out.push_str("+}"),
        _ => {}
    };
    for change in diff.iter_all_changes() {
        if last != Some(change.tag()) {
            close(&mut out, last);
            match change.tag() {
                ChangeTag::Delete => out.push_str("[-"),
                ChangeTag::Insert => out.push_str("{+"),
                ChangeTag::Equal => {}
            }
            last = Some(change.tag());
        }
        out.push_str(change.value());
    }
    close(&mut out, last);
    out
}

/// The signed record of a version, if it has one.
pub fn signed_record(version: &VersionRecord) -> Option<Signed> {
    let record: ProvenanceRecord = serde_json::from_str(version.provenance.as_deref()?).ok()?;
    Some(Signed {
        record,
        signature: version.signature.clone()?,
    })
}

/// Checks the current version of a published story: the signature, the record against the
/// stored text, the archive file against its hash, and the archived payload re-read now.
pub async fn check_story(pipeline: &Pipeline, story: &StoryRecord) -> Result<Findings> {
    let mut findings = Findings::default();
    let Some(version) = story.current.as_ref() else {
        findings.problem(format!("story {} has nothing published", story.id));
        return Ok(findings);
    };
    let item = &version.item;
    let Some(signed) = signed_record(version) else {
        findings.problem(format!(
            "version {} has no provenance record (stored before records were signed, or removed)",
            version.seq
        ));
        return Ok(findings);
    };
    if let Err(error) = signed.verify(pipeline.keys.public_keys()) {
        findings.problem(format!("signature: {error}"));
    }
    let record = &signed.record;
    let stored_text_hash = item.text_hash.clone().unwrap_or_default();
    for (what, recorded, actual) in [
        ("story id", record.story_id.as_str(), story.id.as_str()),
        ("guid", record.guid.as_str(), item.guid.as_str()),
        (
            "text hash",
            record.text_hash.as_str(),
            stored_text_hash.as_str(),
        ),
        (
            "raw payload",
            record.raw_sha256.as_str(),
            item.raw.as_deref().unwrap_or_default(),
        ),
    ] {
        if recorded != actual {
            findings.problem(format!(
                "the stored {what} ({actual}) differs from the signed record's ({recorded})"
            ));
        }
    }
    if sha256_text(&item.headline) != record.headline_sha256 {
        findings.problem("the stored headline differs from the signed record");
    }
    if sha256_text(&item.body_text) != record.body_text_sha256 {
        findings.problem("the stored text differs from the signed record");
    }

    // The archive: the file must still hash to its name, and re-reading it must give the text.
    let bytes = match pipeline.archive.get(&record.raw_sha256).await {
        Ok(bytes) => bytes,
        Err(error) => {
            findings.problem(format!(
                "the archived payload {} cannot be read: {error}",
                record.raw_sha256
            ));
            return Ok(findings);
        }
    };
    if verbatim_item::sha256_hex(&bytes) != record.raw_sha256 {
        findings.problem(format!(
            "the archived payload {} was altered: its bytes no longer match its hash",
            record.raw_sha256
        ));
        return Ok(findings);
    }
    let raw = pipeline.store.raw(&record.raw_sha256).await?;
    let received = Received {
        source: record.source.clone(),
        // The origin as received (the record's may have credentials redacted): relative links
        // resolve against it exactly as they did.
        origin: raw
            .as_ref()
            .map_or_else(|| record.origin.clone(), |raw| raw.origin.clone()),
        bytes,
        content_type: raw.as_ref().and_then(|raw| raw.content_type.clone()),
        http_status: record.http_status,
        etag: record.etag.clone(),
        last_modified: record.last_modified.clone(),
        received_at: item.received_at.unwrap_or(version.received_at),
    };
    let limits = pipeline.limits;
    let keys = pipeline.keys.clone();
    let sha = record.raw_sha256.clone();
    let rederived = tokio::task::spawn_blocking(move || {
        prepare(&received, &sha, &limits, &keys, chrono::Utc::now())
    })
    .await?;
    let candidates: Vec<verbatim_item::Item> = match rederived {
        Ok(prepared) => prepared
            .versions
            .into_iter()
            .map(|gated| gated.version.item)
            .filter(|candidate| candidate.guid == item.guid)
            .collect(),
        Err(error) => {
            findings.problem(format!(
                "the archived payload no longer parses with this version of Verbatim: {error}"
            ));
            return Ok(findings);
        }
    };
    if candidates.iter().any(|candidate| {
        candidate.text_hash == item.text_hash
            && candidate.headline == item.headline
            && candidate.body_text == item.body_text
    }) {
        return Ok(findings);
    }
    match candidates.first() {
        None => findings.problem(format!(
            "the archived payload holds no item {} any more",
            item.guid
        )),
        Some(candidate) => {
            findings.problem(
                "the text re-read from the archived payload differs from what is published",
            );
            if candidate.headline != item.headline {
                findings.diffs.push(format!(
                    "headline: {}",
                    word_diff(&candidate.headline, &item.headline)
                ));
            }
            if candidate.body_text != item.body_text {
                findings.diffs.push(format!(
                    "text: {}",
                    word_diff(&candidate.body_text, &item.body_text)
                ));
            }
        }
    }
    Ok(findings)
}

/// What a page shows, as `verbatim verify URL` reads it.
#[derive(Debug, Default)]
pub struct PageText {
    pub item_id: Option<String>,
    pub headline: String,
    /// The agency's headline, when the page discloses an operator's headline.
    pub agency_headline: Option<String>,
    pub body_text: String,
}

/// Reads the item id (meta tag, else the canonical link), the headline and the article's
/// visible text from a Verbatim article page or a copy of one.
pub fn read_page(html: &str) -> PageText {
    let document = Html::parse_document(html);
    let select = |css: &str| Selector::parse(css).ok();
    let first = |css: &str| {
        select(css).and_then(|selector| document.select(&selector).next().map(|found| found.html()))
    };
    let attribute = |css: &str, name: &str| {
        select(css).and_then(|selector| {
            document
                .select(&selector)
                .next()
                .and_then(|found| found.value().attr(name).map(str::to_string))
        })
    };
    let item_id = attribute("meta[name=\"verbatim:item-id\"]", "content").or_else(|| {
        attribute("link[rel=\"canonical\"]", "href").and_then(|href| {
            href.split("/items/")
                .nth(1)
                .map(|rest| rest.trim_end_matches('/').to_string())
        })
    });
    let text_of = |css: &str| {
        first(css)
            .map(|html| verbatim_normalize::fold_line(&verbatim_normalize::visible_text(&html)))
            .unwrap_or_default()
    };
    let body_html = select("article .body")
        .and_then(|selector| {
            document
                .select(&selector)
                .next()
                .map(|found| found.inner_html())
        })
        .unwrap_or_default();
    PageText {
        item_id,
        headline: text_of("article h1.headline"),
        agency_headline: first("article .agency-headline")
            .map(|html| verbatim_normalize::fold_line(&verbatim_normalize::visible_text(&html))),
        body_text: verbatim_normalize::visible_text(&body_html),
    }
}

/// Compares a page with the story's signed record and stored text.
pub fn check_page(page: &PageText, story: &StoryRecord, findings: &mut Findings) {
    let Some(version) = story.current.as_ref() else {
        findings.problem(format!("story {} is not published here", story.id));
        return;
    };
    let item = &version.item;
    let record = signed_record(version).map(|signed| signed.record);
    let expected_body_hash = record.as_ref().map_or_else(
        || sha256_text(&item.body_text),
        |record| record.body_text_sha256.clone(),
    );
    if sha256_text(&page.body_text) != expected_body_hash {
        findings.problem("the page's text differs from the agency's");
        findings.diffs.push(format!(
            "text: {}",
            word_diff(&item.body_text, &page.body_text)
        ));
    }
    // The headline a page may show: the agency's, or the disclosed operator headline.
    let shown_override = record
        .as_ref()
        .and_then(|record| record.headline_override.as_ref())
        .map(|change| change.headline.clone())
        .or_else(|| {
            story
                .headline_override
                .as_ref()
                .map(|change| change.headline.clone())
        });
    let agency_headline_ok = sha256_text(&page.headline)
        == record.as_ref().map_or_else(
            || sha256_text(&item.headline),
            |record| record.headline_sha256.clone(),
        );
    let override_ok = shown_override.as_deref() == Some(page.headline.as_str())
        && page.agency_headline.as_deref() == Some(item.headline.as_str());
    if !agency_headline_ok && !override_ok {
        findings.problem("the page's headline is neither the agency's nor a disclosed change");
        findings.diffs.push(format!(
            "headline: {}",
            word_diff(&item.headline, &page.headline)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_diffs_mark_removed_and_added_words() {
        assert_eq!(
            word_diff("Three people were hurt.", "Four people were hurt."),
            "[-Three-]{+Four+} people were hurt."
        );
        assert_eq!(word_diff("same", "same"), "same");
    }

    #[test]
    fn a_page_is_read_by_its_meta_tags_and_article() {
        let page = read_page(
            r#"<html><head><meta name="verbatim:item-id" content="abc123"></head><body>
               <article><header><h1 class="headline">Quake  hits</h1></header>
               <div class="body"><p>One.</p><p>Two.</p></div></article></body></html>"#,
        );
        assert_eq!(page.item_id.as_deref(), Some("abc123"));
        assert_eq!(page.headline, "Quake hits");
        assert_eq!(page.body_text, "One.\n\nTwo.");
        let copied = read_page(
            r#"<html><head><link rel="canonical" href="https://news.test/items/def456"></head>
               <body><article><h1 class="headline">X</h1><div class="body">Y</div></article></body></html>"#,
        );
        assert_eq!(copied.item_id.as_deref(), Some("def456"));
    }
}
