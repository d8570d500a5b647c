//! Which version of a story every output shows, from the versions stored so far. Pure, so the
//! ordering rules (agency version, then `versioncreated`, then arrival) are tested on their own.

use chrono::{DateTime, Utc};
use serde::Serialize;
use verbatim_item::Pubstatus;

/// What every output shows for a story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoryState {
    /// The current version is usable: shown everywhere.
    Published,
    /// Killed: the page answers 410, the story is in no list.
    Canceled,
    /// Hidden until a later usable version arrives.
    Withheld,
    /// Every version so far was held by the gate: nothing shown.
    Held,
    /// Every publishable version is under embargo: nothing shown until it ends.
    Embargoed,
}

impl StoryState {
    pub fn as_str(self) -> &'static str {
        match self {
            StoryState::Published => "published",
            StoryState::Canceled => "canceled",
            StoryState::Withheld => "withheld",
            StoryState::Held => "held",
            StoryState::Embargoed => "embargoed",
        }
    }

    pub fn parse(word: &str) -> StoryState {
        match word {
            "published" => StoryState::Published,
            "canceled" => StoryState::Canceled,
            "withheld" => StoryState::Withheld,
            "embargoed" => StoryState::Embargoed,
            _ => StoryState::Held,
        }
    }
}

/// The facts about one stored version that decide the story's state.
#[derive(Debug, Clone)]
pub struct VersionFacts {
    /// Arrival order (the version's row id).
    pub arrival: i64,
    pub agency_version: Option<u64>,
    pub versioncreated: Option<DateTime<Utc>>,
    pub pubstatus: Pubstatus,
    pub held: bool,
    pub embargoed_until: Option<DateTime<Utc>>,
}

/// The story's state, the version outputs show, and the next embargo to release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub state: StoryState,
    pub current: Option<i64>,
    pub embargo_until: Option<DateTime<Utc>>,
}

/// The order of a story's versions: agency version, then `versioncreated`, then arrival.
pub fn story_order(
    agency_version: Option<u64>,
    versioncreated: Option<DateTime<Utc>>,
    arrival: i64,
) -> (u64, Option<DateTime<Utc>>, i64) {
    (agency_version.unwrap_or(0), versioncreated, arrival)
}

pub fn resolve(versions: &[VersionFacts], now: DateTime<Utc>) -> Resolution {
    let publishable = versions.iter().filter(|version| !version.held);
    let (pending, visible): (Vec<&VersionFacts>, Vec<&VersionFacts>) =
        publishable.partition(|version| version.embargoed_until.is_some_and(|until| until > now));
    let embargo_until = pending
        .iter()
        .filter_map(|version| version.embargoed_until)
        .min();
    let newest = visible.into_iter().max_by_key(|version| {
        story_order(
            version.agency_version,
            version.versioncreated,
            version.arrival,
        )
    });
    let Some(newest) = newest else {
        let state = if embargo_until.is_some() {
            StoryState::Embargoed
        } else {
            StoryState::Held
        };
        return Resolution {
            state,
            current: None,
            embargo_until,
        };
    };
    let state = match newest.pubstatus {
        Pubstatus::Usable => StoryState::Published,
        Pubstatus::Canceled => StoryState::Canceled,
        Pubstatus::Withheld => StoryState::Withheld,
        Pubstatus::Unknown(_) => StoryState::Held,
    };
    Resolution {
        state,
        current: Some(newest.arrival),
        embargo_until,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn version(arrival: i64, agency_version: Option<u64>, pubstatus: Pubstatus) -> VersionFacts {
        VersionFacts {
            arrival,
            agency_version,
            versioncreated: None,
            pubstatus,
            held: false,
            embargoed_until: None,
        }
    }

    #[test]
    fn out_of_order_versions_never_make_an_older_one_current() {
        let now = Utc::now();
        let versions = [
            version(1, Some(3), Pubstatus::Usable),
            version(2, Some(2), Pubstatus::Usable),
        ];
        assert_eq!(resolve(&versions, now).current, Some(1));
    }

    #[test]
    fn a_kill_takes_the_story_down_and_withheld_is_lifted_by_a_later_version() {
        let now = Utc::now();
        let killed = [
            version(1, Some(1), Pubstatus::Usable),
            version(2, Some(2), Pubstatus::Canceled),
        ];
        assert_eq!(resolve(&killed, now).state, StoryState::Canceled);
        let lifted = [
            version(1, Some(1), Pubstatus::Withheld),
            version(2, Some(2), Pubstatus::Usable),
        ];
        assert_eq!(resolve(&lifted, now).state, StoryState::Published);
    }

    #[test]
    fn held_versions_do_not_replace_the_published_one() {
        let now = Utc::now();
        let mut update = version(2, None, Pubstatus::Usable);
        update.held = true;
        let resolution = resolve(&[version(1, None, Pubstatus::Usable), update], now);
        assert_eq!(
            (resolution.state, resolution.current),
            (StoryState::Published, Some(1))
        );
    }

    #[test]
    fn embargo_hides_until_its_time() {
        let now = Utc::now();
        let mut embargoed = version(1, None, Pubstatus::Usable);
        embargoed.embargoed_until = Some(now + Duration::seconds(10));
        let before = resolve(std::slice::from_ref(&embargoed), now);
        assert_eq!(before.state, StoryState::Embargoed);
        let after = resolve(&[embargoed], now + Duration::seconds(10));
        assert_eq!(after.state, StoryState::Published);
    }
}
