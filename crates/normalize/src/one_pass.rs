//! The one-pass path: for markup already in the plain shape most agency bodies take (known
//! elements, properly nested, nothing for the HTML parser to repair), one scan yields both the
//! sanitized markup and the visible text, instead of three HTML parses. Whatever falls outside
//! that shape returns `None`, and the three-parse path in `lib.rs` handles it. Tests and a fuzz
//! target hold this path to give, byte for byte, what the three-parse path gives.
//!
//! Why it is exact: the scan accepts only token sequences for which the HTML tree-construction
//! rules build the tree the tags spell out (no implied end tags except a table's `tbody`, no
//! foster parenting, no reconstruction of formatting elements, end tags always closing the
//! current element). On that tree ammonia only drops elements (`script`, `style`), comments and
//! attributes, which this scan drops with the same rules, and html5ever's serializer writes
//! what this scan writes.

use crate::visible::VisibleText;
use ammonia::Url;
use std::borrow::Cow;

/// Sanitized markup and its visible text, as the three-parse path would give them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OnePass {
    pub html: String,
    pub text: String,
}

/// How an element takes part in tree construction, as far as this path supports it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// An ordinary inline element (or a formatting one): allowed anywhere in flow content.
    Inline,
    /// `a`: inline, but never inside another `a` (the parser would close the first).
    Anchor,
    /// An element whose start tag closes an open `p`: allowed only while no `p` is open.
    Block,
    Paragraph,
    Heading,
    Pre,
    /// `li`: only as a child of `ul` or `ol`.
    ListItem,
    /// `dd`, `dt`: only as a child of `dl`.
    DefinitionPart,
    Table,
    TableSection,
    Row,
    Cell,
    /// `br`, `wbr`, `img`: void, allowed anywhere in flow content.
    Void,
    /// `hr`: void, and closes an open `p`.
    Rule,
    /// `script`, `style`: raw text, removed with everything inside.
    Removed,
}

impl Kind {
    /// The line breaks the visible-text rules ask for around an element of this kind: what
    /// `visible::required_breaks` gives for every name [`kind_of`] knows (a test holds them
    /// equal), without matching the name again at each tag.
    fn breaks(self) -> u8 {
        use Kind::*;
        match self {
            Paragraph => 2,
            Block | Heading | Pre | ListItem | DefinitionPart | Table | Row | Rule => 1,
            Inline | Anchor | TableSection | Cell | Void | Removed => 0,
        }
    }
}

fn kind_of(name: &str) -> Option<(&'static str, Kind)> {
    use Kind::*;
    let found = match name {
        "a" => ("a", Anchor),
        "abbr" => ("abbr", Inline),
        "acronym" => ("acronym", Inline),
        "b" => ("b", Inline),
        "bdi" => ("bdi", Inline),
        "bdo" => ("bdo", Inline),
        "cite" => ("cite", Inline),
        "code" => ("code", Inline),
        "data" => ("data", Inline),
        "del" => ("del", Inline),
        "dfn" => ("dfn", Inline),
        "em" => ("em", Inline),
        "i" => ("i", Inline),
        "ins" => ("ins", Inline),
        "kbd" => ("kbd", Inline),
        "mark" => ("mark", Inline),
        "q" => ("q", Inline),
        "s" => ("s", Inline),
        "samp" => ("samp", Inline),
        "small" => ("small", Inline),
        "span" => ("span", Inline),
        "strike" => ("strike", Inline),
        "strong" => ("strong", Inline),
        "sub" => ("sub", Inline),
        "sup" => ("sup", Inline),
        "time" => ("time", Inline),
        "tt" => ("tt", Inline),
        "u" => ("u", Inline),
        "var" => ("var", Inline),
        "address" => ("address", Block),
        "article" => ("article", Block),
        "aside" => ("aside", Block),
        "blockquote" => ("blockquote", Block),
        "center" => ("center", Block),
        "details" => ("details", Block),
        "dir" => ("dir", Block),
        "div" => ("div", Block),
        "dl" => ("dl", Block),
        "figcaption" => ("figcaption", Block),
        "figure" => ("figure", Block),
        "footer" => ("footer", Block),
        "header" => ("header", Block),
        "hgroup" => ("hgroup", Block),
        "main" => ("main", Block),
        "menu" => ("menu", Block),
        "nav" => ("nav", Block),
        "ol" => ("ol", Block),
        "section" => ("section", Block),
        "summary" => ("summary", Block),
        "ul" => ("ul", Block),
        "p" => ("p", Paragraph),
        "h1" => ("h1", Heading),
        "h2" => ("h2", Heading),
        "h3" => ("h3", Heading),
        "h4" => ("h4", Heading),
        "h5" => ("h5", Heading),
        "h6" => ("h6", Heading),
        "pre" => ("pre", Pre),
        "li" => ("li", ListItem),
        "dd" => ("dd", DefinitionPart),
        "dt" => ("dt", DefinitionPart),
        "table" => ("table", Table),
        "tbody" => ("tbody", TableSection),
        "thead" => ("thead", TableSection),
        "tfoot" => ("tfoot", TableSection),
        "tr" => ("tr", Row),
        "td" => ("td", Cell),
        "th" => ("th", Cell),
        "br" => ("br", Void),
        "wbr" => ("wbr", Void),
        "img" => ("img", Void),
        "hr" => ("hr", Rule),
        "script" => ("script", Removed),
        "style" => ("style", Removed),
        _ => return None,
    };
    Some(found)
}

