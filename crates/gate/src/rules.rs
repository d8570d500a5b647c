//! Routing rules: the operator's `[[rules]]` from the config, checked once at start and then
//! matched against every item. A rule matches on source, keywords, subjects, language and
//! urgency, and routes the item to sections, holds it, drops it, publishes it link-only, or
//! notifies a webhook.

use serde::{Deserialize, Deserializer};
use verbatim_item::Item;

/// A rule as written in the config file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Names the rule in hold reasons, logs and errors.
    pub name: String,
    /// Matches items from any of these sources.
    #[serde(default, deserialize_with = "one_or_many")]
    pub source: Vec<String>,
    /// Matches items whose headline, body or agency keywords contain any of these words or
    /// phrases (case-insensitive, whole words).
    #[serde(default, deserialize_with = "one_or_many")]
    pub keywords: Vec<String>,
    /// Matches items with any of these subject codes (`medtop:15000000`) or names.
    #[serde(default, deserialize_with = "one_or_many")]
    pub subjects: Vec<String>,
    /// Matches items in any of these languages (`en` also matches `en-GB`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub language: Vec<String>,
    /// Matches items whose IPTC urgency (1 most urgent … 9) is in this range: `"1-3"` or `"1"`.
    pub urgency: Option<String>,
    /// Matches every item (a rule with no condition must say so).
    #[serde(default)]
    pub all: bool,
    /// Sections the item is published in (added to what other rules give).
    #[serde(default, deserialize_with = "one_or_many")]
    pub sections: Vec<String>,
    /// `publish` (default), `hold`, `drop` or `link-only`.
    pub action: Option<String>,
    /// The name of a `[[webhooks]]` endpoint told when an item matches.
    pub notify: Option<String>,
}

/// What a matching rule does with the item, from the mildest to the strongest. When several
/// rules match, the strongest action wins; sections and notifications add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Action {
    #[default]
    Publish,
    /// Rights: headline and a link to the agency's page, no text.
    LinkOnly,
    /// Into the held queue, with the rule's name as the reason.
    Hold,
    /// Not stored as a story at all (the raw payload stays archived).
    Drop,
}

impl Action {
    pub fn parse(word: &str) -> Option<Action> {
        match word {
            "publish" => Some(Action::Publish),
            "link-only" => Some(Action::LinkOnly),
            "hold" => Some(Action::Hold),
            "drop" => Some(Action::Drop),
            _ => None,
        }
    }
}

/// A checked rule, ready to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    sources: Vec<String>,
    keywords: Vec<Keyword>,
    subjects: Vec<String>,
    languages: Vec<String>,
    urgency: Option<(u8, u8)>,
    pub sections: Vec<String>,
    pub action: Action,
    pub notify: Option<String>,
}

/// A keyword as matched: whole lower-case words in order, or (for scripts written without
/// spaces) a lower-case substring.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Keyword {
    Words(Vec<String>),
    Substring(String),
}

/// The rules, in the order the config gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

/// What the rules decided for one item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    pub sections: Vec<String>,
    pub action: Action,
    /// The rule that decided the action (the strongest one that matched).
    pub decided_by: Option<String>,
    /// Webhook endpoint names to notify, with the rule that asked.
    pub notify: Vec<(String, String)>,
}

/// A rule the config gets wrong, with the rule's name (or position) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rules: {rule}: {problem}")]
pub struct RuleError {
    pub rule: String,
    pub problem: String,
}

/// A section name: lower-case letters, digits and hyphens (it is part of URLs).
pub fn valid_section(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
}

/// A BCP 47 language tag as far as Verbatim uses one: letters and digits in parts joined by
/// `-` (`en`, `pt-BR`, `zh-Hant-TW`).
pub fn valid_language_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 35
        && tag
            .split('-')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
}

