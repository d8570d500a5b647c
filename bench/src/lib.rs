//! What Verbatim's benchmarks share: generated text and the Python peers' virtualenv.

pub mod corpus;
pub mod python;
