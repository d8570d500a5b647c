//! IPTC NITF 3.x: `docdata` (doc-id, urgency, dates, `du-key` version, `ed-msg`, correction,
//! copyright, rights, management status), `body.head` (hedline, byline, dateline, abstract),
//! `body.content` and `body.end` (tagline). Elements are matched by local name, with or without
//! the NITF namespace, because agency samples often omit it.

use crate::common::non_empty;
use crate::dates::parse_date;
use crate::xml::{Element, Markup};
use verbatim_item::{Association, Draft, Item, Pubstatus, SourceBody, Subject};

/// The first descendant with this local name (any namespace), depth-first.
pub(crate) fn find<'a, 't>(element: &'a Element<'t>, name: &str) -> Option<&'a Element<'t>> {
    element.elements().find_map(|child| {
        if child.name == name {
            Some(child)
        } else {
            find(child, name)
        }
    })
}

pub(crate) fn child<'a, 't>(element: &'a Element<'t>, name: &str) -> Option<&'a Element<'t>> {
    element.elements().find(|child| child.name == name)
}

fn attr(element: Option<&Element>, name: &str) -> Option<String> {
    non_empty(element.and_then(|element| element.attr(name)))
}

/// NITF block elements and their HTML equivalents; metadata inside the body is left out.
fn nitf_to_html(name: &str) -> Markup {
    match name {
        "hl1" => Markup::Rename("h1"),
        "hl2" => Markup::Rename("h2"),
        "bq" => Markup::Rename("blockquote"),
        "block" => Markup::Rename("div"),
        "credit" | "tagline" => Markup::Rename("p"),
        "media" | "media-reference" | "media-metadata" | "media-producer" | "media-object" => {
            Markup::Drop
        }
        "nitf-table-metadata" | "nitf-table-summary" | "nitf-col" | "nitf-colgroup" => Markup::Drop,
        _ => Markup::Keep,
    }
}

