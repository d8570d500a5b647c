//! Sanitizing agency markup: drops what can run, track or restyle (scripts, styles, comments,
//! event handlers, unsafe URLs, iframes, form controls) and keeps the structure a reader needs.
//! The fidelity check in `lib.rs` proves afterwards that no visible character was lost.

use ammonia::Builder;
use std::sync::OnceLock;

/// Elements removed with everything inside them. Each is also never rendered by a browser (see
/// `visible::is_never_rendered`), so removing their content cannot change the visible text.
const REMOVED_WITH_CONTENT: &[&str] = &[
    "script", "style", "template", "noscript", "iframe", "title", "noembed", "noframes",
    "frameset", "datalist", "head", "textarea", "select",
];

/// Block elements ammonia does not allow by default. Removing a block element's tag would merge
/// its text with the neighbouring lines — a visible change — so these harmless containers are kept
/// (without attributes). `form` stays only as an inert container: its controls, `action` and
/// every other attribute are removed.
const EXTRA_BLOCKS: &[&str] = &[
    "section", "main", "address", "search", "menu", "dir", "fieldset", "legend", "form",
];

/// Elements kept (without attributes) because the HTML parser treats them as a scope boundary:
/// a list or table inside `<p><marquee>` stays inside the paragraph, and with the `marquee`
/// tags removed the same list would close the paragraph first, which moves a line break
/// (proptest found `<p><marquee>&amp;<ul>a</ul></marquee></p>`). A marquee still scrolls in
/// browsers; no character changes.
const KEPT_SCOPE_BOUNDARIES: &[&str] = &["marquee"];

fn builder() -> &'static Builder<'static> {
    static BUILDER: OnceLock<Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(configured_builder)
}

/// Verbatim's sanitizer policy (ammonia's defaults plus the elements above).
fn configured_builder() -> Builder<'static> {
    let mut builder = Builder::default();
    builder
        .add_tags(EXTRA_BLOCKS.iter().copied())
        .add_tags(KEPT_SCOPE_BOUNDARIES.iter().copied())
        .add_clean_content_tags(REMOVED_WITH_CONTENT.iter().copied())
        .add_tag_attributes("details", ["open"])
        // `dir` keeps right-to-left text right-to-left.
        .add_generic_attributes(["dir"])
        .add_tag_attributes("td", ["colspan", "rowspan"])
        .add_tag_attributes("th", ["colspan", "rowspan", "scope"])
        .add_tag_attributes("time", ["datetime"]);
    builder
}

/// The agency's markup with everything unsafe removed.
pub fn sanitize_html(html: &str) -> String {
    builder().clean(html).to_string()
}

/// Like [`sanitize_html`], with relative `href`/`src` references made absolute against `base`
/// (an absolute http(s) URL; anything else leaves them relative), so links and pictures still
/// work on the publisher's site.
pub fn sanitize_html_with_base(html: &str, base: Option<&str>) -> String {
    let base = base
        .and_then(|base| ammonia::Url::parse(base).ok())
        .filter(|base| matches!(base.scheme(), "http" | "https"));
    match base {
        Some(base) => {
            let mut builder = configured_builder();
            builder.url_relative(ammonia::UrlRelative::RewriteWithBase(base));
            builder.clean(html).to_string()
        }
        None => sanitize_html(html),
    }
}

/// Plain agency text as markup: blank lines separate paragraphs, single line breaks stay
/// line breaks, every character is escaped so none is read as markup.
pub fn text_to_html(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut html = String::with_capacity(normalized.len() + 64);
    for paragraph in split_paragraphs(&normalized) {
        html.push_str("<p>");
        for (index, line) in paragraph.split('\n').enumerate() {
            if index > 0 {
                html.push_str("<br>");
            }
            escape_into(line, &mut html);
        }
        html.push_str("</p>");
    }
    html
}

fn split_paragraphs(text: &str) -> Vec<&str> {
    let mut paragraphs = Vec::new();
    let mut start = 0;
    let lines: Vec<(usize, &str)> = text
        .split_inclusive('\n')
        .scan(0usize, |offset, line| {
            let at = *offset;
            *offset += line.len();
            Some((at, line))
        })
        .collect();
    for (at, line) in &lines {
        if line.trim().is_empty() {
            let paragraph = text[start..*at].trim_matches('\n');
            if !paragraph.trim().is_empty() {
                paragraphs.push(paragraph);
            }
            start = at + line.len();
        }
    }
    let rest = text[start..].trim_matches('\n');
    if !rest.trim().is_empty() {
        paragraphs.push(rest);
    }
    paragraphs
}

/// Escapes text for use in HTML element content and attribute values.
pub fn escape_into(text: &str, out: &mut String) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_list_inside_a_marquee_stays_inside_its_paragraph() {
        let html = "<p><marquee onclick=\"x()\">&amp;<ul>a</ul></marquee></p>";
        let clean = sanitize_html(html);
        assert_eq!(clean, "<p><marquee>&amp;<ul>a</ul></marquee></p>");
        assert_eq!(
            crate::visible::visible_text(&clean),
            crate::visible::visible_text(html)
        );
    }

    #[test]
    fn relative_references_resolve_against_an_http_base_only() {
        let html = r#"<a href="story.html">Story</a> <img src="/pics/a.jpg" alt="A">"#;
        let absolute = sanitize_html_with_base(html, Some("https://agency.test/wire/"));
        assert!(
            absolute.contains(r#"href="https://agency.test/wire/story.html""#),
            "{absolute}"
        );
        assert!(
            absolute.contains(r#"src="https://agency.test/pics/a.jpg""#),
            "{absolute}"
        );
        for base in [None, Some("file:///etc/"), Some("not a url")] {
            let kept = sanitize_html_with_base(html, base);
            assert!(kept.contains(r#"href="story.html""#), "{kept}");
        }
    }
    use super::*;

    #[test]
    fn removes_scripts_handlers_and_javascript_urls() {
        let clean = sanitize_html(
            r#"<p onclick="x()">Hi <a href="javascript:alert(1)">there</a><script>alert(1)</script></p><iframe src="//x">f</iframe>"#,
        );
        assert!(!clean.contains("onclick"));
        assert!(!clean.contains("javascript"));
        assert!(!clean.contains("script"));
        assert!(!clean.contains("iframe"));
        assert!(clean.contains("there"));
    }

    #[test]
    fn keeps_direction_and_language() {
        let clean = sanitize_html(r#"<p dir="rtl" lang="ar">مرحبا</p>"#);
        assert_eq!(clean, r#"<p dir="rtl" lang="ar">مرحبا</p>"#);
    }

    #[test]
    fn text_becomes_paragraphs() {
        assert_eq!(
            text_to_html("One\nline <two>\n\n\nPara & two"),
            "<p>One<br>line &lt;two&gt;</p><p>Para &amp; two</p>"
        );
    }
}
