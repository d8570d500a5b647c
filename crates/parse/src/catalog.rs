//! IPTC QCode resolution. A QCode `alias:code` names a concept in the scheme its alias stands for;
//! aliases resolve through the item's own `<catalog>` and then IPTC's G2 standards catalog, built
//! into the binary (`data/`). Lifecycle codes are recognised by the scheme they resolve to, not by
//! their spelling, so an agency's own `xyz:canceled` is not mistaken for an IPTC kill.

use crate::xml::{Element, XmlLimits, read_document};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The scheme of publication statuses (`stat:`).
pub const PUBSTATUS: &str = "http://cv.iptc.org/newscodes/pubstatusg2/";
/// The scheme of item signals such as `update` and `correction` (`sig:`).
pub const SIGNAL: &str = "http://cv.iptc.org/newscodes/signal/";
/// The scheme of item natures: text, picture, video... (`ninat:`).
pub const NATURE: &str = "http://cv.iptc.org/newscodes/ninature/";

const STANDARD_CATALOG: &str = include_str!("../data/catalog.IPTC-G2-Standards_41.xml");

/// A concept: the URI of its scheme and its code in that scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concept<'a> {
    pub scheme: &'a str,
    pub code: &'a str,
}

/// Alias → scheme URI.
#[derive(Debug, Default)]
pub struct Catalog {
    schemes: HashMap<String, String>,
}

impl Catalog {
    /// IPTC's standards catalog, read once.
    pub fn standard() -> &'static Catalog {
        static STANDARD: OnceLock<Catalog> = OnceLock::new();
        STANDARD.get_or_init(|| {
            let mut catalog = Catalog::default();
            if let Ok(document) = read_document(STANDARD_CATALOG, XmlLimits::default()) {
                catalog.add_schemes(&document.root);
            }
            catalog
        })
    }

    /// The schemes declared by `<catalog>` elements directly inside `item` (and inside its
    /// `<catalog>` children), which take precedence over the standard catalog.
    pub fn of_item(item: &Element) -> Catalog {
        let mut catalog = Catalog::default();
        for declared in item.elements().filter(|element| element.name == "catalog") {
            catalog.add_schemes(declared);
        }
        catalog
    }

    fn add_schemes(&mut self, catalog: &Element) {
        for scheme in catalog
            .elements()
            .filter(|element| element.name == "scheme")
        {
            if let (Some(alias), Some(uri)) = (scheme.attr("alias"), scheme.attr("uri")) {
                self.schemes
                    .entry(alias.trim().to_string())
                    .or_insert_with(|| uri.trim().to_string());
            }
        }
    }

    fn scheme(&self, alias: &str) -> Option<&str> {
        self.schemes.get(alias).map(String::as_str)
    }

    /// Resolves a QCode (`stat:usable`) or a concept URI (`http://…/pubstatusg2/usable`).
    /// `None` when the alias is in neither this catalog nor the standard one.
    pub fn resolve<'a>(&'a self, qcode_or_uri: &'a str) -> Option<Concept<'a>> {
        let value = qcode_or_uri.trim();
        if value.starts_with("http://") || value.starts_with("https://") {
            let split = value.rfind('/')? + 1;
            return Some(Concept {
                scheme: &value[..split],
                code: &value[split..],
            });
        }
        let (alias, code) = value.split_once(':')?;
        let scheme = self
            .scheme(alias)
            .or_else(|| Catalog::standard().scheme(alias))?;
        Some(Concept { scheme, code })
    }

    /// The code of `qcode_or_uri` when it resolves into `scheme`.
    pub fn code_in<'a>(&'a self, qcode_or_uri: &'a str, scheme: &str) -> Option<&'a str> {
        self.resolve(qcode_or_uri)
            .filter(|concept| concept.scheme == scheme)
            .map(|concept| concept.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_catalog_knows_the_lifecycle_schemes() {
        let standard = Catalog::standard();
        assert!(standard.schemes.len() > 100, "{}", standard.schemes.len());
        assert_eq!(
            standard.code_in("stat:canceled", PUBSTATUS),
            Some("canceled")
        );
        assert_eq!(
            standard.code_in("sig:correction", SIGNAL),
            Some("correction")
        );
        assert_eq!(standard.code_in("ninat:picture", NATURE), Some("picture"));
        assert_eq!(
            standard.code_in("http://cv.iptc.org/newscodes/pubstatusg2/usable", PUBSTATUS),
            Some("usable")
        );
        // Another scheme's "canceled" is not a publication status.
        assert_eq!(standard.code_in("medtop:canceled", PUBSTATUS), None);
        assert_eq!(standard.resolve("nosuchalias:usable"), None);
    }

    #[test]
    fn an_items_own_catalog_takes_precedence() {
        let document = match read_document(
            r#"<newsItem><catalog><scheme alias="ps" uri="http://cv.iptc.org/newscodes/pubstatusg2/"/>
               <scheme alias="stat" uri="http://agency.test/status/"/></catalog></newsItem>"#,
            XmlLimits::default(),
        ) {
            Ok(document) => document,
            Err(error) => panic!("{error:?}"),
        };
        let catalog = Catalog::of_item(&document.root);
        assert_eq!(catalog.code_in("ps:withheld", PUBSTATUS), Some("withheld"));
        assert_eq!(catalog.code_in("stat:withheld", PUBSTATUS), None);
    }
}
