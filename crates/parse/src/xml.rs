//! A small, tolerant XML tree for feed documents, built on quick-xml's tokenizer.
//!
//! Feeds in the wild are often not well-formed. Instead of failing the whole document, errors are
//! recorded on the innermost open element (with their byte offset) and reading resumes at the
//! next tag, so a format parser can skip just the broken item. External entities are never
//! resolved and DTD entities are never expanded (no XXE, no entity bombs); HTML named entities are
//! decoded because feeds use them without declaring them. Depth, element count and attribute
//! size are bounded.

use quick_xml::events::Event;
use quick_xml::reader::Reader;
use std::borrow::Cow;

pub const NS_ATOM: &str = "http://www.w3.org/2005/Atom";
/// Atom 0.3, the pre-standard draft some feeds still serve.
pub const NS_ATOM03: &str = "http://purl.org/atom/ns#";
pub const NS_CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";
pub const NS_DC: &str = "http://purl.org/dc/elements/1.1/";
pub const NS_RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
pub const NS_RSS1: &str = "http://purl.org/rss/1.0/";
pub const NS_RSS090: &str = "http://my.netscape.com/rdf/simple/0.9/";
pub const NS_MEDIA: &str = "http://search.yahoo.com/mrss/";
pub const NS_XHTML: &str = "http://www.w3.org/1999/xhtml";
pub const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// Limits that keep hostile documents from exhausting memory or time.
#[derive(Debug, Clone, Copy)]
pub struct XmlLimits {
    pub max_depth: usize,
    pub max_elements: usize,
    pub max_attribute_len: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        XmlLimits {
            max_depth: 256,
            max_elements: 2_000_000,
            max_attribute_len: 64 * 1024,
        }
    }
}

