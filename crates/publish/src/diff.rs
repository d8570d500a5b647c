//! Word-level differences between two versions of a story's text, for the version history: what
//! the agency removed and added, word by word, with everything else shown as it was.

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

/// A run of text that is unchanged, removed or added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// `same`, `removed` or `added`.
    pub change: &'static str,
    pub text: String,
}

/// The changes from `old` to `new` by words (white space belongs to the words around it), with
/// neighbouring runs of the same kind merged so the page stays readable.
pub fn word_diff(old: &str, new: &str) -> Vec<Segment> {
    let diff = TextDiff::configure()
        .timeout(std::time::Duration::from_millis(200))
        .diff_words(old, new);
    let mut segments: Vec<Segment> = Vec::new();
    for change in diff.iter_all_changes() {
        let kind = match change.tag() {
            ChangeTag::Equal => "same",
            ChangeTag::Delete => "removed",
            ChangeTag::Insert => "added",
        };
        match segments.last_mut() {
            Some(last) if last.change == kind => last.text.push_str(change.value()),
            _ => segments.push(Segment {
                change: kind,
                text: change.value().to_string(),
            }),
        }
    }
    segments
}

/// Whether anything changed.
pub fn changed(segments: &[Segment]) -> bool {
    segments.iter().any(|segment| segment.change != "same")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_removed_and_added_are_marked_the_rest_kept() {
        let segments = word_diff(
            "Three people were hurt in Oslo.",
            "Four people were hurt in Oslo.",
        );
        let rebuilt_old: String = segments
            .iter()
            .filter(|segment| segment.change != "added")
            .map(|segment| segment.text.as_str())
            .collect();
        let rebuilt_new: String = segments
            .iter()
            .filter(|segment| segment.change != "removed")
            .map(|segment| segment.text.as_str())
            .collect();
        assert_eq!(rebuilt_old, "Three people were hurt in Oslo.");
        assert_eq!(rebuilt_new, "Four people were hurt in Oslo.");
        assert_eq!(
            segments[0],
            Segment {
                change: "removed",
                text: "Three".into()
            }
        );
        assert_eq!(
            segments[1],
            Segment {
                change: "added",
                text: "Four".into()
            }
        );
        assert!(changed(&segments));
        assert!(!changed(&word_diff("same text", "same text")));
    }
}
