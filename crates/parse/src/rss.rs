//! RSS 2.0 (and the 0.9x family) and RSS 1.0 / RDF: channel items with `content:encoded`,
//! `xhtml:body` or `fullitem` bodies,
//! Dublin Core (`dc:creator`, `dc:date`, `dc:rights`, `dc:language`), enclosures and Media RSS.

use crate::common::{ItemFields, ItemOutcome, non_empty, resolve, xml_base, xml_base_from};
use crate::dates::parse_date;
use crate::xml::{
    Element, NS_CONTENT, NS_DC, NS_MEDIA, NS_RDF, NS_RSS1, NS_RSS090, NS_XHTML, NS_XML, Records,
};
use crate::{FeedMeta, FeedText};
use url::Url;
use verbatim_item::{Association, SourceBody};

/// Namespaces an RSS element may be in: none (2.0), or the RSS 1.0 / 0.90 namespaces.
const RSS: &[Option<&str>] = &[
    None,
    Some(NS_RSS1),
    Some(NS_RSS090),
    // RSS 2.0 under the namespaces UserLand and Harvard once published for it.
    Some("http://backend.userland.com/rss"),
    Some("http://backend.userland.com/rss2"),
    Some("http://backend.userland.com/rss2.1"),
    Some("http://blogs.law.harvard.edu/tech/rss"),
];
const DCTERMS: &[Option<&str>] = &[Some("http://purl.org/dc/terms/")];
const DC: &[Option<&str>] = &[Some(NS_DC)];

/// The channel's own title, description, link, language and rights.
pub fn feed_meta(root: &Element, document_base: Option<&Url>) -> FeedMeta {
    let Some(channel) = root.child(RSS, "channel") else {
        return FeedMeta::default();
    };
    let base = xml_base(xml_base(document_base, root).as_ref(), channel);
    let text_of = |namespaces: &[Option<&str>], name: &str| {
        channel.child(namespaces, name).and_then(Element::text_opt)
    };
    // RSS gives no types; in practice channel descriptions carry markup and titles do not.
    FeedMeta {
        title: text_of(RSS, "title")
            .or_else(|| text_of(DC, "title"))
            .map(FeedText::text),
        subtitle: text_of(RSS, "description")
            .or_else(|| text_of(DC, "description"))
            .map(FeedText::html),
        link: text_of(RSS, "link").map(|link| resolve(base.as_ref(), link)),
        language: text_of(RSS, "language").or_else(|| text_of(DC, "language")),
        rights: text_of(RSS, "copyright")
            .or_else(|| text_of(DC, "rights"))
            .map(FeedText::text),
        hub: crate::atom::link_with_rel(channel, "hub").map(|link| resolve(base.as_ref(), link)),
        self_link: crate::atom::link_with_rel(channel, "self")
            .map(|link| resolve(base.as_ref(), link)),
        base_url: base.map(String::from),
    }
}

/// Reads the items of an RSS document as the tree builder closes them (see
/// [`Records`]): those of the first channel (RSS 2.0) and those beside it (RSS 1.0), the items
/// a reader of the whole tree reads (`read`, kept for the tests that hold the two equal). Each
/// is read from its own elements then; what the channel adds (its base URL, language and
/// rights) comes when the document has been read.
pub struct ItemsAsRead<'f> {
    /// Whether a document with this root is read as RSS (decided at the first item).
    is_rss_root: &'f dyn Fn(&Element) -> bool,
    is_rss: Option<bool>,
    in_channel: Vec<OwnFields>,
    beside_channel: Vec<OwnFields>,
}

impl<'f> ItemsAsRead<'f> {
    pub fn new(is_rss_root: &'f dyn Fn(&Element) -> bool) -> Self {
        ItemsAsRead {
            is_rss_root,
            is_rss: None,
            in_channel: Vec::new(),
            beside_channel: Vec::new(),
        }
    }
}