/// The tree borrows its names and texts from the document's text wherever they are written
/// there as they read (no reference to decode), so reading a feed copies little: a CDATA body
/// is a slice of the payload until a format reader takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute<'t> {
    /// Local name (without prefix).
    pub name: Cow<'t, str>,
    /// Namespace URI for prefixed attributes (`xml:lang` → NS_XML).
    pub ns: Option<Cow<'t, str>>,
    pub value: Cow<'t, str>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum XmlNode<'t> {
    /// Boxed, so that a node is two words and a parent's list of children stays small.
    Element(Box<Element<'t>>),
    Text(Cow<'t, str>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Element<'t> {
    /// Local name (without prefix).
    pub name: Cow<'t, str>,
    /// The prefix as written, kept to serialize XHTML content back.
    pub prefix: Option<Cow<'t, str>>,
    /// Resolved namespace URI; for an undeclared prefix, a well-known prefix's usual namespace.
    pub ns: Option<Cow<'t, str>>,
    pub attrs: Vec<Attribute<'t>>,
    pub children: Vec<XmlNode<'t>>,
    /// Byte offset of the start tag in the decoded text.
    pub offset: usize,
    /// The first well-formedness error found inside this element: (byte offset, message).
    pub error: Option<(usize, String)>,
    /// Whether a descendant has an error, so an item without one is not walked to find it.
    error_inside: bool,
}

/// A failure that stops reading the document altogether.
#[derive(Debug, Clone, PartialEq)]
pub enum Fatal {
    NoRootElement(usize, String),
    TooManyElements(usize),
}

impl<'t> Element<'t> {
    pub fn is(&self, ns: Option<&str>, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == ns
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element<'t>> {
        self.children.iter().filter_map(|node| match node {
            XmlNode::Element(element) => Some(&**element),
            XmlNode::Text(_) => None,
        })
    }

    /// The first child element with this name in one of these namespaces (`None` = no namespace).
    pub fn child(&self, namespaces: &[Option<&str>], name: &str) -> Option<&Element<'t>> {
        self.elements()
            .find(|element| element.name == name && namespaces.contains(&element.ns.as_deref()))
    }

    pub fn children_named<'a>(
        &'a self,
        namespaces: &'a [Option<&'a str>],
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element<'t>> + 'a {
        self.elements().filter(move |element| {
            element.name == name && namespaces.contains(&element.ns.as_deref())
        })
    }

    /// All text inside the element, markup ignored.
    pub fn text(&self) -> String {
        self.text_cow().into_owned()
    }

    /// The same, borrowed when the element holds one piece of text (the usual case), which
    /// then need not be copied.
    fn text_cow(&self) -> Cow<'_, str> {
        match self.children.as_slice() {
            [] => Cow::Borrowed(""),
            [XmlNode::Text(text)] => Cow::Borrowed(text),
            _ => {
                let mut out = String::new();
                self.collect_text(&mut out);
                Cow::Owned(out)
            }
        }
    }

    fn collect_text(&self, out: &mut String) {
        for node in &self.children {
            match node {
                XmlNode::Text(text) => out.push_str(text),
                XmlNode::Element(element) => element.collect_text(out),
            }
        }
    }

    /// The element's trimmed text, or `None` when empty.
    pub fn text_opt(&self) -> Option<String> {
        let text = self.text_cow();
        let trimmed = text.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_string())
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|attribute| attribute.name == name && attribute.ns.is_none())
            .map(|attribute| &*attribute.value)
    }

    pub fn attr_ns(&self, ns: &str, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|attribute| attribute.name == name && attribute.ns.as_deref() == Some(ns))
            .map(|attribute| &*attribute.value)
    }

    /// The earliest error inside this element or any descendant.
    pub fn first_error(&self) -> Option<&(usize, String)> {
        let own = self.error.as_ref();
        if !self.error_inside {
            return own;
        }
        let inner = self
            .elements()
            .filter_map(Element::first_error)
            .min_by_key(|(offset, _)| *offset);
        match (own, inner) {
            (Some(own), Some(inner)) => Some(if inner.0 < own.0 { inner } else { own }),
            (own, inner) => own.or(inner),
        }
    }

    /// The children serialized as HTML (for Atom `type="xhtml"` content).
    pub fn inner_html(&self) -> String {
        self.inner_html_mapped(&|_| Markup::Keep)
    }

    /// The children serialized as HTML, with vocabulary-specific elements (NITF's `hl2`, `bq` …)
    /// renamed to their HTML equivalents or dropped, as `map` says.
    pub fn inner_html_mapped(&self, map: &dyn Fn(&str) -> Markup) -> String {
        let mut out = String::new();
        for node in &self.children {
            serialize_node(node, map, &mut out);
        }
        out
    }
}

/// What to do with an element when serializing another vocabulary as HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    Keep,
    Rename(&'static str),
    /// Leave the element and its content out (metadata, media handled elsewhere).
    Drop,
}

fn serialize_node(node: &XmlNode<'_>, map: &dyn Fn(&str) -> Markup, out: &mut String) {
    match node {
        XmlNode::Text(text) => escape_text(text, out),
        XmlNode::Element(element) => {
            let name = match map(&element.name) {
                Markup::Drop => return,
                Markup::Keep => &*element.name,
                Markup::Rename(to) => to,
            };
            out.push('<');
            out.push_str(name);
            for attribute in &element.attrs {
                if attribute.ns.is_some() && attribute.ns.as_deref() != Some(NS_XML) {
                    continue;
                }
                out.push(' ');
                if attribute.ns.is_some() {
                    out.push_str("xml:");
                }
                out.push_str(&attribute.name);
                out.push_str("=\"");
                escape_text(&attribute.value, out);
                out.push('"');
            }
            out.push('>');
            // Void elements have no end tag in HTML: `</br>` would be read as a second `<br>`.
            if matches!(
                name,
                "br" | "img"
                    | "hr"
                    | "wbr"
                    | "area"
                    | "col"
                    | "embed"
                    | "input"
                    | "source"
                    | "track"
                    | "meta"
                    | "link"
                    | "base"
                    | "param"
            ) {
                return;
            }
            for child in &element.children {
                serialize_node(child, map, out);
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
}

/// Escapes text and attribute values for HTML output. Unlike quick-xml's `escape`, `'` stays as
/// it is: `&apos;` is XML, not HTML 4, and agency markup is re-serialized for HTML readers.
fn escape_text(text: &str, out: &mut String) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(ch),
        }
    }
}

