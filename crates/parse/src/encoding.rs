//! Character encodings: turns payload bytes into text following the XML media-type rules
//! (RFC 7303): a byte-order mark wins, then the HTTP `charset`, then the XML declaration, then
//! UTF-8. Bytes that are not valid in the chosen encoding are reported, never silently replaced.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

/// A payload as text, with the encoding used and, if the bytes were not valid in it, why.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    /// Where the encoding came from: `BOM`, `HTTP charset`, `XML declaration` or `default`.
    pub encoding_from: &'static str,
    /// Set when some bytes were not valid in the encoding; the text then holds U+FFFD for them
    /// and every item read from it must be held.
    pub invalid: Option<String>,
}

/// Decodes a payload. `http_charset` is the `charset` parameter of the HTTP `Content-Type`, if any.
pub fn decode(bytes: &[u8], http_charset: Option<&str>) -> Decoded {
    let (encoding, encoding_from, body) =
        if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
            (encoding, "BOM", &bytes[bom_len..])
        } else if let Some(encoding) =
            http_charset.and_then(|label| Encoding::for_label(label.trim().as_bytes()))
        {
            (encoding, "HTTP charset", bytes)
        } else if let Some(encoding) = sniff_utf16_without_bom(bytes) {
            (encoding, "XML declaration", bytes)
        } else if let Some(encoding) = declared_encoding(bytes) {
            // A declaration readable as ASCII cannot truthfully say UTF-16 (real UTF-16 without a
            // BOM was sniffed above): such documents are in an ASCII-compatible encoding.
            if encoding == UTF_16LE || encoding == UTF_16BE {
                (UTF_8, "XML declaration", bytes)
            } else {
                (encoding, "XML declaration", bytes)
            }
        } else {
            (UTF_8, "default", bytes)
        };
    match encoding.decode_without_bom_handling_and_without_replacement(body) {
        Some(text) => Decoded {
            text: text.into_owned(),
            encoding,
            encoding_from,
            invalid: None,
        },
        None => {
            let offset = first_invalid_offset(encoding, body) + (bytes.len() - body.len());
            let (text, _) = encoding.decode_without_bom_handling(body);
            Decoded {
                text: text.into_owned(),
                encoding,
                encoding_from,
                invalid: Some(format!(
                    "the payload is not valid {} ({}): first invalid byte at offset {offset}",
                    encoding.name(),
                    encoding_from
                )),
            }
        }
    }
}

fn sniff_utf16_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    match bytes {
        [b'<', 0, b'?', 0, ..] => Some(UTF_16LE),
        [0, b'<', 0, b'?', ..] => Some(UTF_16BE),
        _ => None,
    }
}

/// The `encoding` pseudo-attribute of an XML declaration at the very start of the payload.
fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(512)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|pair| pair == b"?>")?;
    let declaration = std::str::from_utf8(&head[..end]).ok()?;
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let label = after[1..].split(quote).next()?;
    Encoding::for_label(label.trim().as_bytes())
}

fn first_invalid_offset(encoding: &'static Encoding, body: &[u8]) -> usize {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut scratch = String::with_capacity(4096);
    let mut read_total = 0;
    loop {
        scratch.clear();
        let (result, read) =
            decoder.decode_to_string_without_replacement(&body[read_total..], &mut scratch, true);
        read_total += read;
        match result {
            encoding_rs::DecoderResult::Malformed(bad, after) => {
                return read_total.saturating_sub(bad as usize + after as usize);
            }
            encoding_rs::DecoderResult::InputEmpty => return read_total,
            encoding_rs::DecoderResult::OutputFull => {
                if read == 0 {
                    scratch.reserve(4096);
                }
            }
        }
    }
}

/// The `charset` parameter of a `Content-Type` header value.
pub fn charset_of_content_type(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            // Servers quote it with either kind of quote.
            .then(|| value.trim().trim_matches(['"', '\'']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_wins_over_everything() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><a>\xC3\xA9</a>");
        let decoded = decode(&bytes, Some("windows-1252"));
        assert_eq!(decoded.encoding_from, "BOM");
        assert!(decoded.text.contains("<a>é</a>"));
    }

    #[test]
    fn http_charset_beats_declaration() {
        let decoded = decode(
            b"<?xml version=\"1.0\" encoding=\"utf-8\"?><a>\xE9</a>",
            Some("iso-8859-1"),
        );
        assert_eq!(decoded.encoding_from, "HTTP charset");
        assert!(decoded.text.contains("<a>é</a>"));
        assert!(decoded.invalid.is_none());
    }

    #[test]
    fn declaration_is_used_and_turkish_works() {
        let decoded = decode(
            b"<?xml version='1.0' encoding='windows-1254'?><a>\xFE\xF0\xDD</a>",
            None,
        );
        assert_eq!(decoded.encoding.name(), "windows-1254");
        assert!(decoded.text.contains("<a>şğİ</a>"), "{}", decoded.text);
    }

    #[test]
    fn invalid_bytes_are_reported_with_offset() {
        let decoded = decode(b"<a>ok \xFF\xFE bad</a>", None);
        let reason = decoded.invalid.unwrap_or_default();
        assert!(reason.contains("UTF-8"), "{reason}");
        assert!(reason.contains("offset 6"), "{reason}");
    }

    #[test]
    fn utf16_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "<a>日本</a>".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(decode(&bytes, None).text, "<a>日本</a>");
    }

    #[test]
    fn charset_parameter() {
        assert_eq!(
            charset_of_content_type("application/rss+xml; charset=\"ISO-8859-1\""),
            Some("ISO-8859-1")
        );
        assert_eq!(charset_of_content_type("text/xml"), None);
    }
}
