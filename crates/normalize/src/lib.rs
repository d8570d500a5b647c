//! normalize: turns a parsed draft into the canonical item — safe markup (`body_html`), the text a
//! reader sees (`body_text`), the text hash — and checks the fidelity rule: the sanitized body
//! must show exactly the visible text the agency sent. Pure: no IO, no clock.

/// This crate's version, named in provenance records.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

mod one_pass;
mod sanitize;
mod visible;

pub use sanitize::{escape_into, sanitize_html, sanitize_html_with_base, text_to_html};
pub use visible::{fold_line, is_collapsible_space, parse_fragment, visible_text};

use sha2::{Digest, Sha256};
use verbatim_item::{Draft, Item, SourceBody};

/// The version of the normalizer, recorded with every item so a stored result can be traced to
/// the rules that made it.
pub const NORMALIZER_VERSION: &str = concat!("verbatim-normalize/", env!("CARGO_PKG_VERSION"));

/// A normalized item and what the fidelity check found.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub item: Item,
    /// Reasons not to publish, found by normalize or carried from parse.
    pub holds: Vec<String>,
}

/// Normalizes one draft. Never fails: a problem becomes a hold reason on the result.
pub fn normalize(draft: Draft) -> Normalized {
    normalize_with(draft, sanitize_body)
}

/// [`normalize`] with every body parsed three times, never the one-scan path: the same result,
/// slower. For benchmarks that show what the one-scan path saves, in the same run.
pub fn normalize_by_parsing(draft: Draft) -> Normalized {
    normalize_with(draft, sanitize_body_by_parsing)
}

fn normalize_with(
    draft: Draft,
    sanitize: impl FnOnce(&str, Option<&str>) -> SanitizedBody,
) -> Normalized {
    let Draft {
        mut item,
        body,
        headline_is_html,
        mut holds,
        base_url,
    } = draft;

    item.headline = if headline_is_html {
        // The one-scan text is the parsed text whenever it accepts the markup (tested).
        let text = one_pass::sanitize_and_read(&item.headline, false)
            .map_or_else(|| visible_text(&item.headline), |done| done.text);
        fold_line(&text)
    } else {
        fold_line(&item.headline)
    };
    for field in [&mut item.subheadline, &mut item.byline, &mut item.located] {
        if let Some(value) = field {
            let folded = fold_line(value);
            *field = (!folded.is_empty()).then_some(folded);
        }
    }

    let source_html = match body {
        SourceBody::Html(html) => html,
        SourceBody::Text(text) => text_to_html(&text),
    };
    let body = sanitize(&source_html, base_url.as_deref());
    if let Some(difference) = body.fidelity_failure {
        holds.push(difference);
    }
    item.body_html = body.html;
    item.body_text = body.source_text;
    item.text_hash = Some(text_hash(&item.headline, &item.body_text));

    if item.headline.is_empty() && item.body_text.is_empty() {
        holds.push("the item has neither a headline nor a body".to_string());
    }
    Normalized { item, holds }
}

/// A body after sanitizing: the markup to publish, the visible text of the agency's markup, and
/// how the two differ when the published markup would not show exactly that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanitizedBody {
    pub html: String,
    pub source_text: String,
    pub fidelity_failure: Option<String>,
}

/// Sanitizes a body and checks the fidelity rule on it. Markup in the plain shape most agency
/// bodies take goes through one scan (`one_pass.rs`), which gives exactly what the parsing path
/// gives and cannot fail the check; anything else is parsed three times: the agency's markup
/// for its visible text, by ammonia to sanitize it, and the sanitized markup for the text it
/// shows.
pub fn sanitize_body(source_html: &str, base_url: Option<&str>) -> SanitizedBody {
    let has_base = base_url.is_some_and(|base| {
        ammonia::Url::parse(base).is_ok_and(|base| matches!(base.scheme(), "http" | "https"))
    });
    sanitize_body_in_one_pass(source_html, has_base)
        .unwrap_or_else(|| sanitize_body_by_parsing(source_html, base_url))
}

/// The parsing path of [`sanitize_body`], for any markup at all; public so that tests and the
/// fuzz target can hold the one-scan path to it.
pub fn sanitize_body_by_parsing(source_html: &str, base_url: Option<&str>) -> SanitizedBody {
    let source_text = visible_text(source_html);
    let html = sanitize_html_with_base(source_html, base_url);
    let published_text = visible_text(&html);
    let fidelity_failure =
        (published_text != source_text).then(|| describe_difference(&source_text, &published_text));
    SanitizedBody {
        html,
        source_text,
        fidelity_failure,
    }
}

/// The one-scan path alone: `Some` only for markup it can prove, with what
/// [`sanitize_body_by_parsing`] gives for it ([`sanitize_body`] tries it first; tests, benchmarks
/// and the fuzz target call it alone).
pub fn sanitize_body_in_one_pass(source_html: &str, has_base: bool) -> Option<SanitizedBody> {
    one_pass::sanitize_and_read(source_html, has_base).map(|done| SanitizedBody {
        html: done.html,
        source_text: done.text,
        fidelity_failure: None,
    })
}