/// Decodes character and entity references the way a forgiving feed reader does: the five XML
/// entities, numeric references, and HTML's named entities. Anything else, including a stray `&`
/// or an entity declared in a DTD, is kept literally: nothing is dropped and nothing expands.
pub fn decode_references(raw: &str) -> String {
    if !raw.contains('&') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let reference_end = rest[1..]
            .char_indices()
            .take(40)
            .find(|(_, ch)| *ch == ';' || *ch == '&' || ch.is_whitespace() || *ch == '<')
            .filter(|(_, ch)| *ch == ';')
            .map(|(index, _)| index + 1);
        let decoded =
            reference_end.and_then(|end| decode_reference(&rest[1..end]).map(|text| (text, end)));
        match decoded {
            Some((text, end)) => {
                out.push_str(&text);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_reference(name: &str) -> Option<String> {
    if let Some(number) = name.strip_prefix('#') {
        let code = if let Some(hex) = number.strip_prefix(['x', 'X']) {
            u32::from_str_radix(hex, 16).ok()?
        } else {
            number.parse::<u32>().ok()?
        };
        // Windows-1252 code points sent as numeric references (a common agency habit) are mapped
        // as browsers map them; zero and surrogates are not characters and stay literal.
        let ch = match code {
            0x80..=0x9F => {
                let byte = [code as u8];
                let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&byte);
                return Some(text.into_owned());
            }
            0 => return None,
            _ => char::from_u32(code)?,
        };
        return Some(ch.to_string());
    }
    match name {
        "amp" => return Some("&".into()),
        "lt" => return Some("<".into()),
        "gt" => return Some(">".into()),
        "quot" => return Some("\"".into()),
        "apos" => return Some("'".into()),
        _ => {}
    }
    let key = format!("{name};");
    let &(first, second) = markup5ever::data::NAMED_ENTITIES.get(key.as_str())?;
    if first == 0 {
        return None;
    }
    let mut text = String::new();
    text.push(char::from_u32(first)?);
    if second != 0 {
        text.push(char::from_u32(second)?);
    }
    Some(text)
}

/// Prefixes agencies use without declaring them, mapped to the namespace they always mean.
fn well_known_prefix(prefix: &str) -> Option<&'static str> {
    match prefix {
        "content" => Some(NS_CONTENT),
        "dc" => Some(NS_DC),
        "atom" => Some(NS_ATOM),
        "media" => Some(NS_MEDIA),
        "rdf" => Some(NS_RDF),
        "xml" => Some(NS_XML),
        _ => None,
    }
}

struct Frame<'t> {
    element: Box<Element<'t>>,
    qname: Cow<'t, str>,
    /// Namespace declarations made on this element: (prefix or "" for default, uri).
    declarations: Vec<(Cow<'t, str>, Cow<'t, str>)>,
}

struct Builder<'t, 'r> {
    text: &'t str,
    /// Offered each element as it closes; what it takes stays out of the tree.
    records: &'r mut dyn Records<'t>,
    limits: XmlLimits,
    stack: Vec<Frame<'t>>,
    root: Option<Element<'t>>,
    elements: usize,
    /// Elements opened beyond the depth limit, skipped until they close.
    skipped_depth: usize,
    /// Errors outside any element (before the root, after it).
    document_errors: Vec<(usize, String)>,
}

/// The result of reading a document.
#[derive(Debug)]
pub struct Document<'t> {
    pub root: Element<'t>,
    /// Errors that are not inside the root element.
    pub errors: Vec<(usize, String)>,
}

