//! Following the store's changes: a cursor that hands each change of a story to its follower
//! once, reads a story in full only for a change it has not handed out yet, and pages through
//! bursts instead of stalling on them. Used by the search follower, live updates and webhooks.

use crate::{Store, StoreError, StoryRecord, StoryStamp};
use async_trait::async_trait;
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
    ///
    /// A read that fails after some pages were read ends the batch there (with `more` set):
    /// the cursor has moved past those pages, so returning the error would lose them. The
    /// error comes at the next call if the failing read fails again.
    pub async fn next(&mut self, store: &dyn Store, max: usize) -> Result<ChangeBatch, StoreError> {
        self.next_from(&StoreReads(store), max).await
    }

    async fn next_from(
        &mut self,
        store: &dyn ChangeReads,
        max: usize,
    ) -> Result<ChangeBatch, StoreError> {
        let mut since = self
            .mark
            .checked_sub_signed(OVERLAP)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut batch = ChangeBatch::default();
        loop {
            let (stamps, limit, mut stories) = match self.read_page(store, since).await {
                Ok(page) => page,
                Err(_) if !batch.stories.is_empty() => {
                    batch.more = true;
                    break;
                }
                Err(error) => return Err(error),
            };
            let full = stamps.len() == limit;
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

    /// Moves past every change waiting without reading the stories, each counted as handed
    /// out: for a follower with nobody to tell (live updates while no page is open), which then
    /// goes on from here exactly as if it had read them. Returns the stories passed (give one
    /// to [`ChangeCursor::retry`] to have it handed out after all, while its change is inside
    /// the overlap). As with [`ChangeCursor::next`], a read that fails after some pages ends the
    /// pass there with those pages passed; a failure before any page is the error.
    pub async fn pass(&mut self, store: &dyn Store) -> Result<Vec<String>, StoreError> {
        self.pass_from(&StoreReads(store)).await
    }

    async fn pass_from(&mut self, store: &dyn ChangeReads) -> Result<Vec<String>, StoreError> {
        let mut since = self
            .mark
            .checked_sub_signed(OVERLAP)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut passed = Vec::new();
        let mut pages = 0;
        loop {
            let (stamps, limit) = match read_stamps(store, since).await {
                Ok(page) => page,
                Err(_) if pages > 0 => break,
                Err(error) => return Err(error),
            };
            pages += 1;
            for stamp in &stamps {
                self.mark = self.mark.max(stamp.changed_at);
                if self.seen.get(&stamp.id) != Some(&stamp.changed_at) {
                    self.seen.insert(stamp.id.clone(), stamp.changed_at);
                    passed.push(stamp.id.clone());
                }
            }
            match stamps.last() {
                Some(last) if stamps.len() == limit && last.changed_at > since => {
                    since = last.changed_at;
                }
                _ => break,
            }
        }
        if let Some(window_start) = self.mark.checked_sub_signed(OVERLAP) {
            self.seen.retain(|_, changed| *changed >= window_start);
        }
        Ok(passed)
    }

    /// One page: the stamps from `since` (the page size they were read with) and the stories
    /// among them not handed out yet. Changes nothing in the cursor.
    async fn read_page(
        &self,
        store: &dyn ChangeReads,
        since: DateTime<Utc>,
    ) -> Result<(Vec<StoryStamp>, usize, Vec<StoryRecord>), StoreError> {
        let (stamps, limit) = read_stamps(store, since).await?;
        let unseen: Vec<String> = stamps
            .iter()
            .filter(|stamp| self.seen.get(&stamp.id) != Some(&stamp.changed_at))
            .map(|stamp| stamp.id.clone())
            .collect();
        let stories = if unseen.is_empty() {
            Vec::new()
        } else {
            store.stories(&unseen).await?
        };
        Ok((stamps, limit, stories))
    }
}

/// The stamps of one page from `since`, and the page size they were read with: a full page
/// that does not get past its first instant is read again larger, so that instant comes whole.
async fn read_stamps(
    store: &dyn ChangeReads,
    since: DateTime<Utc>,
) -> Result<(Vec<StoryStamp>, usize), StoreError> {
    let mut limit = PAGE;
    let mut stamps = store.stamps(since, limit).await?;
    while stamps.len() == limit
        && stamps.first().map(|stamp| stamp.changed_at)
            == stamps.last().map(|stamp| stamp.changed_at)
        && limit < LARGEST_PAGE
    {
        limit *= 10;
        stamps = store.stamps(since, limit).await?;
    }
    Ok((stamps, limit))
}

/// The two reads a cursor makes, apart from the rest of [`Store`] (so tests can fail them).
#[async_trait]
trait ChangeReads: Send + Sync {
    async fn stamps(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoryStamp>, StoreError>;
    async fn stories(&self, ids: &[String]) -> Result<Vec<StoryRecord>, StoreError>;
}

struct StoreReads<'a>(&'a dyn Store);

#[async_trait]
impl ChangeReads for StoreReads<'_> {
    async fn stamps(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoryStamp>, StoreError> {
        self.0.changed_story_stamps(since, limit).await
    }

    async fn stories(&self, ids: &[String]) -> Result<Vec<StoryRecord>, StoreError> {
        self.0.stories_by_id(ids).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoryState;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Stories changed one second apart, whose stamp reads fail at the given call.
    struct Reads {
        stories: Vec<StoryRecord>,
        stamp_calls: AtomicUsize,
        fail_at_call: Option<usize>,
        /// Stories read in full so far.
        stories_read: AtomicUsize,
    }

    impl Reads {
        fn new(count: usize, fail_at_call: Option<usize>) -> Self {
            let start = DateTime::<Utc>::MIN_UTC + chrono::Duration::days(1);
            let stories = (0..count)
                .map(|index| {
                    let changed_at = start + chrono::Duration::seconds(index as i64);
                    StoryRecord {
                        id: format!("story-{index:05}"),
                        source: "wire".into(),
                        guid: format!("guid-{index}"),
                        state: StoryState::Published,
                        sort_time: changed_at,
                        changed_at,
                        current: None,
                        headline_override: None,
                        cluster_id: None,
                        sections: Vec::new(),
                    }
                })
                .collect();
            Reads {
                stories,
                stamp_calls: AtomicUsize::new(0),
                fail_at_call,
                stories_read: AtomicUsize::new(0),
            }
        }
    }

    #[async_trait]
    impl ChangeReads for Reads {
        async fn stamps(
            &self,
            since: DateTime<Utc>,
            limit: usize,
        ) -> Result<Vec<StoryStamp>, StoreError> {
            let call = self.stamp_calls.fetch_add(1, Ordering::SeqCst);
            if Some(call) == self.fail_at_call {
                return Err(StoreError::Corrupt("the disk went away".into()));
            }
            Ok(self
                .stories
                .iter()
                .filter(|story| story.changed_at >= since)
                .take(limit)
                .map(|story| StoryStamp {
                    id: story.id.clone(),
                    changed_at: story.changed_at,
                })
                .collect())
        }

        async fn stories(&self, ids: &[String]) -> Result<Vec<StoryRecord>, StoreError> {
            self.stories_read.fetch_add(ids.len(), Ordering::SeqCst);
            Ok(self
                .stories
                .iter()
                .filter(|story| ids.contains(&story.id))
                .cloned()
                .collect())
        }
    }

    #[tokio::test]
    async fn a_read_failing_after_the_first_page_hands_out_the_pages_read() {
        // Three pages; the second page's read fails once.
        let reads = Reads::new(2 * PAGE + 10, Some(1));
        let mut cursor = ChangeCursor::new(DateTime::<Utc>::MIN_UTC);
        let first = cursor.next_from(&reads, usize::MAX).await;
        let first = first.unwrap_or_else(|error| panic!("the first page was lost: {error}"));
        assert_eq!(first.stories.len(), PAGE);
        assert!(first.more, "the batch says more is waiting");
        let rest = cursor
            .next_from(&reads, usize::MAX)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let mut ids: Vec<&str> = first
            .stories
            .iter()
            .chain(&rest.stories)
            .map(|story| story.id.as_str())
            .collect();
        let handed_out = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), handed_out, "no story twice");
        assert_eq!(handed_out, 2 * PAGE + 10, "every story once");
    }

    #[tokio::test]
    async fn a_read_failing_before_anything_was_read_is_an_error() {
        let reads = Reads::new(10, Some(0));
        let mut cursor = ChangeCursor::new(DateTime::<Utc>::MIN_UTC);
        assert!(cursor.next_from(&reads, usize::MAX).await.is_err());
        let again = cursor
            .next_from(&reads, usize::MAX)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(again.stories.len(), 10);
    }

    #[tokio::test]
    async fn passing_reads_no_story_and_the_next_batch_starts_after_what_was_passed() {
        // More than a page, so passing pages through the stamps too.
        let mut reads = Reads::new(PAGE + 500, None);
        let later = reads.stories.split_off(PAGE + 200);
        let mut cursor = ChangeCursor::new(DateTime::<Utc>::MIN_UTC);
        let passed = cursor
            .pass_from(&reads)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(passed.len(), PAGE + 200);
        assert_eq!(
            reads.stories_read.load(Ordering::SeqCst),
            0,
            "no story read"
        );
        let newest = reads.stories.iter().map(|story| story.changed_at).max();
        assert_eq!(
            Some(cursor.mark()),
            newest,
            "the mark moved to the newest change"
        );
        let again = cursor
            .pass_from(&reads)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(again.is_empty(), "a passed change is not passed twice");
        // Then 300 more changes: the next batch hands out those and nothing passed.
        let expected: Vec<String> = later.iter().map(|story| story.id.clone()).collect();
        reads.stories.extend(later);
        let batch = cursor
            .next_from(&reads, usize::MAX)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let ids: Vec<String> = batch.stories.iter().map(|story| story.id.clone()).collect();
        assert_eq!(ids, expected);
    }

    #[tokio::test]
    async fn a_read_failing_during_a_pass_keeps_the_pages_passed() {
        // Three pages; the second page's stamp read fails once.
        let reads = Reads::new(2 * PAGE + 10, Some(1));
        let mut cursor = ChangeCursor::new(DateTime::<Utc>::MIN_UTC);
        let first = cursor
            .pass_from(&reads)
            .await
            .unwrap_or_else(|error| panic!("the first page was lost: {error}"));
        assert_eq!(first.len(), PAGE);
        let rest = cursor
            .pass_from(&reads)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(first.len() + rest.len(), 2 * PAGE + 10, "every change once");
        // A failure before any page is the error, and the pass happens at the next call.
        let reads = Reads::new(10, Some(0));
        let mut cursor = ChangeCursor::new(DateTime::<Utc>::MIN_UTC);
        assert!(cursor.pass_from(&reads).await.is_err());
        let again = cursor
            .pass_from(&reads)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(again.len(), 10);
    }
}
