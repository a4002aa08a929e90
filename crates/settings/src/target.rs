//! The files the settings helper may write, named — never given as paths.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::paths::{DROP_IN_DIR_NAME, Layout, MANAGED_FILE_NAME};

/// Longest drop-in file name accepted.
pub const MAX_DROP_IN_NAME_LEN: usize = 96;

/// A writable managed-settings file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Target {
    /// `managed-settings.json` itself.
    Managed,
    /// `managed-settings.d/<name>` (the name ends in `.json`).
    DropIn(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error(
        "target {0:?} is not a settings file name: use \"managed-settings.json\" or a drop-in name such as \"50-telemetry.json\" (letters, digits, '.', '_', '-', ending in .json, at most {MAX_DROP_IN_NAME_LEN} characters)"
    )]
    Invalid(String),
}

impl Target {
    /// Accepts `managed`, `managed-settings.json`, `NAME.json` or `managed-settings.d/NAME.json`.
    pub fn parse(name: &str) -> Result<Target, TargetError> {
        if name == "managed" || name == MANAGED_FILE_NAME {
            return Ok(Target::Managed);
        }
        let file = name
            .strip_prefix(DROP_IN_DIR_NAME)
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(name);
        let valid = file.len() <= MAX_DROP_IN_NAME_LEN
            && file.ends_with(".json")
            && file.len() > ".json".len()
            && file
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && file
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && !file.contains("..");
        if valid {
            Ok(Target::DropIn(file.to_owned()))
        } else {
            Err(TargetError::Invalid(name.to_owned()))
        }
    }

    /// The file name inside its directory.
    pub fn file_name(&self) -> &str {
        match self {
            Target::Managed => MANAGED_FILE_NAME,
            Target::DropIn(name) => name,
        }
    }

    /// The name as people and the CLI write it.
    pub fn name(&self) -> String {
        match self {
            Target::Managed => MANAGED_FILE_NAME.to_owned(),
            Target::DropIn(name) => format!("{DROP_IN_DIR_NAME}/{name}"),
        }
    }

    /// The directory the file lives in.
    pub fn dir(&self, layout: &Layout) -> PathBuf {
        match self {
            Target::Managed => layout.managed_dir.clone(),
            Target::DropIn(_) => layout.drop_in_dir(),
        }
    }

    pub fn path(&self, layout: &Layout) -> PathBuf {
        self.dir(layout).join(self.file_name())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl TryFrom<String> for Target {
    type Error = TargetError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Target::parse(&value)
    }
}

impl From<Target> for String {
    fn from(value: Target) -> Self {
        value.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_files_and_never_to_paths() {
        assert_eq!(Target::parse("managed").unwrap(), Target::Managed);
        assert_eq!(
            Target::parse("managed-settings.json").unwrap(),
            Target::Managed
        );
        assert_eq!(
            Target::parse("50-telemetry.json").unwrap(),
            Target::DropIn("50-telemetry.json".into())
        );
        assert_eq!(
            Target::parse("managed-settings.d/50-telemetry.json").unwrap(),
            Target::DropIn("50-telemetry.json".into())
        );
        for bad in [
            "",
            ".json",
            "../passwd.json",
            "/etc/passwd",
            "a/b.json",
            ".hidden.json",
            "x.txt",
            "x y.json",
            "x..json",
            "managed-settings.d/../x.json",
            "é.json",
            &format!("{}.json", "a".repeat(MAX_DROP_IN_NAME_LEN)),
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn targets_resolve_inside_the_managed_directory() {
        let layout = Layout::under_root(crate::paths::Platform::Linux, std::path::Path::new("/r"));
        assert_eq!(
            Target::Managed.path(&layout),
            std::path::Path::new("/r/etc/claude-code/managed-settings.json")
        );
        assert_eq!(
            Target::DropIn("10-a.json".into()).path(&layout),
            std::path::Path::new("/r/etc/claude-code/managed-settings.d/10-a.json")
        );
    }
}