impl Rules {
    /// Checks every rule: names unique and present, at least one condition (or `all = true`),
    /// urgency a range within 1–9, known action, sources and webhooks that exist, section names
    /// usable in URLs. `known_sources` of `None` skips the source check.
    pub fn compile(
        specs: &[RuleSpec],
        known_sources: Option<&[String]>,
        webhook_names: &[String],
    ) -> Result<Rules, RuleError> {
        let mut rules: Vec<Rule> = Vec::with_capacity(specs.len());
        for (position, spec) in specs.iter().enumerate() {
            let label = if spec.name.trim().is_empty() {
                format!("rule #{}", position + 1)
            } else {
                format!("{:?}", spec.name)
            };
            let fail = |problem: String| RuleError {
                rule: label.clone(),
                problem,
            };
            if spec.name.trim().is_empty() {
                return Err(fail("every rule needs a name".into()));
            }
            if rules.iter().any(|rule| rule.name == spec.name) {
                return Err(fail("two rules have this name".into()));
            }
            let has_condition = !spec.source.is_empty()
                || !spec.keywords.is_empty()
                || !spec.subjects.is_empty()
                || !spec.language.is_empty()
                || spec.urgency.is_some();
            if !has_condition && !spec.all {
                return Err(fail(
                    "no condition (source, keywords, subjects, language, urgency); \
                     write `all = true` for a rule that matches every item"
                        .into(),
                ));
            }
            if has_condition && spec.all {
                return Err(fail(
                    "`all = true` cannot be combined with conditions".into(),
                ));
            }
            if let Some(known) = known_sources
                && let Some(unknown) = spec.source.iter().find(|name| !known.contains(name))
            {
                return Err(fail(format!(
                    "unknown source {unknown:?} (known: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
            let mut keywords = Vec::with_capacity(spec.keywords.len());
            for keyword in &spec.keywords {
                keywords.push(
                    Keyword::new(keyword)
                        .ok_or_else(|| fail(format!("keyword {keyword:?} has no letters")))?,
                );
            }
            if let Some(empty) = spec
                .subjects
                .iter()
                .find(|subject| subject.trim().is_empty())
            {
                return Err(fail(format!("empty subject {empty:?}")));
            }
            for language in &spec.language {
                if !valid_language_tag(language) {
                    return Err(fail(format!(
                        "language {language:?} is not a language tag (like \"en\" or \"pt-BR\")"
                    )));
                }
            }
            let urgency = match &spec.urgency {
                Some(text) => Some(parse_urgency(text).ok_or_else(|| {
                    fail(format!(
                        "urgency {text:?} is not a range within 1-9 (like \"1-3\" or \"2\")"
                    ))
                })?),
                None => None,
            };
            if let Some(bad) = spec.sections.iter().find(|name| !valid_section(name)) {
                return Err(fail(format!(
                    "section {bad:?} must be lower-case letters, digits and hyphens"
                )));
            }
            let action = match &spec.action {
                Some(word) => Action::parse(word).ok_or_else(|| {
                    fail(format!(
                        "unknown action {word:?} (publish, hold, drop, link-only)"
                    ))
                })?,
                None => Action::Publish,
            };
            if let Some(endpoint) = &spec.notify
                && !webhook_names.contains(endpoint)
            {
                return Err(fail(format!(
                    "notify: no webhook named {endpoint:?} (give a [[webhooks]] entry `name = {endpoint:?}`)"
                )));
            }
            if action == Action::Publish && spec.sections.is_empty() && spec.notify.is_none() {
                return Err(fail(
                    "does nothing: give sections, an action (hold, drop, link-only) or notify"
                        .into(),
                ));
            }
            rules.push(Rule {
                name: spec.name.clone(),
                sources: spec.source.clone(),
                keywords,
                subjects: spec
                    .subjects
                    .iter()
                    .map(|s| s.trim().to_lowercase())
                    .collect(),
                languages: spec
                    .language
                    .iter()
                    .map(|l| l.to_ascii_lowercase())
                    .collect(),
                urgency,
                sections: spec.sections.clone(),
                action,
                notify: spec.notify.clone(),
            });
        }
        Ok(Rules { rules })
    }

    /// Every rule that matches `item`, combined.
    pub fn route(&self, item: &Item) -> Routing {
        let mut routing = Routing::default();
        if self.rules.is_empty() {
            return routing;
        }
        let words = Words::of(item);
        for rule in self.rules.iter().filter(|rule| rule.matches(item, &words)) {
            for section in &rule.sections {
                if !routing.sections.contains(section) {
                    routing.sections.push(section.clone());
                }
            }
            if rule.action > routing.action {
                routing.action = rule.action;
                routing.decided_by = Some(rule.name.clone());
            }
            if let Some(endpoint) = &rule.notify {
                routing.notify.push((endpoint.clone(), rule.name.clone()));
            }
        }
        routing
    }
}

fn parse_urgency(text: &str) -> Option<(u8, u8)> {
    let (low, high) = match text.split_once('-') {
        Some((low, high)) => (low.trim().parse().ok()?, high.trim().parse().ok()?),
        None => {
            let value: u8 = text.trim().parse().ok()?;
            (value, value)
        }
    };
    ((1..=9).contains(&low) && (1..=9).contains(&high) && low <= high).then_some((low, high))
}

/// Scripts written without spaces between words: keywords in them match as substrings.
fn unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF   // Thai, Lao
        | 0x1000..=0x109F // Myanmar
        | 0x1780..=0x17FF // Khmer
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK
        | 0xAC00..=0xD7AF // Hangul (spaced, but compounds are long; substring is kinder)
        | 0xF900..=0xFAFF
        | 0x20000..=0x2FFFF)
}

fn split_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
}

impl Keyword {
    fn new(text: &str) -> Option<Keyword> {
        if text.chars().any(unspaced_script) {
            let lowered = text.trim().to_lowercase();
            return (!lowered.is_empty()).then_some(Keyword::Substring(lowered));
        }
        let words: Vec<String> = split_words(text).collect();
        (!words.is_empty()).then_some(Keyword::Words(words))
    }
}

/// An item's text as the rules read it: lower-case words of headline and body, the lower-case
/// text itself (for substring keywords), and the agency's keywords.
struct Words {
    words: Vec<String>,
    lowered: String,
    agency_keywords: Vec<String>,
}

impl Words {
    fn of(item: &Item) -> Words {
        let text = format!("{}\n{}", item.headline, item.body_text);
        Words {
            words: split_words(&text).collect(),
            lowered: text.to_lowercase(),
            agency_keywords: item
                .keywords
                .iter()
                .map(|keyword| keyword.trim().to_lowercase())
                .collect(),
        }
    }

