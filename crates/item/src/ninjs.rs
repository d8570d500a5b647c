//! The canonical item written as IPTC ninjs 2.1: the form downstream systems read, and the form
//! the ninjs reader must read back unchanged (a property test checks `parse(to_ninjs(item))`).
//! Fields ninjs 2.x has no place for (signals, keywords) are left out rather than invented.

use crate::Item;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// The prefix that makes an agency's guid that is not a URI into one (ninjs requires `uri` to
/// be a URI); `guid_from_uri` undoes it.
pub const GUID_URN_PREFIX: &str = "urn:verbatim:guid:";

/// The item's guid as a ninjs `uri`: unchanged when it is an absolute URI, otherwise
/// percent-encoded under [`GUID_URN_PREFIX`].
pub fn uri_of_guid(guid: &str) -> String {
    if url::Url::parse(guid).is_ok() && !guid.starts_with(GUID_URN_PREFIX) {
        return guid.to_string();
    }
    let encoded =
        percent_encoding::utf8_percent_encode(guid, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!("{GUID_URN_PREFIX}{encoded}")
}

/// The agency's guid back from a ninjs `uri` written by [`uri_of_guid`].
pub fn guid_from_uri(uri: &str) -> String {
    match uri.strip_prefix(GUID_URN_PREFIX) {
        Some(encoded) => percent_encoding::percent_decode_str(encoded)
            .decode_utf8()
            .map_or_else(|_| uri.to_string(), |guid| guid.into_owned()),
        None => uri.to_string(),
    }
}

/// `item` as one ninjs 2.1 object.
pub fn to_ninjs(item: &Item) -> Value {
    let mut ninjs = Map::new();
    let mut put = |key: &str, value: Value| {
        if !value.is_null() {
            ninjs.insert(key.to_string(), value);
        }
    };
    let time = |at: &Option<DateTime<Utc>>| {
        at.map_or(Value::Null, |at| {
            Value::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        })
    };
    let text = |value: &Option<String>| value.as_ref().map_or(Value::Null, |text| json!(text));

    // No `$schema`: the 2.1 schema allows only its own properties.
    put("uri", json!(uri_of_guid(&item.guid)));
    put("type", json!("text"));
    put(
        "version",
        item.version
            .map_or(Value::Null, |version| json!(version.to_string())),
    );
    put("firstcreated", time(&item.firstcreated));
    put("versioncreated", time(&item.versioncreated));
    put("embargoed", time(&item.embargoed));
    put("pubstatus", json!(item.pubstatus.as_str()));
    put(
        "urgency",
        item.urgency.map_or(Value::Null, |urgency| json!(urgency)),
    );
    put("copyrightnotice", text(&item.copyrightnotice));
    put("usageterms", text(&item.usageterms));
    put("ednote", text(&item.ednote));
    put("language", text(&item.language));
    let mut headlines = vec![json!({ "role": "main", "value": item.headline })];
    if let Some(sub) = &item.subheadline {
        headlines.push(json!({ "role": "sub", "value": sub }));
    }
    put("headlines", Value::Array(headlines));
    put("by", text(&item.byline));
    put("located", text(&item.located));
    put(
        "bodies",
        json!([{ "role": "main", "contenttype": "text/html", "value": item.body_html }]),
    );
    if !item.subjects.is_empty() {
        let subjects = item
            .subjects
            .iter()
            .map(|subject| match &subject.code {
                Some(code) => json!({ "name": subject.name, "uri": code }),
                None => json!({ "name": subject.name }),
            })
            .collect();
        put("subjects", Value::Array(subjects));
    }
    if !item.associations.is_empty() {
        let associations = item
            .associations
            .iter()
            .enumerate()
            .map(|(index, association)| {
                let mut object = Map::new();
                object.insert(
                    "name".into(),
                    json!(format!("{}{}", association.kind, index + 1)),
                );
                object.insert("uri".into(), json!(association.uri));
                object.insert("type".into(), json!(association.kind));
                let mut rendition = json!({ "name": "original", "href": association.uri });
                if let (Some(mimetype), Some(rendition)) =
                    (&association.mimetype, rendition.as_object_mut())
                {
                    rendition.insert("contenttype".into(), json!(mimetype));
                }
                object.insert("renditions".into(), json!([rendition]));
                if let Some(caption) = &association.caption {
                    object.insert("headlines".into(), json!([{ "value": caption }]));
                }
                if let Some(credit) = &association.credit {
                    object.insert("by".into(), json!(credit));
                }
                Value::Object(object)
            })
            .collect();
        put("associations", Value::Array(associations));
    }
    Value::Object(ninjs)
}

#[cfg(test)]
mod tests {

    #[test]
    fn guids_that_are_not_uris_become_urns_and_come_back() {
        for guid in [
            "atom-text",
            "2026 11 24/ab c",
            "ünïcode:ü",
            "urn:verbatim:guid:x",
        ] {
            let uri = super::uri_of_guid(guid);
            assert!(url::Url::parse(&uri).is_ok(), "{uri}");
            assert_eq!(super::guid_from_uri(&uri), guid);
        }
        let urn = "urn:newsml:wire.test:2026:1";
        assert_eq!(super::uri_of_guid(urn), urn);
        assert_eq!(super::guid_from_uri(urn), urn);
    }

    use super::*;
    use crate::Pubstatus;

    #[test]
    fn required_and_typed_as_ninjs_2_1_says() {
        let item = Item {
            guid: "urn:test:1".into(),
            version: Some(3),
            pubstatus: Pubstatus::Withheld,
            headline: "Headline".into(),
            body_html: "<p>Body</p>".into(),
            ..Item::default()
        };
        let ninjs = to_ninjs(&item);
        assert_eq!(ninjs["uri"], "urn:test:1");
        assert_eq!(ninjs["version"], "3", "ninjs 2.x versions are strings");
        assert_eq!(ninjs["pubstatus"], "withheld");
        assert_eq!(ninjs["headlines"][0]["value"], "Headline");
        assert_eq!(ninjs["bodies"][0]["value"], "<p>Body</p>");
        assert!(
            ninjs.get("embargoed").is_none(),
            "absent fields are left out"
        );
    }
}