/// The attributes the sanitizer policy (`sanitize.rs`: ammonia's defaults plus `dir` and the
/// additions made there) keeps on an element.
fn keeps_attribute(element: &str, attribute: &str) -> bool {
    if matches!(attribute, "lang" | "title" | "dir") {
        return true;
    }
    let table_cell_alignment = matches!(attribute, "align" | "char" | "charoff");
    match element {
        "a" => matches!(attribute, "href" | "hreflang"),
        "blockquote" | "q" => attribute == "cite",
        "del" | "ins" => matches!(attribute, "cite" | "datetime"),
        "hr" => matches!(attribute, "align" | "size" | "width"),
        "img" => matches!(attribute, "align" | "alt" | "height" | "src" | "width"),
        "ol" => attribute == "start",
        "table" => table_cell_alignment || attribute == "summary",
        "tbody" | "thead" | "tfoot" | "tr" => table_cell_alignment,
        "td" => table_cell_alignment || matches!(attribute, "colspan" | "headers" | "rowspan"),
        "th" => {
            table_cell_alignment || matches!(attribute, "colspan" | "headers" | "rowspan" | "scope")
        }
        "details" => attribute == "open",
        "time" => attribute == "datetime",
        _ => false,
    }
}

/// URL schemes the sanitizer keeps in `href` and `src` (ammonia's default list).
const URL_SCHEMES: &[&str] = &[
    "bitcoin",
    "ftp",
    "ftps",
    "geo",
    "http",
    "https",
    "im",
    "irc",
    "ircs",
    "magnet",
    "mailto",
    "mms",
    "mx",
    "news",
    "nntp",
    "openpgp4fpr",
    "sip",
    "sms",
    "smsto",
    "ssh",
    "tel",
    "url",
    "webcal",
    "wtai",
    "xmpp",
];

/// What the sanitizer does with a URL attribute's value.
enum UrlVerdict {
    Keep,
    Drop,
    /// A relative reference while a base is set: rewriting it is the three-parse path's job.
    Decline,
}

fn judge_url(value: &str, has_base: bool) -> UrlVerdict {
    if is_plain_web_url(value) {
        return UrlVerdict::Keep;
    }
    match Url::parse(value) {
        Ok(url) if URL_SCHEMES.contains(&url.scheme()) => UrlVerdict::Keep,
        Ok(_) => UrlVerdict::Drop,
        Err(ammonia::url::ParseError::RelativeUrlWithoutBase) if has_base => UrlVerdict::Decline,
        Err(ammonia::url::ParseError::RelativeUrlWithoutBase) => UrlVerdict::Keep,
        Err(_) => UrlVerdict::Drop,
    }
}

/// Whether `value` is an `http` or `https` URL in a shape URL parsing always accepts: the
/// scheme in lowercase, `//`, a host of plain ASCII labels (lowercase letters, digits, inner
/// hyphens, never `xn--`; the last label starts with a letter, so the host is never read as an
/// IP address), no user or port, and then anything from a `/`, `?` or `#` on (a path, query or
/// fragment never fails to parse). Nearly every agency link has this shape, and parsing one
/// costs a few thousand instructions (the host goes through IDNA). A property test holds this
/// to `Url::parse`.
fn is_plain_web_url(value: &str) -> bool {
    let Some(rest) = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
    else {
        return false;
    };
    let host_end = rest
        .bytes()
        .position(|byte| matches!(byte, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let mut last_label_starts_with_letter = false;
    for label in rest[..host_end].split('.') {
        let bytes = label.as_bytes();
        let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
            return false;
        };
        let plain = bytes
            .iter()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'-');
        if !plain || *first == b'-' || *last == b'-' || bytes.get(2..4) == Some(b"--") {
            return false;
        }
        last_label_starts_with_letter = first.is_ascii_lowercase();
    }
    last_label_starts_with_letter
}

struct Frame {
    name: &'static str,
    kind: Kind,
    /// A `td` or `th` child has been seen (the next cell starts with a tab).
    seen_cell: bool,
}

/// Why the scan gave up; only for tests and debugging, the caller just takes the slow path.
type Declined = ();

struct Scan<'a> {
    input: &'a str,
    at: usize,
    has_base: bool,
    out: String,
    visible: VisibleText,
    stack: Vec<Frame>,
    open_paragraphs: usize,
    open_anchors: usize,
    open_headings: usize,
    open_pre: usize,
    /// Decoded text waiting to be written (text runs end at markup).
    run: String,
}

/// Sanitizes `html` and reads its visible text in one scan, or `None` when the markup is not in
/// the shape this path can prove (the caller then parses it).
pub(crate) fn sanitize_and_read(html: &str, has_base: bool) -> Option<OnePass> {
    if has_forbidden_characters(html.as_bytes()) {
        return None;
    }
    let mut scan = Scan {
        input: html,
        at: 0,
        has_base,
        out: String::with_capacity(html.len() + html.len() / 8),
        visible: VisibleText::with_capacity(html.len()),
        stack: Vec::with_capacity(16),
        open_paragraphs: 0,
        open_anchors: 0,
        open_headings: 0,
        open_pre: 0,
        run: String::new(),
    };
    scan.run().ok()?;
    Some(OnePass {
        html: scan.out,
        text: scan.visible.finish(),
    })
}

/// Characters the HTML parser rewrites or drops before any tag is read (NUL, carriage returns)
/// and control characters: markup holding any of them takes the parsing path.
fn has_forbidden_characters(bytes: &[u8]) -> bool {
    // Written as folds without early exit so that they compile to vector code.
    let controls = bytes.iter().fold(false, |found, &byte| {
        found
            | ((byte < 0x20) & (byte != b'\t') & (byte != b'\n') & (byte != b'\x0c'))
            | (byte == 0x7f)
    });
    // U+0080..U+009F are encoded as C2 80..C2 9F.
    let c1_controls = bytes
        .iter()
        .zip(bytes.get(1..).unwrap_or_default())
        .fold(false, |found, (&lead, &next)| {
            found | ((lead == 0xc2) & (next < 0xa0))
        });
    controls | c1_controls
}

