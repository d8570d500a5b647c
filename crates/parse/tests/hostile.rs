//! Hostile and broken payloads: each ends in a clear error or a held item, never a panic, and
//! never reads a file or expands an entity.

use proptest::prelude::*;
use verbatim_parse::{ErrorKind, Input, Limits, parse};

fn run(
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<verbatim_parse::Parsed, verbatim_parse::ParseError> {
    parse(
        Input {
            bytes,
            content_type,
            origin: "hostile.xml",
        },
        &Limits::default(),
    )
}

#[test]
fn external_entities_are_never_resolved() {
    let secret = std::env::temp_dir().join("verbatim-xxe-secret.txt");
    std::fs::write(&secret, "TOP SECRET").unwrap_or_default();
    let feed = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM \"file://{}\">]><rss><channel><item><title>&xxe;</title><guid>1</guid></item></channel></rss>",
        secret.display()
    );
    let parsed = run(feed.as_bytes(), None).unwrap_or_else(|error| panic!("{error}"));
    let headline = &parsed.drafts[0].item.headline;
    assert_eq!(headline, "&xxe;");
    assert!(!headline.contains("SECRET"));
}

#[test]
fn billion_laughs_does_not_expand() {
    let mut doctype = String::from("<!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for level in 1..10 {
        let previous = if level == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", level - 1)
        };
        doctype.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">",
            format!("&{previous};").repeat(10)
        ));
    }
    doctype.push_str("]>");
    let feed = format!(
        "<?xml version=\"1.0\"?>{doctype}<rss><channel><item><title>&lol9;</title><guid>1</guid></item></channel></rss>"
    );
    let parsed = run(feed.as_bytes(), None).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(parsed.drafts[0].item.headline, "&lol9;");
}

#[test]
fn ten_thousand_deep_nesting_is_an_error_on_that_item_only() {
    let deep = format!("{}{}", "<div>".repeat(10_000), "</div>".repeat(10_000));
    let feed = format!(
        "<rss><channel><item><title>ok</title><guid>1</guid></item><item><title>deep</title><guid>2</guid><description>{deep}</description></item></channel></rss>"
    );
    let parsed = run(feed.as_bytes(), None).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(parsed.drafts.len(), 1);
    assert!(
        parsed.errors[0]
            .to_string()
            .contains("nested deeper than 256"),
        "{}",
        parsed.errors[0]
    );
}

#[test]
fn an_oversized_payload_is_refused_before_parsing() {
    let limits = Limits {
        max_document_bytes: 1024,
        ..Limits::default()
    };
    let big = vec![b' '; 2048];
    let error = parse(
        Input {
            bytes: &big,
            content_type: None,
            origin: "big.xml",
        },
        &limits,
    )
    .err();
    assert!(matches!(
        error.map(|error| error.kind),
        Some(ErrorKind::Limit { .. })
    ));
}

#[test]
fn a_wrong_declared_charset_holds_the_items() {
    // Declared UTF-8, written in ISO-8859-1.
    let feed = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss><channel><item><title>Caf\xe9 cr\xe8me</title><guid>1</guid></item></channel></rss>";
    let parsed = run(feed, None).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(parsed.drafts.len(), 1);
    assert!(
        parsed.drafts[0].holds[0].contains("not valid UTF-8"),
        "{:?}",
        parsed.drafts[0].holds
    );
    // The same bytes with the right charset from HTTP are fine.
    let parsed = run(feed, Some("application/rss+xml; charset=iso-8859-1"))
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(parsed.drafts[0].holds.is_empty());
    assert_eq!(parsed.drafts[0].item.headline, "Café crème");
}

#[test]
fn unknown_json_is_refused_clearly() {
    let error = run(br#"{"not":"a feed"}"#, None)
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(
        error.starts_with("hostile.xml: not a format Verbatim reads"),
        "{error}"
    );
    let error = run(b"{\"version\": ", None)
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(error.starts_with("hostile.xml:1:"), "{error}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = run(&bytes, None);
    }

    #[test]
    fn mangled_feeds_never_panic(cut in 0usize..400, noise in "[<>&;/\"'a-z ]{0,12}") {
        let feed = "<?xml version=\"1.0\"?><rss><channel><item><title>A &amp; B</title><guid>1</guid><description><![CDATA[<p>x</p>]]></description></item><item><title>C</title><guid>2</guid></item></channel></rss>";
        let at = cut.min(feed.len());
        let mangled = format!("{}{}{}", &feed[..at], noise, &feed[at..]);
        let _ = run(mangled.as_bytes(), None);
    }
}
