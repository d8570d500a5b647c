//! RSS 2.0 (and the 0.9x family) and RSS 1.0 / RDF: channel items with `content:encoded`,
//! `xhtml:body` or `fullitem` bodies,
//! Dublin Core (`dc:creator`, `dc:date`, `dc:rights`, `dc:language`), enclosures and Media RSS.

use crate::common::{ItemFields, ItemOutcome, non_empty, resolve, xml_base};
use crate::dates::parse_date;
use crate::xml::{Element, NS_CONTENT, NS_DC, NS_MEDIA, NS_RDF, NS_RSS1, NS_RSS090, NS_XHTML};
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

/// Reads every item of an RSS document, one outcome per `<item>`.
pub fn read(root: &Element, document_base: Option<&Url>) -> Vec<ItemOutcome> {
    let root_base = xml_base(document_base, root);
    let channel = root.child(RSS, "channel");
    let channel_base = match channel {
        Some(channel) => xml_base(root_base.as_ref(), channel),
        None => root_base,
    };
    let channel_language = channel
        .and_then(|channel| {
            channel
                .child(RSS, "language")
                .or_else(|| channel.child(DC, "language"))
        })
        .and_then(Element::text_opt);
    let channel_rights = channel
        .and_then(|channel| {
            channel
                .child(RSS, "copyright")
                .or_else(|| channel.child(DC, "rights"))
        })
        .and_then(Element::text_opt);
    // RSS 2.0 puts items in the channel, RSS 1.0 beside it; some feeds do either wrongly.
    let items = channel
        .into_iter()
        .flat_map(|channel| channel.children_named(RSS, "item"))
        .chain(root.children_named(RSS, "item"));
    items
        .map(|item| {
            if let Some((offset, message)) = item.first_error() {
                return ItemOutcome::Broken {
                    offset: *offset,
                    reason: message.clone(),
                };
            }
            let base = xml_base(channel_base.as_ref(), item);
            ItemOutcome::Read(Box::new(read_item(
                item,
                &channel_language,
                &channel_rights,
                base,
            )))
        })
        .collect()
}

fn read_item(
    item: &Element,
    channel_language: &Option<String>,
    channel_rights: &Option<String>,
    base: Option<Url>,
) -> ItemFields {
    let text_of = |namespaces: &[Option<&str>], name: &str| {
        item.child(namespaces, name).and_then(Element::text_opt)
    };
    let link = text_of(RSS, "link");
    let guid_element = item.child(RSS, "guid");
    let guid = guid_element
        .and_then(Element::text_opt)
        .or_else(|| item.attr_ns(NS_RDF, "about").map(str::to_string));
    let permalink = guid_element
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
    let body = item
        .child(&[Some(NS_CONTENT)], "encoded")
        .map(Element::text)
        .and_then(non_blank)
        .or_else(|| {
            item.child(&[Some(NS_XHTML), None], "body")
                .map(Element::inner_html)
                .and_then(non_blank)
        })
        .or_else(|| {
            item.child(RSS, "fullitem")
                .map(Element::text)
                .and_then(non_blank)
        })
        .or_else(|| {
            item.child(RSS, "description")
                .or_else(|| item.child(DC, "description"))
                .map(Element::text)
        })
        .map(SourceBody::Html)
        .unwrap_or_else(|| SourceBody::Html(String::new()));

    let creators: Vec<String> = item
        .children_named(DC, "creator")
        .chain(item.children_named(RSS, "author"))
        // Not Dublin Core, but feeds write it.
        .chain(item.children_named(DC, "author"))
        .filter_map(Element::text_opt)
        .collect();
    let contributors: Vec<String> = creators
        .iter()
        .cloned()
        .chain(
            item.children_named(DC, "contributor")
                .filter_map(Element::text_opt),
        )
        .collect();

    let mut keywords: Vec<String> = item
        .children_named(RSS, "category")
        .chain(item.children_named(DC, "subject"))
        .filter_map(Element::text_opt)
        .collect();
    keywords.dedup();

    let mut associations: Vec<Association> = item
        .children_named(RSS, "enclosure")
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
    let media_contents = item.children_named(media, "content").chain(
        item.children_named(media, "group")
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
                .or_else(|| item.child(media, "description"))
                .and_then(Element::text_opt),
            credit: content
                .child(media, "credit")
                .or_else(|| item.child(media, "credit"))
                .and_then(Element::text_opt),
        });
    }

    ItemFields {
        guid,
        headline: item
            .child(RSS, "title")
            .or_else(|| item.child(DC, "title"))
            .map(Element::text)
            .unwrap_or_default(),
        headline_is_html: false,
        body,
        byline: (!creators.is_empty()).then(|| creators.join(", ")),
        contributors,
        versioncreated: text_of(DCTERMS, "modified")
            .or_else(|| text_of(RSS, "pubDate"))
            .or_else(|| text_of(DC, "date"))
            .or_else(|| text_of(DCTERMS, "issued"))
            .and_then(|date| parse_date(&date)),
        firstcreated: text_of(DCTERMS, "issued")
            .or_else(|| text_of(DCTERMS, "created"))
            .and_then(|date| parse_date(&date)),
        link: link.or(permalink).map(|link| resolve(base.as_ref(), link)),
        language: text_of(DC, "language").or_else(|| channel_language.clone()),
        keywords,
        copyrightnotice: text_of(DC, "rights").or_else(|| channel_rights.clone()),
        associations: associations
            .into_iter()
            .map(|association| Association {
                uri: resolve(base.as_ref(), association.uri),
                ..association
            })
            .collect(),
        base_url: base,
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