fn is_html_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0c')
}

impl Scan<'_> {
    fn bytes(&self) -> &[u8] {
        self.input.as_bytes()
    }

    fn run(&mut self) -> Result<(), Declined> {
        let length = self.input.len();
        while self.at < length {
            let rest = &self.bytes()[self.at..];
            let next = memchr::memchr2(b'<', b'&', rest).map_or(length, |offset| self.at + offset);
            if next > self.at {
                let input = self.input;
                let text = &input[self.at..next];
                self.at = next;
                if self.run.is_empty() && self.bytes().get(next) != Some(&b'&') {
                    // Text without references: written straight from the input (and it holds
                    // no `<` or `&`, where the search stopped).
                    self.write_text(text, Escaping::TextWithoutMarkup)?;
                } else {
                    self.run.push_str(text);
                }
                continue;
            }
            match self.bytes()[self.at] {
                b'&' => {
                    let (decoded, used) = decode_reference(&self.input[self.at..])?;
                    push_code_points(&mut self.run, decoded);
                    self.at += used;
                }
                _ => self.markup()?,
            }
        }
        self.flush_text()?;
        while let Some(frame) = self.stack.pop() {
            self.close(frame);
        }
        Ok(())
    }

    /// At a `<`: a tag, a comment, or a literal `<`.
    fn markup(&mut self) -> Result<(), Declined> {
        let rest = &self.bytes()[self.at + 1..];
        match rest.first() {
            Some(byte) if byte.is_ascii_alphabetic() => {
                self.flush_text()?;
                self.start_tag()
            }
            Some(b'/') => {
                self.flush_text()?;
                self.end_tag()
            }
            Some(b'!') if rest.starts_with(b"!--") => {
                self.flush_text()?;
                self.comment()
            }
            Some(b'!' | b'?') => Err(()),
            // `<` not starting a tag is text.
            _ => {
                self.run.push('<');
                self.at += 1;
                Ok(())
            }
        }
    }

    fn comment(&mut self) -> Result<(), Declined> {
        let body_start = self.at + 4;
        let body = &self.input[body_start..];
        if body.starts_with('>') || body.starts_with("->") {
            return Err(());
        }
        let end = body.find("-->").ok_or(())?;
        if body[..end + 3].contains("--!>") {
            return Err(());
        }
        self.at = body_start + end + 3;
        Ok(())
    }

    fn current(&self) -> Option<&Frame> {
        self.stack.last()
    }

    /// The current element is a table, a table section or a row, where text and most elements
    /// would be moved out of the table by the parser.
    fn in_table_structure(&self) -> bool {
        self.current()
            .is_some_and(|frame| matches!(frame.kind, Kind::Table | Kind::TableSection | Kind::Row))
    }

    fn start_tag(&mut self) -> Result<(), Declined> {
        let tag = read_start_tag(self.input, self.at)?;
        let (name, kind) = kind_of(&tag.name).ok_or(())?;
        let void = matches!(kind, Kind::Void | Kind::Rule);
        if tag.self_closing && !void {
            return Err(());
        }
        let in_table = self.in_table_structure();
        let current_name = self.current().map(|frame| frame.name);
        let allowed = match kind {
            Kind::Inline | Kind::Void | Kind::Removed => !in_table,
            Kind::Anchor => !in_table && self.open_anchors == 0,
            Kind::Block | Kind::Paragraph | Kind::Pre | Kind::Table | Kind::Rule => {
                !in_table && self.open_paragraphs == 0
            }
            Kind::Heading => !in_table && self.open_paragraphs == 0 && self.open_headings == 0,
            Kind::ListItem => {
                matches!(current_name, Some("ul" | "ol")) && self.open_paragraphs == 0
            }
            Kind::DefinitionPart => current_name == Some("dl") && self.open_paragraphs == 0,
            Kind::TableSection => current_name == Some("table"),
            Kind::Row => matches!(
                self.current().map(|frame| frame.kind),
                Some(Kind::Table | Kind::TableSection)
            ),
            Kind::Cell => current_name == Some("tr"),
        };
        if !allowed {
            return Err(());
        }
        self.at = tag.end;
        if kind == Kind::Removed {
            return self.skip_raw_text(name);
        }
        if kind == Kind::Pre && matches!(self.bytes().get(self.at), Some(b'\n' | b'&')) {
            // The parser drops a newline right after `<pre>`.
            return Err(());
        }
        if kind == Kind::Row && current_name == Some("table") {
            // The parser puts rows in a `tbody` the markup may leave out.
            self.out.push_str("<tbody>");
            self.open("tbody", Kind::TableSection);
        }
        self.out.push('<');
        self.out.push_str(name);
        for (attribute, value) in &tag.attributes {
            if !keeps_attribute(name, attribute) {
                continue;
            }
            if matches!(&**attribute, "href" | "src") {
                match judge_url(value, self.has_base) {
                    UrlVerdict::Keep => {}
                    UrlVerdict::Drop => continue,
                    UrlVerdict::Decline => return Err(()),
                }
            }
            self.out.push(' ');
            self.out.push_str(attribute);
            self.out.push_str("=\"");
            escape(value, Escaping::Attribute, &mut self.out);
            self.out.push('"');
        }
        if name == "a" {
            self.out.push_str(" rel=\"noopener noreferrer\"");
        }
        self.out.push('>');
        match kind {
            Kind::Void if name == "br" => self.visible.line_break(),
            // `img` shows no text; `wbr` is an empty inline.
            Kind::Void => {}
            Kind::Rule => {
                self.visible.enter_with(kind.breaks(), false);
                self.visible.leave_with(kind.breaks());
            }
            _ => self.open(name, kind),
        }
        Ok(())
    }

    /// Pushes an element whose start tag has been written.
    fn open(&mut self, name: &'static str, kind: Kind) {
        let after_cell = match self.stack.last_mut() {
            Some(parent) if kind == Kind::Cell => std::mem::replace(&mut parent.seen_cell, true),
            _ => false,
        };
        // `pre` is the only element kept as written that `keeps_whitespace` names (tested).
        self.visible
            .enter_with(kind.breaks(), after_cell && kind == Kind::Cell);
        match kind {
            Kind::Paragraph => self.open_paragraphs += 1,
            Kind::Anchor => self.open_anchors += 1,
            Kind::Heading => self.open_headings += 1,
            _ => {}
        }
        if kind == Kind::Pre {
            self.open_pre += 1;
        }
        self.stack.push(Frame {
            name,
            kind,
            seen_cell: false,
        });
    }

    fn close(&mut self, frame: Frame) {
        self.out.push_str("</");
        self.out.push_str(frame.name);
        self.out.push('>');
        self.visible.leave_with(frame.kind.breaks());
        match frame.kind {
            Kind::Paragraph => self.open_paragraphs -= 1,
            Kind::Anchor => self.open_anchors -= 1,
            Kind::Heading => self.open_headings -= 1,
            _ => {}
        }
        if frame.kind == Kind::Pre {
            self.open_pre -= 1;
        }
    }

    fn end_tag(&mut self) -> Result<(), Declined> {
        let bytes = self.bytes();
        let name_start = self.at + 2;
        let mut index = name_start;
        while index < bytes.len() && bytes[index].is_ascii_alphanumeric() {
            index += 1;
        }
        if index == name_start {
            return Err(());
        }
        let name = lowercase(&self.input[name_start..index]);
        while index < bytes.len() && is_html_space(bytes[index]) {
            index += 1;
        }
        if bytes.get(index) != Some(&b'>') {
            return Err(());
        }
        let (name, kind) = kind_of(&name).ok_or(())?;
        if matches!(kind, Kind::Void | Kind::Rule | Kind::Removed) {
            return Err(());
        }
        let current = self.current().map(|frame| (frame.name, frame.kind));
        match current {
            Some((current_name, _)) if current_name == name => {}
            // `</table>` also closes the table's open section, written or implied.
            Some((_, Kind::TableSection)) if name == "table" => {
                if let Some(section) = self.stack.pop() {
                    self.close(section);
                }
                if self.current().map(|frame| frame.name) != Some("table") {
                    return Err(());
                }
            }
            _ => return Err(()),
        }
        if let Some(frame) = self.stack.pop() {
            self.close(frame);
        }
        self.at = index + 1;
        Ok(())
    }

    /// Skips a `script` or `style` element's raw text and its end tag.
    fn skip_raw_text(&mut self, name: &str) -> Result<(), Declined> {
        let bytes = self.bytes();
        let mut search = self.at;
        loop {
            let offset = memchr::memmem::find(&bytes[search..], b"</").ok_or(())?;
            let tag = search + offset;
            let name_end = tag + 2 + name.len();
            let candidate = bytes.get(tag + 2..name_end).ok_or(())?;
            if candidate.eq_ignore_ascii_case(name.as_bytes()) {
                let mut index = name_end;
                match bytes.get(index) {
                    Some(byte) if is_html_space(*byte) || *byte == b'>' => {
                        // Script data that opens a comment-like escape is read by rules this
                        // path does not follow.
                        if name == "script" && bytes[self.at..tag].windows(4).any(|w| w == b"<!--")
                        {
                            return Err(());
                        }
                        while index < bytes.len() && is_html_space(bytes[index]) {
                            index += 1;
                        }
                        if bytes.get(index) != Some(&b'>') {
                            return Err(());
                        }
                        self.at = index + 1;
                        return Ok(());
                    }
                    Some(b'/') => return Err(()),
                    _ => {}
                }
            }
            search = tag + 2;
        }
    }

    fn flush_text(&mut self) -> Result<(), Declined> {
        if self.run.is_empty() {
            return Ok(());
        }
        let mut run = std::mem::take(&mut self.run);
        let written = self.write_text(&run, Escaping::Text);
        run.clear();
        self.run = run;
        written
    }

    /// Writes decoded text into the markup (escaped) and the visible text.
    fn write_text(&mut self, text: &str, escaping: Escaping) -> Result<(), Declined> {
        if self.in_table_structure() && !text.bytes().all(is_html_space) {
            // The parser would move this text out of the table.
            return Err(());
        }
        if text.starts_with('\n') && self.just_opened_pre() {
            // A parser drops a newline right after `<pre>`: this text would lose its first
            // character when the result is read (the source had something in between, such as
            // a stripped `<script>`).
            return Err(());
        }
        escape(text, escaping, &mut self.out);
        self.visible.text(text, self.open_pre > 0);
        Ok(())
    }

    /// Whether the last thing written is a `<pre>` start tag.
    fn just_opened_pre(&self) -> bool {
        self.out.ends_with('>')
            && self.out.rfind('<').is_some_and(|start| {
                let tag = &self.out[start..];
                tag.starts_with("<pre>") || tag.starts_with("<pre ")
            })
    }
}

