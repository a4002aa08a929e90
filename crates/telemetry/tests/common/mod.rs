//! The recorded Claude Code payloads, for the test files of this crate.

use std::path::{Path, PathBuf};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/claude-code-2.1.197")
}

/// Every payload file whose name ends with `ext`, sorted.
pub fn payloads(ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![fixtures()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixtures dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(ext)
                && !path.to_string_lossy().ends_with(".meta.json")
            {
                out.push(path);
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no {ext} fixtures found");
    out
}