/// Takes elements out of the tree as they close, for a format reader that reads its entries
/// then and there. An entry read while its elements are still in the cache, and freed before
/// the next one is built, costs far less than one read from a whole document's tree (which
/// does not fit in the cache) after the document ends; and the tree stays small.
pub trait Records<'t> {
    /// Offered every element as it closes (with its descendants, all closed), the element it
    /// closes in, how many elements are open around it (1: the parent is the root) and the
    /// root. `true` takes it: it is then dropped, not added to the tree.
    fn take(
        &mut self,
        element: &Element<'t>,
        parent: &Element<'t>,
        depth: usize,
        root: &Element<'t>,
    ) -> bool;
}

/// Takes nothing: the whole document becomes the tree.
struct WholeTree;

impl<'t> Records<'t> for WholeTree {
    fn take(&mut self, _: &Element<'t>, _: &Element<'t>, _: usize, _: &Element<'t>) -> bool {
        false
    }
}

/// Reads `text` into a tree. Fails only when there is no root element at all or a hard limit
/// is passed; every other problem is recorded on the element where it happened.
pub fn read_document(text: &str, limits: XmlLimits) -> Result<Document<'_>, Fatal> {
    read_document_with(text, limits, &mut WholeTree)
}

/// [`read_document`], offering each element to `records` as it closes; the tree holds what
/// `records` did not take.
pub fn read_document_with<'t>(
    text: &'t str,
    limits: XmlLimits,
    records: &mut dyn Records<'t>,
) -> Result<Document<'t>, Fatal> {
    let mut builder = Builder {
        text,
        records,
        limits,
        stack: Vec::new(),
        root: None,
        elements: 0,
        skipped_depth: 0,
        document_errors: Vec::new(),
    };
    let mut start = 0usize;
    'resume: while start < text.len() {
        let mut reader = Reader::from_str(&text[start..]);
        {
            let config = reader.config_mut();
            config.check_end_names = false;
            config.allow_unmatched_ends = true;
            config.check_comments = false;
            config.expand_empty_elements = false;
        }
        loop {
            let event = reader.read_event();
            let at = start + reader.buffer_position() as usize;
            match event {
                Ok(Event::Start(tag)) => {
                    let offset = start + reader.buffer_position() as usize - tag.len() - 2;
                    builder.open(&tag, offset)?;
                }
                Ok(Event::Empty(tag)) => {
                    let offset = start + reader.buffer_position() as usize - tag.len() - 3;
                    builder.open(&tag, offset)?;
                    let qname = text_of(text, tag.name().into_inner());
                    builder.close(&qname, at);
                }
                Ok(Event::End(tag)) => {
                    let qname = text_of(text, tag.name().into_inner());
                    builder.close(&qname, at.saturating_sub(tag.len() + 3));
                }
                Ok(Event::Text(raw)) => {
                    builder.text(decoded(text_of(text, &raw)), at);
                }
                Ok(Event::CData(raw)) => {
                    builder.text(text_of(text, &raw), at);
                }
                Ok(Event::Eof) => break 'resume,
                Ok(_) => {}
                Err(error) => {
                    let error_at = start + reader.error_position() as usize;
                    builder.error(error_at, error.to_string());
                    // Resume at the next tag after the error.
                    let resume_from = (start + reader.buffer_position() as usize).max(error_at + 1);
                    match text.get(resume_from..).and_then(|rest| rest.find('<')) {
                        Some(next) => {
                            start = resume_from + next;
                            continue 'resume;
                        }
                        None => break 'resume,
                    }
                }
            }
        }
    }
    builder.finish()
}