    fn contains(&self, keyword: &Keyword) -> bool {
        match keyword {
            Keyword::Substring(needle) => {
                self.lowered.contains(needle.as_str())
                    || self
                        .agency_keywords
                        .iter()
                        .any(|k| k.contains(needle.as_str()))
            }
            Keyword::Words(sequence) => {
                let joined = sequence.join(" ");
                self.agency_keywords.contains(&joined)
                    || self
                        .words
                        .windows(sequence.len())
                        .any(|window| window == sequence.as_slice())
            }
        }
    }
}

impl Rule {
    fn matches(&self, item: &Item, words: &Words) -> bool {
        if !self.sources.is_empty() && !self.sources.contains(&item.source) {
            return false;
        }
        if !self.languages.is_empty() {
            let Some(language) = item.language.as_deref() else {
                return false;
            };
            let language = language.to_ascii_lowercase();
            let found = self.languages.iter().any(|wanted| {
                language == *wanted
                    || (language.starts_with(wanted.as_str())
                        && language.as_bytes().get(wanted.len()) == Some(&b'-'))
            });
            if !found {
                return false;
            }
        }
        if let Some((low, high)) = self.urgency {
            match item.urgency {
                Some(urgency) if (low..=high).contains(&urgency) => {}
                _ => return false,
            }
        }
        if !self.subjects.is_empty() {
            let found = item.subjects.iter().any(|subject| {
                let name = subject.name.trim().to_lowercase();
                let code = subject
                    .code
                    .as_deref()
                    .map(|code| code.trim().to_lowercase());
                self.subjects
                    .iter()
                    .any(|wanted| *wanted == name || code.as_deref() == Some(wanted.as_str()))
            });
            if !found {
                return false;
            }
        }
        if !self.keywords.is_empty() && !self.keywords.iter().any(|k| words.contains(k)) {
            return false;
        }
        true
    }
}

/// Accepts `key = "one"` as well as `key = ["one", "two"]`.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use verbatim_item::Subject;

    fn specs(toml_text: &str) -> Vec<RuleSpec> {
        #[derive(Deserialize)]
        struct File {
            rules: Vec<RuleSpec>,
        }
        match toml::from_str::<File>(toml_text) {
            Ok(file) => file.rules,
            Err(error) => panic!("test TOML: {error}"),
        }
    }

    fn compile(toml_text: &str) -> Result<Rules, RuleError> {
        let sources = vec!["wire-sport".to_string(), "wire-world".to_string()];
        Rules::compile(&specs(toml_text), Some(&sources), &["desk".to_string()])
    }

    fn item() -> Item {
        Item {
            source: "wire-world".into(),
            guid: "1".into(),
            headline: "Storm closes harbour".into(),
            body_text: "The Climate Change minister said the harbour of Tromsø would reopen."
                .into(),
            language: Some("en-GB".into()),
            urgency: Some(3),
            subjects: vec![Subject {
                code: Some("medtop:06000000".into()),
                name: "environment".into(),
            }],
            ..Item::default()
        }
    }

