//! The one visible-text function: what a reader sees of a piece of HTML, per the fidelity rule.
//! Used by normalize (body_text and the fidelity check), by the tests and by `verify`, so that
//! "the same text" means one thing everywhere.
//!
//! The rules follow the HTML `innerText` algorithm closely enough to compare with a browser:
//! text nodes with whitespace runs folded as `white-space: normal` folds them (inside `pre`,
//! `textarea` and `listing` kept as is), `<br>` as a line break, block boundaries as one required
//! line break (`<p>` as two), table cells separated by tabs, and nothing from elements a browser
//! does not render (`script`, `style`, `template`, `noscript`, ...). Styling is not evaluated:
//! text hidden by CSS or the `hidden` attribute counts as visible, and the sanitizer drops both,
//! so a page never hides agency text that `body_text` contains.

use ego_tree::NodeRef;
use html5ever::tendril::TendrilSink;
use html5ever::{QualName, local_name, ns};
use scraper::node::Node;
use scraper::{Html, HtmlTreeSink};

/// Parses `html` as the body of an element, the way ammonia and a browser's `innerHTML` do.
pub fn parse_fragment(html: &str) -> Html {
    html5ever::driver::parse_fragment(
        HtmlTreeSink::new(Html::new_fragment()),
        Default::default(),
        QualName::new(None, ns!(html), local_name!("div")),
        Vec::new(),
        false,
    )
    .one(html)
}

/// The visible text of an HTML fragment.
pub fn visible_text(html: &str) -> String {
    let document = parse_fragment(html);
    let mut text = VisibleText::default();
    text.walk(document.tree.root(), false);
    text.finish()
}

/// The visible text of a one-line field (a headline, a byline): whitespace folded and trimmed.
pub fn fold_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for ch in text.chars() {
        if is_collapsible_space(ch) {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(ch);
        }
    }
    out
}