/// SHA-256 (hex) over the headline and the visible body text: equal hashes mean a reader sees the
/// same words.
pub fn text_hash(headline: &str, body_text: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(headline.as_bytes());
    hasher.update([0u8]);
    hasher.update(body_text.as_bytes());
    verbatim_item::digest_hex(&hasher.finalize().into())
}

/// A one-line reason naming where two visible texts first differ.
pub fn describe_difference(expected: &str, actual: &str) -> String {
    let position = expected
        .chars()
        .zip(actual.chars())
        .take_while(|(a, b)| a == b)
        .count();
    let snippet = |text: &str| -> String { text.chars().skip(position).take(24).collect() };
    format!(
        "fidelity: sanitized text differs from the agency's at character {position}: expected {:?}, got {:?}",
        snippet(expected),
        snippet(actual)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn draft(body: SourceBody) -> Draft {
        Draft {
            item: Item {
                headline: "  Storm \n hits   coast ".into(),
                ..Item::default()
            },
            body,
            ..Draft::default()
        }
    }

    #[test]
    fn hostile_markup_is_removed_and_text_kept() {
        let html = r#"<p>Quake <b onclick="steal()">strikes</b><script>alert(1)</script><!-- x --> <a href="javascript:evil()">coast</a></p><style>p{display:none}</style>"#;
        let normalized = normalize(draft(SourceBody::Html(html.into())));
        assert!(normalized.holds.is_empty(), "{:?}", normalized.holds);
        assert_eq!(normalized.item.headline, "Storm hits coast");
        assert_eq!(normalized.item.body_text, "Quake strikes coast");
        assert!(!normalized.item.body_html.contains("script"));
        assert!(!normalized.item.body_html.contains("onclick"));
        assert!(!normalized.item.body_html.contains("javascript"));
    }

    #[test]
    fn plain_text_bodies_keep_their_paragraphs() {
        let normalized = normalize(draft(SourceBody::Text(
            "First <para>.\n\nSecond & last.".into(),
        )));
        assert_eq!(normalized.item.body_text, "First <para>.\n\nSecond & last.");
        assert_eq!(
            normalized.item.body_html,
            "<p>First &lt;para&gt;.</p><p>Second &amp; last.</p>"
        );
    }

    #[test]
    fn empty_item_is_held() {
        let mut empty = draft(SourceBody::Text(String::new()));
        empty.item.headline.clear();
        assert_eq!(normalize(empty).holds.len(), 1);
    }

    fn html_fragment() -> impl Strategy<Value = String> {
        let text =
            "[a-zA-Z0-9 \u{a0}\u{ad}\u{200d}\u{5d0}-\u{5ea}\u{627}-\u{64a}\u{301}é🙂&<>\n\t]{0,12}";
        let leaf = text.prop_map(|t| {
            let mut escaped = String::new();
            escape_into(&t, &mut escaped);
            escaped
        });
        leaf.prop_recursive(4, 48, 6, |inner| {
            let tag = prop_oneof![
                Just("p"),
                Just("b"),
                Just("i"),
                Just("div"),
                Just("span"),
                Just("a"),
                Just("ul"),
                Just("li"),
                Just("h2"),
                Just("blockquote"),
                Just("pre"),
                Just("script"),
                Just("style"),
                Just("iframe"),
                Just("form"),
                Just("font"),
                Just("marquee"),
                Just("table"),
                Just("td"),
                Just("noscript"),
                Just("section"),
            ];
            let attrs = prop_oneof![
                Just(""),
                Just(r#" onclick="x()""#),
                Just(r#" href="javascript:x()""#),
                Just(r#" style="color:red""#),
                Just(r#" dir="rtl""#),
                Just(r#" class="c""#),
                Just(r#" onerror="y""#),
                Just(r#" hidden"#),
            ];
            (tag, attrs, prop::collection::vec(inner, 0..4)).prop_map(|(tag, attrs, children)| {
                format!("<{tag}{attrs}>{}</{tag}>", children.concat())
            })
        })
    }

    proptest! {
        #[test]
        fn sanitizing_never_changes_visible_text(html in html_fragment()) {
            let source = visible_text(&html);
            let clean = sanitize_html(&html);
            prop_assert_eq!(visible_text(&clean), source);
        }

        #[test]
        fn normalizing_is_idempotent(html in html_fragment()) {
            let once = sanitize_html(&html);
            let twice = sanitize_html(&once);
            // Markup may be re-nested on a second pass (the HTML parser repairs what a first
            // pass serialized), but what a reader sees never changes.
            prop_assert_eq!(visible_text(&twice), visible_text(&once));
        }

        #[test]
        fn any_text_survives_as_text(text in "\\PC{0,64}") {
            let html = text_to_html(&text);
            prop_assert_eq!(visible_text(&sanitize_html(&html)), visible_text(&html));
        }
    }
}
