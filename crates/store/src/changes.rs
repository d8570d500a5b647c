//! Following the store's changes: a cursor that hands each change of a story to its follower
//! once, reads a story in full only for a change it has not handed out yet, and pages through
//! bursts instead of stalling on them. Used by the search follower, live updates and webhooks.

use crate::{Store, StoreError, StoryRecord};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Changes are re-read this far behind the mark: two processes writing the store may commit
/// slightly out of their clocks' order, and a change stamped just before the mark must not be
/// missed.
pub const OVERLAP: chrono::Duration = chrono::Duration::seconds(2);

/// Stamps read per store query.
const PAGE: usize = 1_000;
/// The most stamps read at once when a whole page shares one instant.
const LARGEST_PAGE: usize = 10_000;

/// Where a follower is in the store's change order.
#[derive(Debug, Clone)]
pub struct ChangeCursor {
    mark: DateTime<Utc>,
    /// Changes already handed out inside the overlap window: (story id → its change time).
    seen: HashMap<String, DateTime<Utc>>,
}

/// Stories changed since the previous call, oldest change first.
#[derive(Debug, Default)]
pub struct ChangeBatch {
    pub stories: Vec<StoryRecord>,
    /// More changes are waiting (the batch stopped at its size).
    pub more: bool,
}

impl ChangeCursor {
    /// A cursor that hands out the changes made at or after `mark` (less the overlap).
    pub fn new(mark: DateTime<Utc>) -> ChangeCursor {
        ChangeCursor {
            mark,
            seen: HashMap::new(),
        }
    }

    /// The newest change time seen so far.
    pub fn mark(&self) -> DateTime<Utc> {
        self.mark
    }

    /// Hands a story's change out again at the next call (if it is still inside the overlap
    /// window): for a follower that failed to act on it.
    pub fn retry(&mut self, id: &str) {
        self.seen.remove(id);
    }

    /// The changes since the previous call, at least `max` when that many are waiting (a page
    /// may take it over). A story comes once per change, even when a burst stamps more stories
    /// with one instant than fit in a page.
    pub async fn next(&mut self, store: &dyn Store, max: usize) -> Result<ChangeBatch, StoreError> {
        let mut since = self
            .mark
            .checked_sub_signed(OVERLAP)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut batch = ChangeBatch::default();
        loop {
            let mut limit = PAGE;
            let mut stamps = store.changed_story_stamps(since, limit).await?;
            // A full page that does not get past its first instant: read that instant whole.
            while stamps.len() == limit
                && stamps.first().map(|stamp| stamp.changed_at)
                    == stamps.last().map(|stamp| stamp.changed_at)
                && limit < LARGEST_PAGE
            {
                limit *= 10;
                stamps = store.changed_story_stamps(since, limit).await?;
            }
            let full = stamps.len() == limit;
            let unseen: Vec<String> = stamps
                .iter()
                .filter(|stamp| self.seen.get(&stamp.id) != Some(&stamp.changed_at))
                .map(|stamp| stamp.id.clone())
                .collect();
            let mut stories = if unseen.is_empty() {
                Vec::new()
            } else {
                store.stories_by_id(&unseen).await?
            };
            stories.sort_by(|a, b| (a.changed_at, &a.id).cmp(&(b.changed_at, &b.id)));
            for stamp in &stamps {
                self.mark = self.mark.max(stamp.changed_at);
            }
            for story in &stories {
                // A story may have changed again since its stamp was read: it is handed out as
                // it is now, and its newer stamp is skipped next time.
                self.mark = self.mark.max(story.changed_at);
                self.seen.insert(story.id.clone(), story.changed_at);
            }
            batch.stories.extend(stories);
            match stamps.last() {
                Some(last) if full && last.changed_at > since => {
                    since = last.changed_at;
                    if batch.stories.len() >= max {
                        batch.more = true;
                        break;
                    }
                }
                _ => break,
            }
        }
        if let Some(window_start) = self.mark.checked_sub_signed(OVERLAP) {
            self.seen.retain(|_, changed| *changed >= window_start);
        }
        Ok(batch)
    }
}