/// Whitespace that HTML folds: ASCII space, tab, line feed, form feed, carriage return.
/// NBSP and the other Unicode spaces are visible characters and are never folded.
pub fn is_collapsible_space(ch: char) -> bool {
    matches!(ch, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

/// Elements whose content a browser never renders.
pub(crate) fn is_never_rendered(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "template"
            | "noscript"
            | "iframe"
            | "head"
            | "title"
            | "meta"
            | "link"
            | "base"
            | "noembed"
            | "noframes"
            | "frameset"
            | "datalist"
            | "param"
            | "source"
            | "track"
            | "rp"
            | "area"
            | "embed"
            | "img"
            | "input"
            | "textarea"
            | "select"
    )
}

/// Required line breaks around an element, per its default `display`.
pub(crate) fn required_breaks(name: &str) -> u8 {
    match name {
        "p" => 2,
        "address" | "article" | "aside" | "blockquote" | "center" | "dd" | "details" | "dialog"
        | "dir" | "div" | "dl" | "dt" | "fieldset" | "figcaption" | "figure" | "footer"
        | "form" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "header" | "hgroup" | "hr"
        | "legend" | "li" | "main" | "menu" | "nav" | "ol" | "pre" | "section" | "summary"
        | "table" | "caption" | "ul" | "tr" | "listing" | "plaintext" | "xmp" | "option"
        | "optgroup" | "search" => 1,
        _ => 0,
    }
}

pub(crate) fn keeps_whitespace(name: &str) -> bool {
    matches!(name, "pre" | "textarea" | "listing" | "plaintext" | "xmp")
}

/// What a reader sees, built as the markup is walked: text goes straight into `out`; required
/// line breaks wait in `pending_breaks` until more text follows (the most asked for between two
/// pieces of text wins, and none are kept at the ends).
#[derive(Default)]
pub(crate) struct VisibleText {
    out: String,
    /// Where the current line began in `out` (the current line is empty when it equals
    /// `out.len()`).
    line_start: usize,
    pending_breaks: u8,
    pending_space: bool,
}

impl VisibleText {
    /// With room for about `capacity` bytes of text.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            out: String::with_capacity(capacity),
            ..Self::default()
        }
    }

    fn walk(&mut self, node: NodeRef<'_, Node>, preformatted: bool) {
        for child in node.children() {
            match child.value() {
                Node::Text(text) => self.text(text, preformatted),
                Node::Element(element) => {
                    let name = element.name();
                    if is_never_rendered(name) {
                        continue;
                    }
                    if name == "br" {
                        self.line_break();
                        continue;
                    }
                    let after_cell = matches!(name, "td" | "th") && has_previous_cell(child);
                    self.enter(name, after_cell);
                    self.walk(child, preformatted || keeps_whitespace(name));
                    self.leave(name);
                }
                _ => {}
            }
        }
    }

    /// Appends to the current line, first writing the line breaks owed since the text before.
    fn push_line(&mut self, text: &str) {
        if self.out.len() == self.line_start {
            if !self.out.is_empty() {
                for _ in 0..self.pending_breaks {
                    self.out.push('\n');
                }
                self.line_start = self.out.len();
            }
            self.pending_breaks = 0;
        }
        self.out.push_str(text);
    }

    /// A `<br>`.
    pub(crate) fn line_break(&mut self) {
        self.push_line("\n");
        self.pending_space = false;
    }

    /// The start of a rendered element other than `<br>`; `after_cell` says whether a `td` or
    /// `th` sibling came before it (a cell after another cell starts with a tab).
    pub(crate) fn enter(&mut self, name: &str, after_cell: bool) {
        self.enter_with(
            required_breaks(name),
            after_cell && matches!(name, "td" | "th"),
        );
    }

    /// [`Self::enter`] for an element that asks for `breaks` line breaks around it, and is a
    /// cell after another cell when `tab` (it then starts with a tab).
    pub(crate) fn enter_with(&mut self, breaks: u8, tab: bool) {
        if tab {
            self.push_line("\t");
            self.pending_space = false;
        }
        if breaks > 0 {
            self.push_breaks(breaks);
        }
    }

    /// The end of an element [`Self::enter`] was called for.
    pub(crate) fn leave(&mut self, name: &str) {
        self.leave_with(required_breaks(name));
    }

    /// The end of an element [`Self::enter_with`] was called for.
    pub(crate) fn leave_with(&mut self, breaks: u8) {
        if breaks > 0 {
            self.push_breaks(breaks);
        }
    }

    /// A text node; `preformatted` inside `pre` and its kin, where whitespace is kept.
    pub(crate) fn text(&mut self, text: &str, preformatted: bool) {
        if preformatted {
            if self.pending_space && !self.at_line_start() {
                self.push_line(" ");
            }
            self.pending_space = false;
            if !text.is_empty() {
                self.push_line(text);
            }
            return;
        }
        // Text whose only spaces are single ` `s between words folds to itself: one copy.
        if folds_to_itself(text.as_bytes()) {
            let inner = text.strip_prefix(' ').unwrap_or(text);
            if inner.len() < text.len() {
                self.pending_space = true;
            }
            let (inner, trailing) = match inner.strip_suffix(' ') {
                Some(inner) => (inner, true),
                None => (inner, false),
            };
            if !inner.is_empty() {
                if self.pending_space && !self.at_line_start() {
                    self.push_line(" ");
                }
                self.pending_space = false;
                self.push_line(inner);
            }
            if trailing {
                self.pending_space = true;
            }
            return;
        }
        // Word by word: the folding spaces are ASCII, so byte offsets are character boundaries.
        let is_space = |byte: &u8| matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c');
        let mut rest = text;
        while !rest.is_empty() {
            let word_start = rest.bytes().position(|byte| !is_space(&byte));
            let Some(word_start) = word_start else {
                self.pending_space = true;
                break;
            };
            if word_start > 0 {
                self.pending_space = true;
            }
            let word = &rest[word_start..];
            let word_end = word
                .bytes()
                .position(|byte| is_space(&byte))
                .unwrap_or(word.len());
            if self.pending_space && !self.at_line_start() {
                self.push_line(" ");
            }
            self.pending_space = false;
            self.push_line(&word[..word_end]);
            rest = &word[word_end..];
        }
    }

    fn at_line_start(&self) -> bool {
        // Both are ASCII: a last byte of either is that character (a pattern of chars would
        // decode the last character on every text run).
        self.out.len() == self.line_start
            || matches!(self.out.as_bytes().last(), Some(b'\n' | b'\t'))
    }

    fn push_breaks(&mut self, count: u8) {
        self.pending_space = false;
        if self.out.len() != self.line_start {
            // The line had text: the breaks owed before it were written with it.
            self.line_start = self.out.len();
            self.pending_breaks = count;
        } else {
            self.pending_breaks = self.pending_breaks.max(count);
        }
    }

    pub(crate) fn finish(mut self) -> String {
        // Line breaks and folded spaces at the very start and end are not visible.
        let is_edge = |ch: char| matches!(ch, '\n' | ' ' | '\t');
        let kept_end = self.out.trim_end_matches(is_edge).len();
        self.out.truncate(kept_end);
        let leading = self.out.len() - self.out.trim_start_matches(is_edge).len();
        if leading > 0 {
            self.out.drain(..leading);
        }
        self.out
    }
}

