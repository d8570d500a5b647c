//! IPTC NewsML-G2 (2.x up to 2.35): a `newsItem`, a `packageItem`, or a `newsMessage` carrying
//! several. Text items become stories; pictures and other media referenced by a package become
//! the associations of its text items. Elements are matched by local name, with or without the
//! G2 namespace, because agency samples often omit it. Lifecycle QCodes (`pubStatus`, `signal`,
//! `itemClass`) resolve through the item's catalog and IPTC's (see `catalog`), in the alias form
//! (`stat:canceled`) or the URI form (`http://cv.iptc.org/newscodes/pubstatusg2/canceled`).

use crate::catalog::{self, Catalog};
use crate::common::{ItemOutcome, non_empty};
use crate::dates::parse_date;
use crate::nitf::{self, child};
use crate::xml::Element;
use std::collections::HashMap;
use verbatim_item::{Association, Draft, Item, Pubstatus, SourceBody, Subject};

/// The code of a QCode or concept URI: `sig:update` and `…/signal/update` both give `update`.
pub fn qcode_value(qcode: &str) -> &str {
    qcode.trim().rsplit([':', '/']).next().unwrap_or_default()
}

fn children<'a, 't>(
    element: &'a Element<'t>,
    name: &'a str,
) -> impl Iterator<Item = &'a Element<'t>> + 'a {
    element.elements().filter(move |child| child.name == name)
}

/// The item's nature (`text`, `picture`, ...); an itemClass outside the IPTC scheme is read by
/// its code, since agencies' own natures still say what the item is.
fn item_class(item: &Element) -> String {
    let catalog = Catalog::of_item(item);
    child(item, "itemMeta")
        .and_then(|meta| child(meta, "itemClass"))
        .and_then(|class| class.attr("qcode").or_else(|| class.attr("uri")))
        .map(|qcode| {
            catalog
                .code_in(qcode, catalog::NATURE)
                .unwrap_or_else(|| qcode_value(qcode))
                .to_string()
        })
        .unwrap_or_else(|| "text".to_string())
}

pub fn read(root: &Element) -> Vec<ItemOutcome> {
    let items: Vec<&Element> = match &*root.name {
        "newsMessage" => child(root, "itemSet")
            .map(|set| {
                set.elements()
                    .filter(|item| matches!(&*item.name, "newsItem" | "packageItem"))
                    .collect()
            })
            .unwrap_or_default(),
        _ => vec![root],
    };
    // Media items by guid, for the packages that reference them.
    let media: HashMap<&str, &Element> = items
        .iter()
        .filter(|item| item.name == "newsItem" && item_class(item) != "text")
        .filter_map(|item| Some((item.attr("guid")?, *item)))
        .collect();
    // Which media belong with which text item: every media item in the same package.
    let mut package_media: HashMap<String, Vec<Association>> = HashMap::new();
    for package in items.iter().filter(|item| item.name == "packageItem") {
        let mut references = Vec::new();
        collect_refs(package, &mut references);
        let associations: Vec<Association> = references
            .iter()
            .filter_map(|reference| {
                media
                    .get(reference.as_str())
                    .and_then(|item| association(item))
            })
            .collect();
        for reference in references
            .iter()
            .filter(|reference| !media.contains_key(reference.as_str()))
        {
            package_media
                .entry(reference.clone())
                .or_default()
                .extend(associations.iter().cloned());
        }
    }

    items
        .into_iter()
        .filter(|item| item.name == "newsItem" && item_class(item) == "text")
        .map(|item| {
            if let Some((offset, reason)) = item.first_error() {
                return ItemOutcome::Broken {
                    offset: *offset,
                    reason: reason.clone(),
                };
            }
            match read_item(item) {
                Ok(mut draft) => {
                    if let Some(associations) = package_media.get(&draft.item.guid) {
                        draft.item.associations.extend(associations.iter().cloned());
                    }
                    ItemOutcome::Ready(Box::new(draft))
                }
                Err(reason) => ItemOutcome::Invalid { reason },
            }
        })
        .collect()
}

fn collect_refs(element: &Element, out: &mut Vec<String>) {
    for child in element.elements() {
        if child.name == "itemRef"
            && let Some(reference) = non_empty(child.attr("residref"))
        {
            out.push(reference);
        }
        collect_refs(child, out);
    }
}

