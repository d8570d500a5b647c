//! What Verbatim's benchmarks share: generated text and wire feeds, peak-memory readings of
//! processes, the Python peers' virtualenv, and a small SVG chart.

pub mod corpus;
pub mod memory;
pub mod plot;
pub mod python;
pub mod serve;
pub mod suite;
pub mod wire;