impl<'t> Records<'t> for ItemsAsRead<'_> {
    fn take(
        &mut self,
        element: &Element<'t>,
        parent: &Element<'t>,
        depth: usize,
        root: &Element<'t>,
    ) -> bool {
        if depth > 2 || element.name != "item" || !RSS.contains(&element.ns.as_deref()) {
            return false;
        }
        // Only the first channel's items: `root.child` finds the first one once it has closed.
        let in_channel = depth == 2
            && parent.name == "channel"
            && RSS.contains(&parent.ns.as_deref())
            && root.child(RSS, "channel").is_none();
        if depth == 2 && !in_channel {
            return false;
        }
        if !*self.is_rss.get_or_insert_with(|| (self.is_rss_root)(root)) {
            return false;
        }
        let own = read_own_fields(element);
        if in_channel {
            self.in_channel.push(own);
        } else {
            self.beside_channel.push(own);
        }
        true
    }
}

/// The channel's base URL, language and rights, which its items inherit.
struct ChannelContext {
    base: Option<Url>,
    language: Option<String>,
    rights: Option<String>,
}

impl ChannelContext {
    fn of(root: &Element, document_base: Option<&Url>) -> Self {
        let root_base = xml_base(document_base, root);
        let channel = root.child(RSS, "channel");
        let base = match channel {
            Some(channel) => xml_base(root_base.as_ref(), channel),
            None => root_base,
        };
        // The RSS element if there is one, else the Dublin Core one; then its text.
        let text_of = |rss_name: &str, dc_name: &str| {
            channel
                .and_then(|channel| {
                    channel
                        .child(RSS, rss_name)
                        .or_else(|| channel.child(DC, dc_name))
                })
                .and_then(Element::text_opt)
        };
        ChannelContext {
            base,
            language: text_of("language", "language"),
            rights: text_of("copyright", "rights"),
        }
    }
}

/// Every item of an RSS document, one outcome per `<item>`, from the items taken as the
/// document was read and the channel in its tree.
pub fn read_taken(
    root: &Element,
    document_base: Option<&Url>,
    taken: ItemsAsRead,
) -> Vec<ItemOutcome> {
    let channel = ChannelContext::of(root, document_base);
    // RSS 2.0 puts items in the channel, RSS 1.0 beside it; some feeds do either wrongly.
    taken
        .in_channel
        .into_iter()
        .chain(taken.beside_channel)
        .map(|own| with_channel(own, &channel))
        .collect()
}

/// Every item of an RSS document's whole tree, one outcome per `<item>`.
#[cfg(test)]
pub fn read(root: &Element, document_base: Option<&Url>) -> Vec<ItemOutcome> {
    let channel = ChannelContext::of(root, document_base);
    root.child(RSS, "channel")
        .into_iter()
        .flat_map(|channel| channel.children_named(RSS, "item"))
        .chain(root.children_named(RSS, "item"))
        .map(|item| with_channel(read_own_fields(item), &channel))
        .collect()
}

/// An item as its own elements give it: links not yet resolved, no inherited language or
/// rights; or the first error inside it.
enum OwnFields {
    Read {
        fields: Box<ItemFields>,
        /// The item's own `xml:base`, as written.
        xml_base: Option<String>,
    },
    Broken {
        offset: usize,
        reason: String,
    },
}

fn read_own_fields(item: &Element) -> OwnFields {
    if let Some((offset, message)) = item.first_error() {
        return OwnFields::Broken {
            offset: *offset,
            reason: message.clone(),
        };
    }
    OwnFields::Read {
        fields: Box::new(read_item(item)),
        xml_base: item.attr_ns(NS_XML, "base").map(str::to_string),
    }
}

/// The item with what it inherits from the channel: relative links resolved against its base,
/// the channel's language and rights where it has none of its own.
fn with_channel(own: OwnFields, channel: &ChannelContext) -> ItemOutcome {
    let (mut fields, xml_base) = match own {
        OwnFields::Read { fields, xml_base } => (fields, xml_base),
        OwnFields::Broken { offset, reason } => return ItemOutcome::Broken { offset, reason },
    };
    let base = xml_base_from(channel.base.as_ref(), xml_base.as_deref());
    fields.link = fields.link.map(|link| resolve(base.as_ref(), link));
    for association in &mut fields.associations {
        association.uri = resolve(base.as_ref(), std::mem::take(&mut association.uri));
    }
    if fields.language.is_none() {
        fields.language = channel.language.clone();
    }
    if fields.copyrightnotice.is_none() {
        fields.copyrightnotice = channel.rights.clone();
    }
    fields.base_url = base;
    ItemOutcome::Read(fields)
}