/// A start tag's name and attributes borrow from the input unless lowercasing or decoding
/// changed them (most tags: `<p>`, `<a href="…">`), so reading one allocates nothing.
struct StartTag<'a> {
    name: Cow<'a, str>,
    attributes: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    self_closing: bool,
    /// Just past the closing `>`.
    end: usize,
}

/// Reads a start tag at `at` (the `<`), in the shapes the HTML tokenizer reads plainly.
fn read_start_tag(input: &str, at: usize) -> Result<StartTag<'_>, Declined> {
    let bytes = input.as_bytes();
    let mut index = at + 1;
    let name_start = index;
    while index < bytes.len() && bytes[index].is_ascii_alphanumeric() {
        index += 1;
    }
    let name = lowercase(&input[name_start..index]);
    let mut attributes: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    loop {
        let before_space = index;
        while index < bytes.len() && is_html_space(bytes[index]) {
            index += 1;
        }
        match bytes.get(index) {
            None => return Err(()),
            Some(b'>') => {
                return Ok(StartTag {
                    name,
                    attributes,
                    self_closing: false,
                    end: index + 1,
                });
            }
            Some(b'/') => {
                return if bytes.get(index + 1) == Some(&b'>') {
                    Ok(StartTag {
                        name,
                        attributes,
                        self_closing: true,
                        end: index + 2,
                    })
                } else {
                    Err(())
                };
            }
            Some(_) if index == before_space => return Err(()),
            Some(_) => {}
        }
        let attribute_start = index;
        while index < bytes.len()
            && (bytes[index].is_ascii_alphanumeric() || matches!(bytes[index], b'-' | b'_' | b':'))
        {
            index += 1;
        }
        if index == attribute_start {
            return Err(());
        }
        let attribute = lowercase(&input[attribute_start..index]);
        let mut value_end = index;
        while value_end < bytes.len() && is_html_space(bytes[value_end]) {
            value_end += 1;
        }
        let value = if bytes.get(value_end) == Some(&b'=') {
            index = value_end + 1;
            while index < bytes.len() && is_html_space(bytes[index]) {
                index += 1;
            }
            match bytes.get(index) {
                Some(&quote @ (b'"' | b'\'')) => {
                    let value_start = index + 1;
                    let length = memchr::memchr(quote, &bytes[value_start..]).ok_or(())?;
                    index = value_start + length + 1;
                    // The next attribute must be separated by a space.
                    if !matches!(
                        bytes.get(index),
                        Some(b'>' | b'/') | Some(b' ' | b'\t' | b'\n' | b'\x0c')
                    ) {
                        return Err(());
                    }
                    decode_attribute(&input[value_start..value_start + length])?
                }
                Some(_) => {
                    let value_start = index;
                    while index < bytes.len()
                        && !is_html_space(bytes[index])
                        && !matches!(
                            bytes[index],
                            b'>' | b'"' | b'\'' | b'<' | b'=' | b'`' | b'&'
                        )
                    {
                        index += 1;
                    }
                    if index == value_start
                        || !matches!(
                            bytes.get(index),
                            Some(b'>') | Some(b' ' | b'\t' | b'\n' | b'\x0c')
                        )
                    {
                        return Err(());
                    }
                    Cow::Borrowed(&input[value_start..index])
                }
                None => return Err(()),
            }
        } else {
            Cow::Borrowed("")
        };
        if attributes
            .iter()
            .any(|(existing, _)| *existing == attribute)
        {
            return Err(());
        }
        attributes.push((attribute, value));
    }
}