/// Whether text surely folds to itself: no byte below U+0020 (so no tab, line feed, carriage
/// return or form feed) and no two spaces in a row. Text runs are short, so this reads eight
/// bytes at a time in a `u64` (vector loops spent most of their time in their scalar tails, and
/// a substring search set up a searcher for each run).
fn folds_to_itself(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH_BITS: u64 = u64::from_le_bytes([0x80; 8]);
    const LOW_BITS: u64 = !HIGH_BITS;
    const SPACES: u64 = u64::from_le_bytes([b' '; 8]);
    let mut found = 0u64;
    let mut last_was_space = false;
    let mut words = bytes.chunks_exact(8);
    for chunk in words.by_ref() {
        let Ok(array) = <[u8; 8]>::try_from(chunk) else {
            return false;
        };
        let word = u64::from_le_bytes(array);
        // Some byte is below 0x20 ("has less than" from Bit Twiddling Hacks: exact as to whether
        // any byte is, for limits up to 0x80).
        found |= word.wrapping_sub(ONES * 0x20) & !word & HIGH_BITS;
        // The high bit of each byte that is a space, exactly (no carry crosses bytes).
        let differs = word ^ SPACES;
        let spaces = !(((differs & LOW_BITS).wrapping_add(LOW_BITS)) | differs) & HIGH_BITS;
        // A space followed by a space in this word, or across from the last word.
        found |= spaces & (spaces >> 8);
        found |= (u64::from(last_was_space) << 7) & spaces;
        last_was_space = spaces >> 63 != 0;
    }
    if found != 0 {
        return false;
    }
    for &byte in words.remainder() {
        if byte < 0x20 || (byte == b' ' && last_was_space) {
            return false;
        }
        last_was_space = byte == b' ';
    }
    true
}

fn has_previous_cell(node: NodeRef<'_, Node>) -> bool {
    node.prev_siblings().any(|sibling| {
        sibling
            .value()
            .as_element()
            .is_some_and(|element| matches!(element.name(), "td" | "th"))
    })
}

#[cfg(test)]
mod tests {

    /// Every place a double space or a control byte can fall in and across eight-byte words.
    #[test]
    fn folds_to_itself_sees_a_double_space_or_a_control_anywhere() {
        for at in 0..23 {
            let mut text = vec![b'a'; 24];
            text[at] = b' ';
            assert!(folds_to_itself(&text), "single space at {at}");
            text[at + 1] = b' ';
            assert!(!folds_to_itself(&text), "double space at {at}");
            let mut text = vec![b'a'; 24];
            text[at] = b'\n';
            assert!(!folds_to_itself(&text), "line feed at {at}");
        }
    }

    proptest::proptest! {
        #[test]
        fn folds_to_itself_is_no_control_byte_and_no_double_space(
            text in proptest::collection::vec(
                proptest::prop_oneof![
                    6 => proptest::strategy::Just('a'),
                    3 => proptest::strategy::Just(' '),
                    1 => proptest::sample::select(vec!['\t', '\n', '\r', '\x0c', '\x01', '\x1f', 'é', '\u{a0}']),
                ],
                0..40,
            )
            .prop_map(|chars| chars.into_iter().collect::<String>())
        ) {
            let bytes = text.as_bytes();
            let expected = !bytes.iter().any(|&byte| byte < 0x20)
                && !bytes.windows(2).any(|pair| pair == b"  ");
            proptest::prop_assert_eq!(folds_to_itself(bytes), expected, "{:?}", text);
        }
    }
    use super::*;
    use proptest::strategy::Strategy;

    /// The visible-text rules as first written (pieces of text and breaks, joined at the end,
    /// folding one character at a time): the reference the streaming version is held to.
    #[derive(Default)]
    struct Reference {
        pieces: Vec<Result<String, u8>>,
        line: String,
        pending_space: bool,
    }

    impl Reference {
        fn at_line_start(&self) -> bool {
            self.line.is_empty() || self.line.ends_with(['\n', '\t'])
        }

        fn text(&mut self, text: &str, preformatted: bool) {
            if preformatted {
                if self.pending_space && !self.at_line_start() {
                    self.line.push(' ');
                }
                self.pending_space = false;
                self.line.push_str(text);
                return;
            }
            for ch in text.chars() {
                if is_collapsible_space(ch) {
                    self.pending_space = true;
                } else {
                    if self.pending_space && !self.at_line_start() {
                        self.line.push(' ');
                    }
                    self.pending_space = false;
                    self.line.push(ch);
                }
            }
        }

        fn breaks(&mut self, count: u8) {
            self.pending_space = false;
            if !self.line.is_empty() {
                self.pieces.push(Ok(std::mem::take(&mut self.line)));
            }
            match self.pieces.last_mut() {
                Some(Err(existing)) => *existing = (*existing).max(count),
                _ => self.pieces.push(Err(count)),
            }
        }