/// The children of an item that the reader looks at, put in place in one walk over them.
/// Looking each up by name walked all the children again, two dozen times an item: a fifth of
/// the time it took to read a feed.
#[derive(Default)]
struct ItemParts<'e, 't> {
    title: Option<&'e Element<'t>>,
    dc_title: Option<&'e Element<'t>>,
    link: Option<&'e Element<'t>>,
    guid: Option<&'e Element<'t>>,
    encoded: Option<&'e Element<'t>>,
    xhtml_body: Option<&'e Element<'t>>,
    fullitem: Option<&'e Element<'t>>,
    description: Option<&'e Element<'t>>,
    dc_description: Option<&'e Element<'t>>,
    modified: Option<&'e Element<'t>>,
    pub_date: Option<&'e Element<'t>>,
    dc_date: Option<&'e Element<'t>>,
    issued: Option<&'e Element<'t>>,
    created: Option<&'e Element<'t>>,
    dc_language: Option<&'e Element<'t>>,
    dc_rights: Option<&'e Element<'t>>,
    media_description: Option<&'e Element<'t>>,
    media_credit: Option<&'e Element<'t>>,
    dc_creators: Vec<&'e Element<'t>>,
    authors: Vec<&'e Element<'t>>,
    dc_authors: Vec<&'e Element<'t>>,
    dc_contributors: Vec<&'e Element<'t>>,
    categories: Vec<&'e Element<'t>>,
    dc_subjects: Vec<&'e Element<'t>>,
    enclosures: Vec<&'e Element<'t>>,
    media_contents: Vec<&'e Element<'t>>,
    media_groups: Vec<&'e Element<'t>>,
}

impl<'e, 't> ItemParts<'e, 't> {
    fn of(item: &'e Element<'t>) -> Self {
        let mut parts = ItemParts::default();
        for element in item.elements() {
            let ns = element.ns.as_deref();
            // Namespaces are compared only once a name matches.
            let rss = || RSS.contains(&ns);
            let dc = || DC.contains(&ns);
            let dcterms = || DCTERMS.contains(&ns);
            let media = || ns == Some(NS_MEDIA);
            let first = match &*element.name {
                "title" if rss() => &mut parts.title,
                "title" if dc() => &mut parts.dc_title,
                "link" if rss() => &mut parts.link,
                "guid" if rss() => &mut parts.guid,
                "encoded" if ns == Some(NS_CONTENT) => &mut parts.encoded,
                "body" if ns == Some(NS_XHTML) || ns.is_none() => &mut parts.xhtml_body,
                "fullitem" if rss() => &mut parts.fullitem,
                "description" if rss() => &mut parts.description,
                "description" if dc() => &mut parts.dc_description,
                "description" if media() => &mut parts.media_description,
                "modified" if dcterms() => &mut parts.modified,
                "pubDate" if rss() => &mut parts.pub_date,
                "date" if dc() => &mut parts.dc_date,
                "issued" if dcterms() => &mut parts.issued,
                "created" if dcterms() => &mut parts.created,
                "language" if dc() => &mut parts.dc_language,
                "rights" if dc() => &mut parts.dc_rights,
                "credit" if media() => &mut parts.media_credit,
                name => {
                    let all = match name {
                        "creator" if dc() => &mut parts.dc_creators,
                        "author" if rss() => &mut parts.authors,
                        // Not Dublin Core, but feeds write it.
                        "author" if dc() => &mut parts.dc_authors,
                        "contributor" if dc() => &mut parts.dc_contributors,
                        "category" if rss() => &mut parts.categories,
                        "subject" if dc() => &mut parts.dc_subjects,
                        "enclosure" if rss() => &mut parts.enclosures,
                        "content" if media() => &mut parts.media_contents,
                        "group" if media() => &mut parts.media_groups,
                        _ => continue,
                    };
                    all.push(element);
                    continue;
                }
            };
            first.get_or_insert(element);
        }
        parts
    }
}