/// `bytes` as text. Every event of a reader over `text` borrows from it, so this is usually a
/// slice of `text`, which needs no second UTF-8 check or copy; anything else is decoded.
fn text_of<'t>(text: &'t str, bytes: &[u8]) -> Cow<'t, str> {
    let base = text.as_ptr() as usize;
    let at = bytes.as_ptr() as usize;
    if at >= base && at + bytes.len() <= base + text.len() {
        let start = at - base;
        if let Some(slice) = text.get(start..start + bytes.len()) {
            return Cow::Borrowed(slice);
        }
    }
    Cow::Owned(String::from_utf8_lossy(bytes).into_owned())
}

/// `raw` with its references decoded; still borrowed when it has none.
fn decoded(raw: Cow<'_, str>) -> Cow<'_, str> {
    if raw.contains('&') {
        Cow::Owned(decode_references(&raw))
    } else {
        raw
    }
}

/// `text` without `prefix` (`None` when it does not start with it), still borrowed when `text` is.
fn strip_prefix_cow<'t>(text: &Cow<'t, str>, prefix: &str) -> Option<Cow<'t, str>> {
    match text {
        Cow::Borrowed(text) => text.strip_prefix(prefix).map(Cow::Borrowed),
        Cow::Owned(text) => text
            .strip_prefix(prefix)
            .map(|rest| Cow::Owned(rest.to_string())),
    }
}

/// A qualified name as (prefix, local name), each still borrowed when the name is.
fn split_qname_cow<'t>(qname: &Cow<'t, str>) -> (Option<Cow<'t, str>>, Cow<'t, str>) {
    match qname {
        Cow::Borrowed(qname) => {
            let (prefix, local) = split_qname(qname);
            (prefix.map(Cow::Borrowed), Cow::Borrowed(local))
        }
        Cow::Owned(qname) => {
            let (prefix, local) = split_qname(qname);
            (
                prefix.map(|prefix| Cow::Owned(prefix.to_string())),
                Cow::Owned(local.to_string()),
            )
        }
    }
}