/// An ASCII name in lower case, borrowed when it already is.
fn lowercase(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|byte| byte.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

fn decode_attribute(raw: &str) -> Result<Cow<'_, str>, Declined> {
    if !raw.contains('&') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut value = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(offset) = rest.find('&') {
        value.push_str(&rest[..offset]);
        let (decoded, used) = decode_reference(&rest[offset..])?;
        push_code_points(&mut value, decoded);
        rest = &rest[offset + used..];
    }
    value.push_str(rest);
    Ok(Cow::Owned(value))
}

/// Up to two code points a character reference stands for (the second is 0 when unused).
type CodePoints = (u32, u32);

fn push_code_points(out: &mut String, (first, second): CodePoints) {
    for code in [first, second] {
        if let Some(ch) = char::from_u32(code).filter(|_| code != 0) {
            out.push(ch);
        }
    }
}

/// Decodes the character reference at the start of `text` (which starts with `&`): the code
/// points and the bytes used. A lone `&` is itself; references the tokenizer reads in
/// special ways (without `;`, numeric ones it replaces) take the parsing path.
fn decode_reference(text: &str) -> Result<(CodePoints, usize), Declined> {
    let bytes = text.as_bytes();
    match bytes.get(1) {
        Some(b'#') => {
            let (digits_start, radix) = match bytes.get(2) {
                Some(b'x' | b'X') => (3, 16),
                _ => (2, 10),
            };
            let mut index = digits_start;
            while index < bytes.len() && (bytes[index] as char).is_digit(radix) {
                index += 1;
            }
            if index == digits_start || index - digits_start > 8 || bytes.get(index) != Some(&b';')
            {
                return Err(());
            }
            let code = u32::from_str_radix(&text[digits_start..index], radix).map_err(|_| ())?;
            let plain = match code {
                0x09 | 0x0a | 0x0c => true,
                0x00..=0x1f | 0x7f..=0x9f | 0xd800..=0xdfff => false,
                _ => code <= 0x10ffff && !is_noncharacter(code),
            };
            if !plain {
                return Err(());
            }
            Ok(((code, 0), index + 1))
        }
        Some(byte) if byte.is_ascii_alphanumeric() => {
            let mut index = 1;
            while index < bytes.len() && bytes[index].is_ascii_alphanumeric() {
                index += 1;
            }
            if bytes.get(index) != Some(&b';') {
                return Err(());
            }
            match html5ever::data::NAMED_ENTITIES.get(&text[1..=index]) {
                Some(&(first, second)) if first != 0 => Ok(((first, second), index + 1)),
                _ => Err(()),
            }
        }
        // `&` before anything else is a literal ampersand.
        _ => Ok((('&' as u32, 0), 1)),
    }
}