/// The item's fields from its own elements (see [`OwnFields`]).
fn read_item(item: &Element) -> ItemFields {
    let parts = ItemParts::of(item);
    let text_of = |element: Option<&Element>| element.and_then(Element::text_opt);
    let link = text_of(parts.link);
    let guid = text_of(parts.guid).or_else(|| item.attr_ns(NS_RDF, "about").map(str::to_string));
    let permalink = parts
        .guid
        .filter(|element| {
            element
                .attr("isPermaLink")
                .is_none_or(|value| value.trim() != "false")
        })
        .and_then(Element::text_opt)
        .filter(|guid| guid.starts_with("http://") || guid.starts_with("https://"));

    // The fullest body wins: `content:encoded`, an inline XHTML `<body>`, the Fullitem
    // module's escaped `<fullitem>`, then the description.
    let non_blank = |html: String| (!html.trim().is_empty()).then_some(html);
    let body = parts
        .encoded
        .map(Element::text)
        .and_then(non_blank)
        .or_else(|| {
            parts
                .xhtml_body
                .map(Element::inner_html)
                .and_then(non_blank)
        })
        .or_else(|| parts.fullitem.map(Element::text).and_then(non_blank))
        .or_else(|| {
            parts
                .description
                .or(parts.dc_description)
                .map(Element::text)
        })
        .map(SourceBody::Html)
        .unwrap_or_else(|| SourceBody::Html(String::new()));

    let creators: Vec<String> = parts
        .dc_creators
        .iter()
        .chain(&parts.authors)
        .chain(&parts.dc_authors)
        .copied()
        .filter_map(Element::text_opt)
        .collect();
    let contributors: Vec<String> = creators
        .iter()
        .cloned()
        .chain(
            parts
                .dc_contributors
                .iter()
                .copied()
                .filter_map(Element::text_opt),
        )
        .collect();

    let mut keywords: Vec<String> = parts
        .categories
        .iter()
        .chain(&parts.dc_subjects)
        .copied()
        .filter_map(Element::text_opt)
        .collect();
    keywords.dedup();

    let mut associations: Vec<Association> = parts
        .enclosures
        .iter()
        .filter_map(|enclosure| {
            let uri = non_empty(enclosure.attr("url"))?;
            let mimetype = non_empty(enclosure.attr("type"));
            Some(Association {
                kind: kind_of_media(mimetype.as_deref()),
                uri,
                mimetype,
                ..Association::default()
            })
        })
        .collect();
    let media = &[Some(NS_MEDIA)];
    let media_contents = parts.media_contents.iter().copied().chain(
        parts
            .media_groups
            .iter()
            .flat_map(|group| group.children_named(media, "content")),
    );
    for content in media_contents {
        let Some(uri) = non_empty(content.attr("url")) else {
            continue;
        };
        if associations.iter().any(|existing| existing.uri == uri) {
            continue;
        }
        let mimetype = non_empty(content.attr("type"));
        associations.push(Association {
            kind: non_empty(content.attr("medium"))
                .unwrap_or_else(|| kind_of_media(mimetype.as_deref())),
            uri,
            mimetype,
            caption: content
                .child(media, "description")
                .or(parts.media_description)
                .and_then(Element::text_opt),
            credit: content
                .child(media, "credit")
                .or(parts.media_credit)
                .and_then(Element::text_opt),
        });
    }

    ItemFields {
        guid,
        headline: parts
            .title
            .or(parts.dc_title)
            .map(Element::text)
            .unwrap_or_default(),
        headline_is_html: false,
        body,
        byline: (!creators.is_empty()).then(|| creators.join(", ")),
        contributors,
        versioncreated: text_of(parts.modified)
            .or_else(|| text_of(parts.pub_date))
            .or_else(|| text_of(parts.dc_date))
            .or_else(|| text_of(parts.issued))
            .and_then(|date| parse_date(&date)),
        firstcreated: text_of(parts.issued)
            .or_else(|| text_of(parts.created))
            .and_then(|date| parse_date(&date)),
        link: link.or(permalink),
        language: text_of(parts.dc_language),
        keywords,
        copyrightnotice: text_of(parts.dc_rights),
        associations,
        base_url: None,
    }
}