impl<'t> Builder<'t, '_> {
    fn open(
        &mut self,
        tag: &quick_xml::events::BytesStart<'_>,
        offset: usize,
    ) -> Result<(), Fatal> {
        if self.skipped_depth > 0 || self.stack.len() >= self.limits.max_depth {
            if self.skipped_depth == 0 {
                let limit = self.limits.max_depth;
                self.error(
                    offset,
                    format!("elements nested deeper than {limit} are skipped"),
                );
            }
            self.skipped_depth += 1;
            return Ok(());
        }
        if self.root.is_some() && self.stack.is_empty() {
            self.document_errors
                .push((offset, "content after the root element is ignored".into()));
            self.skipped_depth += 1;
            return Ok(());
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(Fatal::TooManyElements(self.limits.max_elements));
        }
        let qname = text_of(self.text, tag.name().into_inner());
        let mut declarations = Vec::new();
        let mut raw_attrs = Vec::new();
        let mut attr_error = None;
        for attribute in tag.attributes().with_checks(false) {
            match attribute {
                Ok(attribute) => {
                    let key = text_of(self.text, attribute.key.into_inner());
                    let raw_value = text_of(self.text, &attribute.value);
                    if raw_value.len() > self.limits.max_attribute_len {
                        attr_error = Some(format!(
                            "attribute {key} is longer than {} bytes and was dropped",
                            self.limits.max_attribute_len
                        ));
                        continue;
                    }
                    let value = decoded(raw_value);
                    if key == "xmlns" {
                        declarations.push((Cow::Borrowed(""), value));
                    } else if let Some(prefix) = strip_prefix_cow(&key, "xmlns:") {
                        declarations.push((prefix, value));
                    } else {
                        raw_attrs.push((key, value));
                    }
                }
                Err(error) => attr_error = Some(format!("bad attribute: {error}")),
            }
        }
        let (prefix, local) = split_qname_cow(&qname);
        let ns = self.resolve(
            prefix.as_deref().unwrap_or(""),
            &declarations,
            prefix.is_none(),
        );
        let attrs = raw_attrs
            .into_iter()
            .map(|(key, value)| {
                let (attr_prefix, attr_local) = split_qname_cow(&key);
                let attr_ns = attr_prefix.and_then(|p| self.resolve(&p, &declarations, false));
                Attribute {
                    name: attr_local,
                    ns: attr_ns,
                    value,
                }
            })
            .collect();
        let element = Box::new(Element {
            name: local,
            prefix,
            ns,
            attrs,
            children: Vec::new(),
            offset,
            error: attr_error.map(|message| (offset, message)),
            error_inside: false,
        });
        self.stack.push(Frame {
            element,
            qname,
            declarations,
        });
        Ok(())
    }

    fn resolve(
        &self,
        prefix: &str,
        own: &[(Cow<'t, str>, Cow<'t, str>)],
        is_default: bool,
    ) -> Option<Cow<'t, str>> {
        if prefix == "xml" {
            return Some(Cow::Borrowed(NS_XML));
        }
        let declared = own
            .iter()
            .rev()
            .chain(
                self.stack
                    .iter()
                    .rev()
                    .flat_map(|frame| frame.declarations.iter().rev()),
            )
            .find(|(declared_prefix, _)| declared_prefix == prefix)
            .map(|(_, uri)| uri.clone());
        match declared {
            Some(uri) if uri.is_empty() => None,
            Some(uri) => Some(uri),
            None if is_default => None,
            None => Some(
                well_known_prefix(prefix)
                    .map(Cow::Borrowed)
                    .unwrap_or_else(|| Cow::Owned(format!("urn:undeclared-prefix:{prefix}"))),
            ),
        }
    }

    fn close(&mut self, qname: &str, at: usize) {
        if self.skipped_depth > 0 {
            self.skipped_depth -= 1;
            return;
        }
        let Some(depth) = self.stack.iter().rposition(|frame| frame.qname == qname) else {
            self.error(at, format!("unexpected closing tag </{qname}>"));
            return;
        };
        while self.stack.len() > depth + 1 {
            if let Some(mut frame) = self.stack.pop() {
                let message = format!("element <{}> is not closed", frame.qname);
                frame
                    .element
                    .error
                    .get_or_insert((frame.element.offset, message.clone()));
                self.attach(frame.element);
                self.error(at, message);
            }
        }
        if let Some(frame) = self.stack.pop() {
            self.attach(frame.element);
        }
    }

    /// Adds a closed element to its parent. A closed element is off the stack, so no error is
    /// recorded on it or inside it afterwards: its `error_inside` is final.
    fn attach(&mut self, element: Box<Element<'t>>) {
        if let (Some(parent), Some(root)) = (self.stack.last(), self.stack.first())
            && self
                .records
                .take(&element, &parent.element, self.stack.len(), &root.element)
        {
            return;
        }
        match self.stack.last_mut() {
            Some(parent) => {
                parent.element.error_inside |= element.error.is_some() || element.error_inside;
                parent.element.children.push(XmlNode::Element(element));
            }
            None => self.root = Some(*element),
        }
    }

    fn text(&mut self, text: Cow<'t, str>, at: usize) {
        if self.skipped_depth > 0 {
            return;
        }
        match self.stack.last_mut() {
            Some(frame) => match frame.element.children.last_mut() {
                Some(XmlNode::Text(existing)) => existing.to_mut().push_str(&text),
                _ => frame.element.children.push(XmlNode::Text(text)),
            },
            None => {
                if !text.trim().is_empty() {
                    self.document_errors
                        .push((at, "text outside the root element is ignored".into()));
                }
            }
        }
    }

    fn error(&mut self, at: usize, message: String) {
        match self.stack.last_mut() {
            Some(frame) => {
                frame.element.error.get_or_insert((at, message));
            }
            None => self.document_errors.push((at, message)),
        }
    }

    fn finish(mut self) -> Result<Document<'t>, Fatal> {
        let end = self.text.len();
        if !self.stack.is_empty() {
            let open: Vec<&str> = self.stack.iter().map(|frame| &*frame.qname).collect();
            let message = format!(
                "the document ends before these elements are closed: {}",
                open.join(" > ")
            );
            while let Some(mut frame) = self.stack.pop() {
                frame.element.error.get_or_insert((end, message.clone()));
                self.attach(frame.element);
            }
        }
        match self.root {
            Some(root) => Ok(Document {
                root,
                errors: self.document_errors,
            }),
            None => {
                let (at, message) = self
                    .document_errors
                    .into_iter()
                    .next()
                    .unwrap_or((0, "the document has no root element".to_string()));
                Err(Fatal::NoRootElement(at, message))
            }
        }
    }
}