fn is_noncharacter(code: u32) -> bool {
    (0xfdd0..=0xfdef).contains(&code) || (code & 0xfffe) == 0xfffe
}

/// The nearer of two search results.
fn earliest(first: Option<usize>, second: Option<usize>) -> Option<usize> {
    match (first, second) {
        (Some(first), Some(second)) => Some(first.min(second)),
        (found, None) | (None, found) => found,
    }
}

/// Where escaped text goes, which decides the characters to look for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Escaping {
    Text,
    /// Text known to hold no `<` and no `&`: only `>` and NBSP are left to find.
    TextWithoutMarkup,
    Attribute,
}

/// Escapes as html5ever's serializer does: `&`, NBSP, `<` and `>` always, `"` in attributes.
/// Skips to the next candidate byte with memchr, as most text needs no escape at all.
fn escape(text: &str, escaping: Escaping, out: &mut String) {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut search = 0;
    while search < bytes.len() {
        let rest = &bytes[search..];
        let markup = || memchr::memchr3(b'&', b'<', b'>', rest);
        let found = match escaping {
            Escaping::TextWithoutMarkup => memchr::memchr2(b'>', 0xc2, rest),
            Escaping::Text => earliest(markup(), memchr::memchr(0xc2, rest)),
            Escaping::Attribute => earliest(markup(), memchr::memchr2(0xc2, b'"', rest)),
        };
        let Some(offset) = found else {
            break;
        };
        let index = search + offset;
        let (replacement, width) = match bytes[index] {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' => ("&quot;", 1),
            0xc2 if bytes.get(index + 1) == Some(&0xa0) => ("&nbsp;", 2),
            _ => {
                // Another character starting with 0xC2: nothing to escape.
                search = index + 1;
                continue;
            }
        };
        out.push_str(&text[start..index]);
        out.push_str(replacement);
        search = index + width;
        start = search;
    }
    out.push_str(&text[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{sanitize_body_by_parsing, text_to_html};
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    /// The one-scan result for `html` (which must take that path) equals the parsing path's.
    fn assert_same_as_parsing(html: &str, has_base: bool) {
        let base = has_base.then_some("https://agency.test/wire/");
        let parsed = sanitize_body_by_parsing(html, base);
        let Some(scanned) = sanitize_and_read(html, has_base) else {
            panic!("declined {html:?}");
        };
        assert_eq!(scanned.html, parsed.html, "markup of {html:?}");
        assert_eq!(scanned.text, parsed.source_text, "text of {html:?}");
        assert_eq!(parsed.fidelity_failure, None, "{html:?}");
    }

    #[test]
    fn agency_shaped_markup_takes_one_pass_and_matches_parsing() {
        for html in [
            "",
            "plain words",
            "<p><strong>GRENAA, Denmark (NWS)</strong> — Ferries sailed with gusts of 38&nbsp;m/s.</p>",
            "<p>Rates: <a href=\"https://agency.example/rates\">Markets</a> barely reacted.</p>",
            "<p dir=\"rtl\" lang=\"ar\">افتتحت يوم الثلاثاء أكبر مكتبة</p>\n<p>京都市内の紅葉</p>",
            "<table><tr><th>Route</th><th>Departures</th></tr><tr><td>Grenaa – Varberg</td><td>6</td></tr></table>",
            "<table>\n <thead><tr><th>a</th></tr></thead>\n <tr><td>b</td> <td>c</td></tr>\n</table>",
            "<p>He said “wait”.<script>track()</script></p><style>p{}</style>",
            "<p>a<!-- note -->b <em>c</em><br>d<br/>e<br />f</p>",
            "<P CLASS=\"x\" onclick=\"steal()\" Lang=en>Upper <B>case</B></P>",
            "<ul><li>one</li> <li>two <a href=\"mailto:desk@agency.test\">desk</a></li></ul>",
            "<ol start=\"3\"><li>three</li></ol>",
            "<dl><dt>term</dt><dd>definition</dd></dl>",
            "<h2>Head</h2><blockquote cite=\"https://x.test/\"><p>quoted</p></blockquote><hr>",
            "<pre>  kept   spaces\n  here</pre>",
            "<p>AT&amp;T &lt;b&gt; &eacute; &#233; &#x1F642; &quot;q&quot; &NotEqualTilde; & done</p>",
            "<p>soft\u{ad}hyphen nbsp\u{a0}here zwj 👩\u{200d}👩\u{200d}👧 e\u{301} שלום</p>",
            "<p>3 < 4 and 5 > 4</p>",
            "<div><p>unclosed paragraph",
            "<p><img src=\"https://agency.test/a.jpg\" alt=\"A picture\" class=\"x\"> caption</p>",
            "<p><a href=\"javascript:alert(1)\">bad link</a> <a href=\"story.html\">relative</a></p>",
            "<p title='single quoted' lang=en-GB>attributes</p>",
            "<details open><summary>More</summary><p>inside</p></details>",
            "<p><time datetime=\"2026-12-02\">today</time> <span style=\"color:red\">red</span></p>",
            "<table><tbody><tr><td><p>cell</p></td></tr></tbody></table>",
            "<p>a\u{c}b\tc</p>",
        ] {
            assert_same_as_parsing(html, false);
        }
        assert_same_as_parsing("<p><a href=\"https://x.test/a\">abs</a></p>", true);
    }

    #[test]
    fn plain_text_bodies_take_one_pass() {
        for text in [
            "First <para>.\n\nSecond & last.",
            "line one\nline two \"quoted\" it's",
        ] {
            assert_same_as_parsing(&text_to_html(text), false);
        }
    }

    #[test]
    fn markup_the_parser_would_repair_is_declined() {
        for html in [
            "<p>one<div>block in paragraph</div></p>",
            "<p>one<p>two",
            "<b><i>misnested</b></i>",
            "<a href=x>outer <a href=y>inner</a></a>",
            "<table>text in a table<tr><td>x</td></tr></table>",
            "<table><td>cell without row</td></table>",
            "<ul><li>one<li>two</ul>",
            "<pre>\nleading newline</pre>",
            "<pre><script>x()</script>\nleading newline after a stripped script</pre>",
            "AT&T without semicolon",
            "&#128; replaced by the parser",
            "a\r\nb",
            "<font color=red>unknown element</font>",
            "<script><!-- escaped --></script>",
            "<p>unmatched</b></p>",
            "</p>",
            "<!-->",
            "<!DOCTYPE html><p>x</p>",
            "<p/>self-closed paragraph",
            "<p a=\"1\"b=\"2\">no space between attributes</p>",
            "<p><a href=\"rel.html\">relative with a base</a></p>",
        ] {
            let has_base = html.contains("with a base");
            assert_eq!(sanitize_and_read(html, has_base), None, "{html:?}");
        }
    }

    /// Random token soup from a vocabulary of supported and unsupported tags, attributes,
    /// references, comments and text: whenever the one-scan path accepts it, it must give what
    /// the parsing path gives.
    fn token_soup() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            4 => "[a-z \u{a0}\u{ad}\u{5d0}\u{627}\u{301}é🙂\n\t<>\"'=/]{1,6}",
            1 => Just("&amp;".to_string()),
            1 => Just("&nbsp;".to_string()),
            1 => Just("&lt;".to_string()),
            1 => Just("&#233;".to_string()),
            1 => Just("&#x1F642;".to_string()),
            1 => Just("&eacute;".to_string()),
            1 => Just("&notit;".to_string()),
            1 => Just("& ".to_string()),
            1 => Just("<!-- c -->".to_string()),
            1 => Just("<!--->".to_string()),
            1 => Just("<script>x()</script>".to_string()),
            1 => Just("<style>p{}</style>".to_string()),
            1 => Just("<br>".to_string()),
            1 => Just("<hr>".to_string()),
            1 => Just("<img src=\"https://a.test/i.png\" alt=\"i\">".to_string()),
            6 => (
                prop::sample::select(vec![
                    "p", "b", "i", "a", "div", "span", "ul", "ol", "li", "dl", "dt", "dd", "h1",
                    "h2", "pre", "table", "tbody", "thead", "tr", "td", "th", "em", "strong",
                    "blockquote", "section", "font", "center", "q", "small", "code", "form",
                    "caption", "colgroup", "nobr", "textarea", "select", "option", "svg",
                ]),
                prop::sample::select(vec![
                    "",
                    " class=\"x\"",
                    " dir=\"rtl\"",
                    " lang=ar",
                    " title='t &amp; u'",
                    " href=\"https://a.test/?q=1&amp;r=2\"",
                    " href=\"javascript:x()\"",
                    " href=\"rel/x.html\"",
                    " href=\"http://[bad\"",
                    " onclick=\"x()\"",
                    " colspan=\"2\"",
                    " start=\"4\"",
                    " open",
                    " rel=\"nofollow\"",
                    " cite=\"https://c.test/\"",
                ]),
                any::<bool>(),
            )
                .prop_map(|(name, attribute, end)| if end {
                    format!("</{name}>")
                } else {
                    format!("<{name}{attribute}>")
                }),
        ];
        prop::collection::vec(token, 0..24).prop_map(|tokens| tokens.concat())
    }

    /// Well-formed trees of supported elements, so that most cases take the one-scan path.
    fn nested_markup() -> impl Strategy<Value = String> {
        let text = "[a-z \u{a0}\u{5d0}é\n&<>]{0,8}".prop_map(|text| {
            let mut escaped = String::new();
            crate::escape_into(&text, &mut escaped);
            escaped
        });
        text.prop_recursive(5, 64, 5, |inner| {
            (
                prop::sample::select(vec![
                    "p",
                    "b",
                    "i",
                    "a",
                    "div",
                    "span",
                    "em",
                    "strong",
                    "blockquote",
                    "section",
                    "h3",
                    "q",
                    "code",
                    "table",
                    "ul",
                ]),
                prop::sample::select(vec![
                    "",
                    " dir=\"rtl\"",
                    " class=\"c\"",
                    " href=\"https://a.test/\"",
                ]),
                prop::collection::vec(inner, 0..4),
            )
                .prop_map(|(name, attribute, children)| match name {
                    "table" => format!(
                        "<table> <tr><td>{}</td><td>{}</td></tr>\n</table>",
                        children.concat(),
                        children.len()
                    ),
                    "ul" => {
                        let items: String = children
                            .iter()
                            .map(|child| format!("<li>{child}</li>"))
                            .collect();
                        format!("<ul>{items}</ul>")
                    }
                    _ => format!("<{name}{attribute}>{}</{name}>", children.concat()),
                })
        })
    }

    fn check_against_parsing(html: &str, has_base: bool) -> Result<bool, TestCaseError> {
        let Some(scanned) = sanitize_and_read(html, has_base) else {
            return Ok(false);
        };
        let parsed = sanitize_body_by_parsing(html, has_base.then_some("https://agency.test/"));
        prop_assert_eq!(&scanned.html, &parsed.html, "markup of {:?}", html);
        prop_assert_eq!(&scanned.text, &parsed.source_text, "text of {:?}", html);
        prop_assert_eq!(parsed.fidelity_failure, None);
        Ok(true)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn token_soup_taken_in_one_pass_matches_parsing(html in token_soup(), has_base in any::<bool>()) {
            check_against_parsing(&html, has_base)?;
        }

        #[test]
        fn nested_markup_taken_in_one_pass_matches_parsing(html in nested_markup()) {
            check_against_parsing(&html, false)?;
        }
    }

    /// The properties above would pass vacuously if the path declined everything.
    #[test]
    fn most_well_formed_markup_takes_one_pass() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = nested_markup();
        let mut taken = 0;
        for _ in 0..500 {
            let html = strategy
                .new_tree(&mut runner)
                .map(|tree| tree.current())
                .unwrap_or_default();
            if sanitize_and_read(&html, false).is_some() {
                taken += 1;
            }
        }
        assert!(taken > 250, "only {taken} of 500 took the one-scan path");
    }

    /// URLs near the edge of the plain shape: schemes in both cases, hosts with hyphens, digits,
    /// `xn--`, dots, ports, users, percent signs, spaces and backslashes, then any tail.
    fn url_near_the_plain_shape() -> impl Strategy<Value = String> {
        let scheme = prop_oneof![
            Just("https://"),
            Just("http://"),
            Just("HTTP://"),
            Just("https:/"),
            Just("https:///"),
            Just("ftp://"),
            Just(""),
        ];
        let host = proptest::string::string_regex(
            r"[a-z0-9.\\-]{0,12}(xn--|[A-Z:@%_ \t\\]|[0-9]{1,3}|0x)?[a-z0-9.-]{0,8}",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let tail = proptest::string::string_regex("([/?#][ -~\t]{0,10})?")
            .unwrap_or_else(|error| panic!("{error}"));
        (scheme, host, tail).prop_map(|(scheme, host, tail)| format!("{scheme}{host}{tail}"))
    }

    proptest! {
        #[test]
        fn a_plain_web_url_always_parses_as_http_or_https(url in url_near_the_plain_shape()) {
            if is_plain_web_url(&url) {
                let parsed = Url::parse(&url);
                prop_assert!(
                    parsed.as_ref().is_ok_and(|parsed| matches!(parsed.scheme(), "http" | "https")),
                    "{url:?} took the fast path but parses as {parsed:?}"
                );
            }
        }
    }

    #[test]
    fn agency_links_take_the_fast_path_and_odd_ones_are_parsed() {
        for plain in [
            "https://agency.example/rates",
            "http://www.example.com",
            "https://news.example.co.uk/2026/11/24/story-1?ref=wire#top",
            "https://a-b.example/x y",
        ] {
            assert!(is_plain_web_url(plain), "{plain}");
        }
        for odd in [
            "HTTPS://agency.example/",
            "https://user@agency.example/",
            "https://agency.example:8080/",
            "https://xn--nxasmq6b.example/",
            "https://192.168.0.1/",
            "https://example.123/",
            "https://-bad.example/",
            "https:///agency.example",
            "https://agency..example/",
            "https://agency.example./",
            "https:agency.example",
            " https://agency.example/",
            "javascript:alert(1)",
            "/relative/path",
        ] {
            assert!(!is_plain_web_url(odd), "{odd}");
        }
    }

    proptest! {
        #[test]
        fn text_without_markup_escapes_as_any_text(text in "[a >\"é\u{a0}\u{c2}\u{80}\u{100}]{0,30}") {
            let mut general = String::new();
            escape(&text, Escaping::Text, &mut general);
            let mut narrow = String::new();
            escape(&text, Escaping::TextWithoutMarkup, &mut narrow);
            prop_assert_eq!(narrow, general);
        }
    }

    /// What [`Kind`] stands in for: the breaks and the kept whitespace the visible-text rules
    /// give each element name the scan knows.
    #[test]
    fn each_kind_asks_for_the_breaks_and_whitespace_of_its_names() {
        let names = [
            "a",
            "abbr",
            "acronym",
            "b",
            "bdi",
            "bdo",
            "cite",
            "code",
            "data",
            "del",
            "dfn",
            "em",
            "i",
            "ins",
            "kbd",
            "mark",
            "q",
            "s",
            "samp",
            "small",
            "span",
            "strike",
            "strong",
            "sub",
            "sup",
            "time",
            "tt",
            "u",
            "var",
            "address",
            "article",
            "aside",
            "blockquote",
            "center",
            "details",
            "dir",
            "div",
            "dl",
            "figcaption",
            "figure",
            "footer",
            "header",
            "hgroup",
            "main",
            "menu",
            "nav",
            "ol",
            "section",
            "summary",
            "ul",
            "p",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "pre",
            "li",
            "dd",
            "dt",
            "table",
            "tbody",
            "thead",
            "tfoot",
            "tr",
            "td",
            "th",
            "br",
            "wbr",
            "img",
            "hr",
            "script",
            "style",
        ];
        for name in names {
            let Some((known, kind)) = kind_of(name) else {
                panic!("{name} is no longer known to the scan: update this list");
            };
            assert_eq!(known, name);
            assert_eq!(
                kind.breaks(),
                crate::visible::required_breaks(name),
                "{name}"
            );
            assert_eq!(
                kind == Kind::Pre,
                crate::visible::keeps_whitespace(name),
                "{name}"
            );
        }
    }
}