pub fn read(root: &Element) -> Result<Draft, String> {
    let head = child(root, "head");
    let docdata = head.and_then(|head| child(head, "docdata"));
    let body = child(root, "body");
    let body_head = body.and_then(|body| child(body, "body.head"));
    let in_docdata = |name: &str| docdata.and_then(|docdata| child(docdata, name));

    let guid = attr(in_docdata("doc-id"), "id-string")
        .or_else(|| attr(in_docdata("du-key"), "key"))
        .ok_or_else(|| "the NITF document has no docdata/doc-id".to_string())?;
    let mut holds = Vec::new();
    let mut signals = Vec::new();

    let version =
        attr(in_docdata("du-key"), "version").and_then(|version| version.parse::<u64>().ok());
    let date = |name: &str| attr(in_docdata(name), "norm").and_then(|raw| parse_date(&raw));
    let embargo_raw = attr(in_docdata("date.release"), "norm");
    let embargoed = embargo_raw.as_deref().and_then(parse_date);
    if let (Some(raw), None) = (&embargo_raw, embargoed) {
        holds.push(format!(
            "release time {raw:?} is not a time Verbatim can read"
        ));
    }

    let status = docdata
        .and_then(|docdata| docdata.attr("management-status"))
        .map(str::trim);
    let pubstatus = match status {
        None | Some("") | Some("usable") => Pubstatus::Usable,
        // "embargoed" is carried by date.release; without one the item cannot be timed.
        Some("embargoed") => {
            if embargoed.is_none() {
                holds.push(
                    "management-status is embargoed but there is no date.release".to_string(),
                );
            }
            Pubstatus::Usable
        }
        Some(word) => Pubstatus::from_agency_word(word),
    };

    let correction = in_docdata("correction");
    let mut ednote = attr(in_docdata("ed-msg"), "info");
    if let Some(correction) = correction {
        signals.push("correction".to_string());
        if let Some(info) = non_empty(correction.attr("info")) {
            ednote = Some(match ednote {
                Some(note) => format!("{note} — {info}"),
                None => info,
            });
        }
    }
    if version.is_some_and(|version| version > 1) {
        signals.push("update".to_string());
    }

    let copyright = in_docdata("doc.copyright");
    let copyrightnotice = match (attr(copyright, "holder"), attr(copyright, "year")) {
        (Some(holder), Some(year)) => Some(format!("© {year} {holder}")),
        (Some(holder), None) => Some(format!("© {holder}")),
        _ => None,
    };
    let rights = in_docdata("doc.rights");
    let usageterms = attr(rights, "limitations").or_else(|| attr(rights, "usage"));

    let hedline = body_head.and_then(|head| child(head, "hedline"));
    let headline = hedline
        .and_then(|hedline| child(hedline, "hl1"))
        .map(|hl1| hl1.inner_html())
        .or_else(|| {
            head.and_then(|head| child(head, "title"))
                .map(Element::text)
        })
        .unwrap_or_default();
    let subheadline = hedline
        .and_then(|hedline| child(hedline, "hl2"))
        .and_then(Element::text_opt);

    let mut body_html = body
        .and_then(|body| child(body, "body.content"))
        .map(|content| content.inner_html_mapped(&nitf_to_html))
        .unwrap_or_default();
    if let Some(end) = body.and_then(|body| child(body, "body.end")) {
        body_html.push_str(&end.inner_html_mapped(&nitf_to_html));
    }

    let keywords = docdata
        .and_then(|docdata| child(docdata, "key-list"))
        .map(|list| {
            list.elements()
                .filter_map(|keyword| non_empty(keyword.attr("key")))
                .collect()
        })
        .unwrap_or_default();
    let subjects = head
        .and_then(|head| child(head, "tobject"))
        .map(|tobject| {
            tobject
                .elements()
                .filter(|element| element.name == "tobject.subject")
                .filter_map(|subject| {
                    let name = non_empty(subject.attr("tobject.subject.matter"))
                        .or_else(|| non_empty(subject.attr("tobject.subject.detail")))
                        .or_else(|| non_empty(subject.attr("tobject.subject.type")))?;
                    Some(Subject {
                        code: non_empty(subject.attr("tobject.subject.refnum")),
                        name,
                    })
                })
                .collect()
        })
        .unwrap_or_default();

    let associations = body
        .map(|body| {
            let mut media = Vec::new();
            collect_media(body, &mut media);
            media
        })
        .unwrap_or_default();

    Ok(Draft {
        item: Item {
            guid,
            version,
            versioncreated: date("date.issue"),
            pubstatus,
            embargoed,
            signals,
            headline,
            subheadline,
            byline: body_head
                .and_then(|head| child(head, "byline"))
                .and_then(Element::text_opt),
            located: body_head
                .and_then(|head| child(head, "dateline"))
                .and_then(Element::text_opt),
            language: non_empty(root.attr("baselang")),
            subjects,
            keywords,
            urgency: attr(in_docdata("urgency"), "ed-urg").and_then(|urgency| urgency.parse().ok()),
            ednote,
            copyrightnotice,
            usageterms,
            associations,
            ..Item::default()
        },
        body: SourceBody::Html(body_html),
        headline_is_html: true,
        holds,
        base_url: None,
    })
}

fn collect_media(element: &Element, out: &mut Vec<Association>) {
    for child in element.elements() {
        if child.name == "media" {
            let reference = find(child, "media-reference");
            if let Some(uri) = attr(reference, "source") {
                out.push(Association {
                    kind: match child.attr("media-type").unwrap_or("image") {
                        "image" | "photo" => "picture".to_string(),
                        other => other.to_string(),
                    },
                    uri,
                    mimetype: attr(reference, "mime-type"),
                    caption: find(child, "media-caption").and_then(Element::text_opt),
                    credit: find(child, "media-producer").and_then(Element::text_opt),
                });
            }
        } else {
            collect_media(child, out);
        }
    }
}