        fn finish(mut self) -> String {
            if !self.line.is_empty() {
                self.pieces.push(Ok(std::mem::take(&mut self.line)));
            }
            let mut out = String::new();
            let mut pending = 0u8;
            for piece in self.pieces {
                match piece {
                    Err(count) => pending = pending.max(count),
                    Ok(text) => {
                        if !out.is_empty() {
                            out.extend(std::iter::repeat_n('\n', pending.into()));
                        }
                        pending = 0;
                        out.push_str(&text);
                    }
                }
            }
            out.trim_matches(|ch| matches!(ch, '\n' | ' ' | '\t'))
                .to_string()
        }
    }

    #[derive(Debug, Clone)]
    enum Event {
        Text(String, bool),
        LineBreak,
        Enter(&'static str, bool),
        Leave(&'static str),
    }

    fn events() -> impl Strategy<Value = Vec<Event>> {
        let event = proptest::prop_oneof![
            4 => ("[a \t\n\r\u{c}\u{a0}é\u{5d0}]{0,8}", proptest::bool::ANY)
                .prop_map(|(text, pre)| Event::Text(text, pre)),
            1 => proptest::strategy::Just(Event::LineBreak),
            2 => (proptest::sample::select(vec!["p", "div", "td", "th", "span", "tr"]), proptest::bool::ANY)
                .prop_map(|(name, after_cell)| Event::Enter(name, after_cell)),
            2 => proptest::sample::select(vec!["p", "div", "td", "span", "li"]).prop_map(Event::Leave),
        ];
        proptest::collection::vec(event, 0..16)
    }

    proptest::proptest! {
        #[test]
        fn streaming_visible_text_equals_the_reference(events in events()) {
            let mut streaming = VisibleText::default();
            let mut reference = Reference::default();
            for event in &events {
                match event {
                    Event::Text(text, pre) => {
                        streaming.text(text, *pre);
                        reference.text(text, *pre);
                    }
                    Event::LineBreak => {
                        streaming.line_break();
                        reference.line.push('\n');
                        reference.pending_space = false;
                    }
                    Event::Enter(name, after_cell) => {
                        streaming.enter(name, *after_cell);
                        if *after_cell && matches!(*name, "td" | "th") {
                            reference.line.push('\t');
                            reference.pending_space = false;
                        }
                        if required_breaks(name) > 0 {
                            reference.breaks(required_breaks(name));
                        }
                    }
                    Event::Leave(name) => {
                        streaming.leave(name);
                        if required_breaks(name) > 0 {
                            reference.breaks(required_breaks(name));
                        }
                    }
                }
            }
            proptest::prop_assert_eq!(streaming.finish(), reference.finish());
        }
    }

    #[test]
    fn folds_whitespace_like_a_browser() {
        assert_eq!(visible_text("  a \n\t b  "), "a b");
        assert_eq!(visible_text("a<span> </span>b"), "a b");
        assert_eq!(visible_text("a<b>b</b>c"), "abc");
    }

    #[test]
    fn keeps_nbsp_soft_hyphen_and_zwj() {
        let text = "a\u{a0}\u{a0}b soft\u{ad}hyphen 👩\u{200d}👩\u{200d}👧";
        assert_eq!(visible_text(text), text);
    }

    #[test]
    fn block_boundaries_become_line_breaks() {
        assert_eq!(visible_text("<p>one</p>\n  <p>two</p>"), "one\n\ntwo");
        assert_eq!(visible_text("<div>one</div><div>two</div>"), "one\ntwo");
        assert_eq!(visible_text("<ul><li>a</li> <li>b</li></ul>"), "a\nb");
        assert_eq!(visible_text("a <br> b"), "a\nb");
    }

    #[test]
    fn tables_use_tabs_and_lines() {
        assert_eq!(
            visible_text(
                "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>"
            ),
            "a\tb\nc\td"
        );
    }

    #[test]
    fn preformatted_text_keeps_its_spaces() {
        assert_eq!(visible_text("<pre>a   b\n  c</pre>"), "a   b\n  c");
    }

    #[test]
    fn invisible_elements_and_comments_are_not_text() {
        assert_eq!(
            visible_text("a<script>x()</script><style>p{}</style><!-- c -->b<span hidden>h</span>"),
            "abh"
        );
    }

    #[test]
    fn entities_are_decoded() {
        assert_eq!(visible_text("AT&amp;T &lt;b&gt; &eacute;"), "AT&T <b> é");
    }

    #[test]
    fn fold_line_trims_and_folds() {
        assert_eq!(fold_line("  Hello \n  world\u{a0} "), "Hello world\u{a0}");
    }
}