/// "picture", "video", "audio" or "file" from a MIME type.
pub fn kind_of_media(mimetype: Option<&str>) -> String {
    match mimetype.and_then(|mime| mime.split('/').next()) {
        Some("image") => "picture",
        Some("video") => "video",
        Some("audio") => "audio",
        _ => "file",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{XmlLimits, read_document, read_document_with};
    use std::path::{Path, PathBuf};

    /// The outcomes of reading `text` both ways, as text: items taken as they close, and items
    /// read from the whole tree. `None` when it is not an XML document.
    fn both_ways(text: &str) -> Option<(String, String)> {
        let base = Url::parse("https://agency.test/feeds/world").ok();
        let tree = read_document(text, XmlLimits::default()).ok()?;
        let from_tree = format!("{:?}", read(&tree.root, base.as_ref()));
        let every_root = |_: &Element| true;
        let mut taken = ItemsAsRead::new(&every_root);
        let document = read_document_with(text, XmlLimits::default(), &mut taken).ok()?;
        let as_read = format!("{:?}", read_taken(&document.root, base.as_ref(), taken));
        Some((as_read, from_tree))
    }

    #[test]
    fn items_taken_as_they_close_are_the_items_of_the_tree() {
        let cases = [
            // Channel fields after the items, an item's own xml:base, a broken item.
            r#"<rss xml:base="https://a.test/x/"><channel><item><title>One</title><link>1.html</link></item>
               <item xml:base="/y/"><title>Two</title><link>2.html</link><enclosure url="p.jpg" type="image/jpeg"/></item>
               <item><title>Bad<b></title></item>
               <language>da</language><copyright>A</copyright></channel></rss>"#,
            // RSS 1.0: items beside the channel.
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
               <item rdf:about="https://a.test/1"><title>One</title><dc:language>fr</dc:language></item>
               <channel rdf:about="x"><title>T</title><dc:rights>R</dc:rights></channel>
               <item rdf:about="https://a.test/2"><title>Two</title></item></rdf:RDF>"#,
            // Items of a second channel and nested ones are not the feed's.
            r#"<rss><channel><item><title>A</title></item></channel><channel><item><title>B</title></item></channel>
               <item><title>C</title><item><title>D</title></item></item></rss>"#,
            // An item left open at the end.
            r#"<rss><channel><item><title>Open</title>"#,
        ];
        for case in cases {
            let (as_read, from_tree) = both_ways(case).unwrap_or_default();
            assert_eq!(as_read, from_tree, "{case}");
            assert_ne!(as_read, "[]", "{case}");
        }
    }

    /// The same over feedparser's RSS and RDF cases (`../shared/peer-tests`), when present.
    #[test]
    fn items_taken_as_they_close_match_the_tree_on_the_peer_suite() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/peer-tests/feedparser/tests");
        if !root.is_dir() {
            assert!(
                std::env::var("VERBATIM_REQUIRE_ALL").is_err(),
                "VERBATIM_REQUIRE_ALL is set but {} is missing",
                root.display()
            );
            eprintln!("skipped: {} is not there", root.display());
            return;
        }
        let mut folders: Vec<PathBuf> = vec![root];
        let mut compared = 0;
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                if !text.contains("<item") {
                    continue;
                }
                if let Some((as_read, from_tree)) = both_ways(&text) {
                    assert_eq!(as_read, from_tree, "{}", path.display());
                    compared += 1;
                }
            }
        }
        assert!(compared > 100, "only {compared} files compared");
    }
}
