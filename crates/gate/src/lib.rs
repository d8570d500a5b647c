//! gate: decides, for one normalized item, whether it may be published, must be held (with the
//! reasons), waits for its embargo, or is routed: sections, link-only, dropped, notified (the
//! operator's rules, `rules.rs`). The quality checks are in `quality.rs`. Pure: the current
//! time, the rules and what is known of the source are passed in.

pub mod quality;
pub mod rules;

use chrono::{DateTime, Utc};
pub use quality::SourceProfile;
pub use rules::{Action, RuleError, RuleSpec, Rules};
use verbatim_item::Pubstatus;
use verbatim_normalize::Normalized;

/// The gate's decision for one item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Why the item must not be published. Empty means it may be.
    pub hold_reasons: Vec<String>,
    /// The embargo: the item is stored now and becomes visible at this time.
    pub embargoed_until: Option<DateTime<Utc>>,
    /// Sections the rules put the item in.
    pub sections: Vec<String>,
    /// Rights: publish the headline and a link only.
    pub link_only: bool,
    /// The rule that dropped the item: it is not stored as a story.
    pub dropped_by: Option<String>,
    /// Webhook endpoints to notify, with the rule that asked.
    pub notify: Vec<(String, String)>,
}

impl Verdict {
    pub fn is_held(&self) -> bool {
        !self.hold_reasons.is_empty()
    }
}

/// Whether an operator may release an item held for `reason`. A fidelity failure may not:
/// publishing it would show a text that is not the agency's. Nor an item without an id.
pub fn releasable(reason: &str) -> bool {
    !reason.starts_with("fidelity:") && reason != "the item has no id"
}

/// What the gate is told besides the item.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub rules: Option<&'a Rules>,
    pub source: Option<&'a SourceProfile>,
    /// Run the quality checks (teaser, empty, encoding damage, language).
    pub quality: bool,
}

/// Rules that apply to every item, whatever its source; then, as `context` asks, the quality
/// checks and the operator's routing rules.
pub fn gate_with(normalized: &Normalized, now: DateTime<Utc>, context: Context<'_>) -> Verdict {
    let item = &normalized.item;
    let mut hold_reasons = normalized.holds.clone();
    if let Pubstatus::Unknown(word) = &item.pubstatus {
        hold_reasons.push(format!("unknown publication status {word:?}"));
    }
    if item.guid.trim().is_empty() {
        hold_reasons.push("the item has no id".to_string());
    }
    // Kills and withholds are instructions: never held, never routed away.
    let usable = item.pubstatus == Pubstatus::Usable;
    if usable && context.quality {
        let unknown = SourceProfile::default();
        hold_reasons.extend(quality::check(item, context.source.unwrap_or(&unknown)));
    }
    let routing = context
        .rules
        .map(|rules| rules.route(item))
        .unwrap_or_default();
    let mut verdict = Verdict {
        hold_reasons,
        embargoed_until: item.embargoed.filter(|until| *until > now),
        sections: routing.sections,
        link_only: false,
        dropped_by: None,
        notify: routing.notify,
    };
    let rule = routing.decided_by.unwrap_or_default();
    match routing.action {
        Action::Publish => {}
        Action::LinkOnly => verdict.link_only = true,
        Action::Hold if usable => verdict.hold_reasons.push(format!("held by rule {rule:?}")),
        Action::Hold => {}
        Action::Drop if usable => verdict.dropped_by = Some(rule),
        Action::Drop => {}
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use verbatim_item::Item;

    fn gate_with_defaults(normalized: &Normalized, now: DateTime<Utc>) -> Verdict {
        gate_with(normalized, now, Context::default())
    }

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
        let verdict = gate_with_defaults(&normalized(item), Utc::now());
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
            gate_with_defaults(&normalized(item.clone()), now).embargoed_until,
            item.embargoed
        );
        item.embargoed = Some(now - chrono::Duration::minutes(5));
        assert_eq!(
            gate_with_defaults(&normalized(item), now).embargoed_until,
            None
        );
    }

    #[test]
    fn rules_route_hold_and_drop_usable_copy_but_never_a_kill() -> Result<(), RuleError> {
        let specs = [
            RuleSpec {
                name: "sport".into(),
                keywords: vec!["match".into()],
                sections: vec!["sport".into()],
                action: Some("hold".into()),
                ..RuleSpec::default()
            },
            RuleSpec {
                name: "spam".into(),
                keywords: vec!["casino".into()],
                action: Some("drop".into()),
                ..RuleSpec::default()
            },
        ];
        let rules = Rules::compile(&specs, None, &[])?;
        let context = Context {
            rules: Some(&rules),
            ..Context::default()
        };
        let mut item = Item {
            guid: "1".into(),
            headline: "The match".into(),
            body_text: "Played in the rain.".into(),
            ..Item::default()
        };
        let verdict = gate_with(&normalized(item.clone()), Utc::now(), context);
        assert_eq!(verdict.sections, vec!["sport"]);
        assert_eq!(
            verdict.hold_reasons,
            vec!["held by rule \"sport\"".to_string()]
        );
        assert_eq!(verdict.dropped_by, None);
        item.body_text = "Played in the casino.".into();
        let verdict = gate_with(&normalized(item.clone()), Utc::now(), context);
        assert_eq!(
            verdict.dropped_by.as_deref(),
            Some("spam"),
            "drop is stronger than hold"
        );
        item.pubstatus = Pubstatus::Canceled;
        let kill = gate_with(&normalized(item), Utc::now(), context);
        assert!(!kill.is_held());
        assert_eq!(kill.dropped_by, None);
        Ok(())
    }

    #[test]
    fn quality_checks_only_usable_copy() {
        let context = Context {
            quality: true,
            ..Context::default()
        };
        let mut item = Item {
            guid: "1".into(),
            headline: "Kill".into(),
            ..Item::default()
        };
        assert!(gate_with(&normalized(item.clone()), Utc::now(), context).is_held());
        item.pubstatus = Pubstatus::Canceled;
        assert!(!gate_with(&normalized(item), Utc::now(), context).is_held());
    }

    #[test]
    fn normalize_holds_pass_through() {
        let verdict = gate_with_defaults(
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