fn association(item: &Element) -> Option<Association> {
    let content = child(item, "contentSet")?;
    let renditions: Vec<&Element> = children(content, "remoteContent").collect();
    let best = renditions
        .iter()
        .find(|rendition| {
            rendition
                .attr("rendition")
                .is_some_and(|value| qcode_value(value) == "highRes")
        })
        .or_else(|| renditions.first())?;
    let meta = child(item, "contentMeta");
    Some(Association {
        kind: match item_class(item).as_str() {
            "picture" | "graphic" => "picture".to_string(),
            other => other.to_string(),
        },
        uri: non_empty(best.attr("href"))?,
        mimetype: non_empty(best.attr("contenttype")),
        caption: meta
            .and_then(|meta| child(meta, "description"))
            .and_then(Element::text_opt),
        credit: meta
            .and_then(|meta| child(meta, "creditline"))
            .and_then(Element::text_opt),
    })
}

fn read_item(item: &Element) -> Result<Draft, String> {
    let guid =
        non_empty(item.attr("guid")).ok_or_else(|| "the newsItem has no guid".to_string())?;
    let meta = child(item, "itemMeta");
    let content_meta = child(item, "contentMeta");
    let text_of = |parent: Option<&Element>, name: &str| {
        parent
            .and_then(|parent| child(parent, name))
            .and_then(Element::text_opt)
    };
    let mut holds = Vec::new();
    let catalog = Catalog::of_item(item);

    // A status outside IPTC's scheme (or with an alias no catalog names) is unknown: held.
    let pubstatus = meta
        .and_then(|meta| child(meta, "pubStatus"))
        .and_then(|status| status.attr("qcode").or_else(|| status.attr("uri")))
        .map_or(Pubstatus::Usable, |qcode| {
            match catalog.code_in(qcode, catalog::PUBSTATUS) {
                Some(code) => Pubstatus::from_agency_word(code),
                None => Pubstatus::Unknown(qcode.trim().to_string()),
            }
        });
    // IPTC signals by their code (`update`, `correction`); an agency's own signals as sent.
    let signals: Vec<String> = meta
        .map(|meta| {
            children(meta, "signal")
                .filter_map(|signal| signal.attr("qcode").or_else(|| signal.attr("uri")))
                .map(|qcode| {
                    catalog
                        .code_in(qcode, catalog::SIGNAL)
                        .unwrap_or(qcode.trim())
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    let embargo_raw = text_of(meta, "embargoed");
    let embargoed = embargo_raw.as_deref().and_then(parse_date);
    if let (Some(raw), None) = (&embargo_raw, embargoed) {
        holds.push(format!("embargo {raw:?} is not a time Verbatim can read"));
    }

    let headlines: Vec<&Element> = content_meta
        .map(|meta| children(meta, "headline").collect())
        .unwrap_or_default();
    let is_sub = |headline: &&Element| {
        headline
            .attr("role")
            .is_some_and(|role| qcode_value(role).contains("sub"))
    };
    let main = headlines
        .iter()
        .find(|headline| !is_sub(headline))
        .or(headlines.first());
    let subheadline = headlines
        .iter()
        .find(|headline| is_sub(headline))
        .and_then(|headline| headline.text_opt());

    let rights = child(item, "rightsInfo");
    let copyrightnotice = text_of(rights, "copyrightNotice").or_else(|| {
        rights
            .and_then(|rights| child(rights, "copyrightHolder"))
            .and_then(|holder| text_of(Some(holder), "name").or_else(|| holder.text_opt()))
            .map(|holder| format!("© {holder}"))
    });

    let subjects = content_meta
        .map(|meta| {
            children(meta, "subject")
                .filter_map(|subject| {
                    let name = text_of(Some(subject), "name")?;
                    Some(Subject {
                        code: non_empty(subject.attr("qcode"))
                            .or_else(|| non_empty(subject.attr("uri"))),
                        name,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let keywords = content_meta
        .map(|meta| {
            children(meta, "keyword")
                .filter_map(Element::text_opt)
                .collect()
        })
        .unwrap_or_default();
    let bylines: Vec<String> = content_meta
        .map(|meta| children(meta, "by").filter_map(Element::text_opt).collect())
        .unwrap_or_default();
    let located = text_of(content_meta, "dateline").or_else(|| {
        content_meta
            .and_then(|meta| child(meta, "located"))
            .and_then(|located| text_of(Some(located), "name"))
    });

    Ok(Draft {
        item: Item {
            guid,
            version: item
                .attr("version")
                .and_then(|version| version.trim().parse().ok()),
            versioncreated: text_of(meta, "versionCreated").and_then(|raw| parse_date(&raw)),
            firstcreated: text_of(meta, "firstCreated").and_then(|raw| parse_date(&raw)),
            pubstatus,
            embargoed,
            signals,
            headline: main
                .map(|headline| headline.inner_html())
                .unwrap_or_default(),
            subheadline,
            byline: (!bylines.is_empty()).then(|| bylines.join(", ")),
            located,
            language: content_meta
                .and_then(|meta| child(meta, "language"))
                .and_then(|language| non_empty(language.attr("tag")))
                .or_else(|| item.attr_ns(crate::xml::NS_XML, "lang").map(str::to_string)),
            subjects,
            keywords,
            urgency: text_of(content_meta, "urgency").and_then(|urgency| urgency.parse().ok()),
            ednote: text_of(meta, "edNote"),
            copyrightnotice,
            usageterms: text_of(rights, "usageTerms"),
            ..Item::default()
        },
        body: body(item),
        headline_is_html: true,
        holds,
        base_url: None,
    })
}

/// The body from `inlineXML` (XHTML, an HTML document, or embedded NITF) or `inlineData`.
fn body(item: &Element) -> SourceBody {
    let Some(content) = child(item, "contentSet") else {
        return SourceBody::Text(String::new());
    };
    if let Some(inline) = child(content, "inlineXML") {
        let first = inline.elements().next();
        return match first.map(|element| &*element.name) {
            Some("nitf") => {
                let html = first
                    .and_then(|nitf| child(nitf, "body"))
                    .and_then(|body| child(body, "body.content"))
                    .map(|content| content.inner_html())
                    .unwrap_or_default();
                SourceBody::Html(html)
            }
            Some("html") => {
                let body = first.and_then(|html| nitf::find(html, "body"));
                SourceBody::Html(body.map(Element::inner_html).unwrap_or_default())
            }
            _ => SourceBody::Html(inline.inner_html()),
        };
    }
    if let Some(data) = child(content, "inlineData") {
        let content_type = data.attr("contenttype").unwrap_or("text/plain");
        return if content_type.contains("html") {
            SourceBody::Html(data.text())
        } else {
            SourceBody::Text(data.text())
        };
    }
    SourceBody::Text(String::new())
}

#[cfg(test)]
mod tests {
    use crate::{Input, Limits, parse};
    use verbatim_item::Pubstatus;

    fn item_with_meta(catalog: &str, item_meta: &str) -> verbatim_item::Draft {
        let xml = format!(
            r#"<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:test:1" version="2">
                 {catalog}
                 <itemMeta><itemClass qcode="ninat:text"/>{item_meta}</itemMeta>
                 <contentMeta><headline>Headline</headline></contentMeta>
                 <contentSet><inlineXML contenttype="application/xhtml+xml">
                   <html xmlns="http://www.w3.org/1999/xhtml"><body><p>Body</p></body></html>
                 </inlineXML></contentSet>
               </newsItem>"#
        );
        let parsed = parse(
            Input {
                bytes: xml.as_bytes(),
                content_type: None,
                origin: "test.xml",
            },
            &Limits::default(),
        );
        match parsed {
            Ok(mut parsed) if parsed.drafts.len() == 1 => parsed.drafts.remove(0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lifecycle_qcodes_resolve_by_scheme_not_spelling() {
        let killed = item_with_meta("", r#"<pubStatus qcode="stat:canceled"/>"#);
        assert_eq!(killed.item.pubstatus, Pubstatus::Canceled);

        // An agency's own scheme that happens to say "canceled" is not an IPTC kill: held.
        let own = item_with_meta(
            r#"<catalog><scheme alias="xyz" uri="http://agency.test/status/"/></catalog>"#,
            r#"<pubStatus qcode="xyz:canceled"/>"#,
        );
        assert_eq!(
            own.item.pubstatus,
            Pubstatus::Unknown("xyz:canceled".into())
        );

        // An alias the item's catalog maps to IPTC's scheme is IPTC's.
        let aliased = item_with_meta(
            r#"<catalog><scheme alias="ps" uri="http://cv.iptc.org/newscodes/pubstatusg2/"/></catalog>"#,
            r#"<pubStatus qcode="ps:withheld"/><signal qcode="sig:correction"/><signal qcode="xyz:flash"/>"#,
        );
        assert_eq!(aliased.item.pubstatus, Pubstatus::Withheld);
        assert_eq!(aliased.item.signals, vec!["correction", "xyz:flash"]);

        // An alias no catalog names cannot be trusted either.
        let unknown = item_with_meta("", r#"<pubStatus qcode="nosuch:usable"/>"#);
        assert_eq!(
            unknown.item.pubstatus,
            Pubstatus::Unknown("nosuch:usable".into())
        );
    }
}