fn split_qname(qname: &str) -> (Option<&str>, &str) {
    match qname.split_once(':') {
        Some((prefix, local)) if !prefix.is_empty() && !local.is_empty() => (Some(prefix), local),
        _ => (None, qname),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Document<'_> {
        match read_document(text, XmlLimits::default()) {
            Ok(document) => document,
            Err(fatal) => panic!("{fatal:?}"),
        }
    }

    #[test]
    fn namespaces_resolve_and_undeclared_prefixes_are_tolerated() {
        let document = read(
            r#"<rss xmlns:dc="http://purl.org/dc/elements/1.1/"><item><dc:creator>A</dc:creator><content:encoded>B</content:encoded></item></rss>"#,
        );
        let item = document
            .root
            .child(&[None], "item")
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            item.child(&[Some(NS_DC)], "creator").map(Element::text),
            Some("A".into())
        );
        assert_eq!(
            item.child(&[Some(NS_CONTENT)], "encoded")
                .map(Element::text),
            Some("B".into())
        );
    }

    #[test]
    fn entities_decode_and_unknown_ones_stay() {
        assert_eq!(
            decode_references("AT&amp;T &nbsp;&eacute;&#233;&#x41; &bogus; a & b &#150;"),
            "AT&T \u{a0}ééA &bogus; a & b \u{2013}"
        );
    }

    #[test]
    fn cdata_is_kept_verbatim() {
        let document = read("<a><![CDATA[<p>x &amp; y</p>]]></a>");
        assert_eq!(document.root.text(), "<p>x &amp; y</p>");
    }

    #[test]
    fn a_broken_element_is_isolated() {
        let document = read(
            "<rss><item><title>one</title></item><item><title>two</broken></item><item><title>three</title></item></rss>",
        );
        let items: Vec<&Element> = document.root.children_named(&[None], "item").collect();
        assert_eq!(items.len(), 3);
        assert!(items[0].first_error().is_none());
        assert!(items[1].first_error().is_some());
        assert!(items[2].first_error().is_none());
        assert_eq!(items[2].text(), "three");
    }

    #[test]
    fn an_error_deep_inside_an_item_is_found_from_the_item() {
        let document = read(
            "<rss><item><title>one</title></item><item><title>a <b x=1>two</b></title></item></rss>",
        );
        let items: Vec<&Element> = document.root.children_named(&[None], "item").collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].first_error().is_none());
        assert!(
            items[1].error.is_none(),
            "the error is on <b>, not on the item"
        );
        let (offset, message) = items[1].first_error().cloned().unwrap_or_default();
        assert!(message.contains("attribute"), "{message}");
        assert_eq!(offset, 51, "the offset of <b>");
        assert!(document.root.first_error().is_some());
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let text = format!("<a>{}{}</a>", "<b>".repeat(10_000), "</b>".repeat(10_000));
        let document = read(&text);
        assert!(document.root.first_error().is_some());
    }

    #[test]
    fn entity_declarations_are_never_expanded() {
        let text = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><a>&lol2;</a>"#;
        assert_eq!(read(text).root.text(), "&lol2;");
    }

    #[test]
    fn no_root_is_fatal() {
        assert!(read_document("just text", XmlLimits::default()).is_err());
    }
}
