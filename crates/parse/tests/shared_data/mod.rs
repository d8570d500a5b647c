//! Finding the IPTC conformance data beside the clone (`../shared/conformance`), for the
//! conformance test files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `../shared/conformance/<sub>`, or `None` (with the reason printed) when it is not there.
/// Under `VERBATIM_REQUIRE_ALL=1` (CI) a missing folder fails the test instead.
pub fn conformance(sub: &str) -> Option<PathBuf> {
    shared(&format!("conformance/{sub}"))
}

/// `../shared/<sub>` beside the clone, on the same terms as [`conformance`].
pub fn shared(sub: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(sub);
    if root.is_dir() {
        return Some(root);
    }
    let reason = format!("skipped: {} is not there", root.display());
    assert!(
        std::env::var("VERBATIM_REQUIRE_ALL").is_err(),
        "VERBATIM_REQUIRE_ALL is set but the shared test data is missing: {reason}"
    );
    eprintln!("{reason}");
    None
}

/// Every file under `dir` whose extension is `extension`, sorted.
pub fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|found| found == extension) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Parses one conformance file; errors name it by its file name.
pub fn parse_file(path: &Path) -> Result<verbatim_parse::Parsed, verbatim_parse::ParseError> {
    let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let origin = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    verbatim_parse::parse(
        verbatim_parse::Input {
            bytes: &bytes,
            content_type: None,
            origin: &origin,
        },
        &verbatim_parse::Limits::default(),
    )
}