    #[test]
    fn each_condition_matches_and_misses() -> Result<(), RuleError> {
        let cases = [
            ("source = \"wire-world\"", true),
            ("source = [\"wire-sport\"]", false),
            ("keywords = \"climate change\"", true),
            ("keywords = \"change climate\"", false),
            ("keywords = \"TROMSØ\"", true),
            ("keywords = \"harb\"", false),
            ("subjects = \"medtop:06000000\"", true),
            ("subjects = \"Environment\"", true),
            ("subjects = \"medtop:15000000\"", false),
            ("language = \"en\"", true),
            ("language = \"en-gb\"", true),
            ("language = \"e\"", false),
            ("language = \"fr\"", false),
            ("urgency = \"1-3\"", true),
            ("urgency = \"1-2\"", false),
            ("all = true", true),
        ];
        for (condition, expected) in cases {
            let rules = compile(&format!(
                "[[rules]]\nname = \"r\"\n{condition}\nsections = [\"s\"]\n"
            ))?;
            let routed = !rules.route(&item()).sections.is_empty();
            assert_eq!(routed, expected, "{condition}");
        }
        Ok(())
    }

    #[test]
    fn keywords_in_unspaced_scripts_match_inside_text() -> Result<(), RuleError> {
        let rules = compile("[[rules]]\nname = \"r\"\nkeywords = \"東京\"\naction = \"hold\"\n")?;
        let mut japanese = item();
        japanese.body_text = "きょう東京で地震がありました。".into();
        assert_eq!(rules.route(&japanese).action, Action::Hold);
        assert_eq!(rules.route(&item()).action, Action::Publish);
        Ok(())
    }

    #[test]
    fn strongest_action_wins_and_sections_add_up() -> Result<(), RuleError> {
        let rules = compile(
            "[[rules]]\nname = \"world\"\nsource = \"wire-world\"\nsections = [\"world\"]\n\
             [[rules]]\nname = \"rights\"\nlanguage = \"en\"\naction = \"link-only\"\nsections = \"europe\"\n\
             [[rules]]\nname = \"check\"\nurgency = \"3\"\naction = \"hold\"\nnotify = \"desk\"\n",
        )?;
        let routing = rules.route(&item());
        assert_eq!(routing.sections, vec!["world", "europe"]);
        assert_eq!(routing.action, Action::Hold);
        assert_eq!(routing.decided_by.as_deref(), Some("check"));
        assert_eq!(
            routing.notify,
            vec![("desk".to_string(), "check".to_string())]
        );
        Ok(())
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("name = \"\"\nall = true\naction = \"hold\"", "needs a name"),
            ("name = \"a\"\naction = \"hold\"", "no condition"),
            (
                "name = \"a\"\nall = true\nsource = \"wire-world\"\naction = \"hold\"",
                "cannot be combined",
            ),
            (
                "name = \"a\"\nsource = \"nowhere\"\naction = \"hold\"",
                "unknown source \"nowhere\"",
            ),
            (
                "name = \"a\"\nurgency = \"0-4\"\naction = \"hold\"",
                "urgency",
            ),
            (
                "name = \"a\"\nurgency = \"3-1\"\naction = \"hold\"",
                "urgency",
            ),
            (
                "name = \"a\"\nall = true\naction = \"delete\"",
                "unknown action \"delete\"",
            ),
            (
                "name = \"a\"\nall = true\nsections = [\"Sport News\"]",
                "section \"Sport News\"",
            ),
            (
                "name = \"a\"\nall = true\nnotify = \"pager\"",
                "no webhook named \"pager\"",
            ),
            ("name = \"a\"\nall = true", "does nothing"),
            (
                "name = \"a\"\nkeywords = \"--\"\naction = \"hold\"",
                "no letters",
            ),
            (
                "name = \"a\"\nlanguage = \"en_GB\"\naction = \"hold\"",
                "not a language tag",
            ),
        ];
        for (body, expected) in cases {
            let error = compile(&format!("[[rules]]\n{body}\n"))
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default();
            assert!(error.contains(expected), "{body}: {error}");
        }
        let twice = compile(
            "[[rules]]\nname = \"a\"\nall = true\naction = \"hold\"\n\
             [[rules]]\nname = \"a\"\nall = true\naction = \"drop\"\n",
        );
        assert!(twice.is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct File {
            rules: Vec<RuleSpec>,
        }
        let error = toml::from_str::<File>("[[rules]]\nname = \"a\"\nsection = \"x\"\n")
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(error.contains("section"), "{error}");
    }
}
