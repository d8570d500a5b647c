//! gate: decides, for one normalized item, whether it may be published, must be held (with the
//! reasons), or waits for its embargo. Pure: the current time is passed in.

use chrono::{DateTime, Utc};
use verbatim_item::Pubstatus;
use verbatim_normalize::Normalized;

/// The gate's decision for one item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Why the item must not be published. Empty means it may be.
    pub hold_reasons: Vec<String>,
    /// The embargo: the item is stored now and becomes visible at this time.
    pub embargoed_until: Option<DateTime<Utc>>,
}

impl Verdict {
    pub fn is_held(&self) -> bool {
        !self.hold_reasons.is_empty()
    }
}

/// Rules that apply to every item, whatever its source.
pub fn gate(normalized: &Normalized, now: DateTime<Utc>) -> Verdict {
    let item = &normalized.item;
    let mut hold_reasons = normalized.holds.clone();
    if let Pubstatus::Unknown(word) = &item.pubstatus {
        hold_reasons.push(format!("unknown publication status {word:?}"));
    }
    if item.guid.trim().is_empty() {
        hold_reasons.push("the item has no id".to_string());
    }
    Verdict {
        hold_reasons,
        embargoed_until: item.embargoed.filter(|until| *until > now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verbatim_item::Item;

    fn normalized(item: Item) -> Normalized {
        Normalized {
            item,
            holds: Vec::new(),
        }
    }

    #[test]
    fn unknown_status_is_held() {
        let item = Item {
            guid: "1".into(),
            pubstatus: Pubstatus::from_agency_word("withdrawn"),
            ..Item::default()
        };
        let verdict = gate(&normalized(item), Utc::now());
        assert_eq!(
            verdict.hold_reasons,
            vec!["unknown publication status \"withdrawn\"".to_string()]
        );
    }

    #[test]
    fn future_embargo_is_kept_past_one_is_not() {
        let now = Utc::now();
        let mut item = Item {
            guid: "1".into(),
            embargoed: Some(now + chrono::Duration::minutes(5)),
            ..Item::default()
        };
        assert_eq!(
            gate(&normalized(item.clone()), now).embargoed_until,
            item.embargoed
        );
        item.embargoed = Some(now - chrono::Duration::minutes(5));
        assert_eq!(gate(&normalized(item), now).embargoed_until, None);
    }

    #[test]
    fn normalize_holds_pass_through() {
        let verdict = gate(
            &Normalized {
                item: Item {
                    guid: "1".into(),
                    ..Item::default()
                },
                holds: vec!["fidelity".into()],
            },
            Utc::now(),
        );
        assert!(verdict.is_held());
    }
}
