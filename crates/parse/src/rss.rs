//! RSS 2.0 (and the 0.9x family) and RSS 1.0 / RDF: channel items with `content:encoded`,
//! Dublin Core (`dc:creator`, `dc:date`, `dc:rights`, `dc:language`), enclosures and Media RSS.

use crate::FeedMeta;
use crate::common::{ItemFields, ItemOutcome, non_empty};
use crate::dates::parse_date;
use crate::xml::{Element, NS_CONTENT, NS_DC, NS_MEDIA, NS_RDF, NS_RSS1, NS_RSS090};
use verbatim_item::{Association, SourceBody};

/// Namespaces an RSS element may be in: none (2.0), or the RSS 1.0 / 0.90 namespaces.
const RSS: &[Option<&str>] = &[None, Some(NS_RSS1), Some(NS_RSS090)];
const DC: &[Option<&str>] = &[Some(NS_DC)];

/// The channel's own title, description, link, language and rights.
pub fn feed_meta(root: &Element) -> FeedMeta {
    let Some(channel) = root.child(RSS, "channel") else {
        return FeedMeta::default();
    };
    let text_of = |namespaces: &[Option<&str>], name: &str| {
        channel.child(namespaces, name).and_then(Element::text_opt)
    };
    FeedMeta {
        title: text_of(RSS, "title").or_else(|| text_of(DC, "title")),
        subtitle: text_of(RSS, "description").or_else(|| text_of(DC, "description")),
        link: text_of(RSS, "link"),
        language: text_of(RSS, "language").or_else(|| text_of(DC, "language")),
        rights: text_of(RSS, "copyright").or_else(|| text_of(DC, "rights")),
    }
}

/// Reads every item of an RSS document, one outcome per `<item>`.
pub fn read(root: &Element) -> Vec<ItemOutcome> {
    let channel = root.child(RSS, "channel");
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
            ItemOutcome::Read(Box::new(read_item(
                item,
                &channel_language,
                &channel_rights,
            )))
        })
        .collect()
}

fn read_item(
    item: &Element,
    channel_language: &Option<String>,
    channel_rights: &Option<String>,
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

    let body = match item
        .child(&[Some(NS_CONTENT)], "encoded")
        .map(Element::text)
    {
        Some(html) if !html.trim().is_empty() => SourceBody::Html(html),
        _ => SourceBody::Html(
            item.child(RSS, "description")
                .map(Element::text)
                .unwrap_or_default(),
        ),
    };

    let creators: Vec<String> = item
        .children_named(DC, "creator")
        .chain(item.children_named(RSS, "author"))
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
            .map(Element::text)
            .unwrap_or_default(),
        headline_is_html: false,
        body,
        byline: (!creators.is_empty()).then(|| creators.join(", ")),
        contributors,
        versioncreated: text_of(RSS, "pubDate")
            .or_else(|| text_of(DC, "date"))
            .and_then(|date| parse_date(&date)),
        firstcreated: None,
        link: link.or(permalink),
        language: text_of(DC, "language").or_else(|| channel_language.clone()),
        keywords,
        copyrightnotice: text_of(DC, "rights").or_else(|| channel_rights.clone()),
        associations,
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
