//! What Verbatim's benchmarks share: generated text and wire feeds, a digest of cluster
//! assignments, peak-memory readings of processes, running the release binary, the Python
//! peers' virtualenv, a small SVG chart, and how many bodies normalize takes in one scan.

pub mod corpus;
pub mod digest;
pub mod memory;
pub mod plot;
pub mod python;
pub mod serve;
pub mod suite;
pub mod wire;

/// How many of these drafts' bodies normalize sanitizes in one scan (plain text always is), of
/// all: the share the parse benchmarks' figures rest on.
pub fn bodies_in_one_scan(drafts: &[verbatim_item::Draft]) -> (usize, usize) {
    let taken = drafts
        .iter()
        .filter(|draft| match &draft.body {
            verbatim_item::SourceBody::Html(html) => {
                verbatim_normalize::sanitize_body_in_one_pass(html, draft.base_url.is_some())
                    .is_some()
            }
            verbatim_item::SourceBody::Text(_) => true,
        })
        .count();
    (taken, drafts.len())
}
