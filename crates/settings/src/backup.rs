//! Backups of replaced managed files: `<managed dir>/.ccscope-backups/<file>.<UTC time>`.
//! The helper writes and rotates them; anyone can list them.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use crate::paths::Layout;
use crate::target::Target;

/// How many backups the helper keeps per target.
pub const KEEP_BACKUPS: usize = 10;

const STAMP_FORMAT: &str = "%Y%m%dT%H%M%S%9fZ";

/// A stored backup.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BackupInfo {
    /// The backup's name, which `restore` takes.
    pub id: String,
    /// The target it was taken from.
    pub target: String,
    /// When it was replaced (RFC 3339).
    pub time: String,
    pub bytes: u64,
}

/// What a drop-in's backup id starts with, so that a drop-in that happens to be named
/// `managed-settings.json` is never taken for the main file (`@` is not in any file name a
/// target may have).
const DROP_IN_PREFIX: &str = "managed-settings.d@";

/// The id (file name) of a backup of `target` taken at `at`: `managed-settings.json.STAMP`
/// for the main file, `managed-settings.d@NAME.STAMP` for a drop-in.
pub fn backup_id(target: &Target, at: DateTime<Utc>) -> String {
    let stamp = at.format(STAMP_FORMAT);
    match target {
        Target::Managed => format!("{}.{stamp}", target.file_name()),
        Target::DropIn(name) => format!("{DROP_IN_PREFIX}{name}.{stamp}"),
    }
}

/// Splits a backup id into its target and time; `None` for anything that is not one. Ids from
/// before drop-ins had their prefix (`NAME.STAMP`) still name their drop-in.
pub fn parse_backup_id(id: &str) -> Option<(Target, DateTime<Utc>)> {
    if id.contains('/') || id.contains('\\') || id.starts_with('.') {
        return None;
    }
    let (file, stamp) = id.rsplit_once('.')?;
    let time = NaiveDateTime::parse_from_str(stamp, STAMP_FORMAT)
        .ok()?
        .and_utc();
    let target = match file.strip_prefix(DROP_IN_PREFIX) {
        Some(name) => match Target::parse(name).ok()? {
            Target::Managed => Target::DropIn(name.to_owned()),
            drop_in => drop_in,
        },
        None => Target::parse(file).ok()?,
    };
    Some((target, time))
}

/// Backups for `target` (or all), newest first.
pub fn list_backups(layout: &Layout, target: Option<&Target>) -> Vec<BackupInfo> {
    let mut out: Vec<(DateTime<Utc>, BackupInfo)> = std::fs::read_dir(layout.backup_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let id = entry.file_name().into_string().ok()?;
            let (t, time) = parse_backup_id(&id)?;
            if target.is_some_and(|want| *want != t) {
                return None;
            }
            let meta = entry.metadata().ok().filter(|m| m.is_file())?;
            Some((
                time,
                BackupInfo {
                    id,
                    target: t.name(),
                    time: time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    bytes: meta.len(),
                },
            ))
        })
        .collect();
    out.sort_by_key(|b| std::cmp::Reverse(b.0));
    out.into_iter().map(|(_, b)| b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_round_trip_and_reject_paths() {
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 12).unwrap();
        let id = backup_id(&Target::DropIn("50-otel.json".into()), at);
        assert_eq!(
            id,
            "managed-settings.d@50-otel.json.20261124T093012000000000Z"
        );
        assert_eq!(
            parse_backup_id(&id),
            Some((Target::DropIn("50-otel.json".into()), at))
        );
        // Ids written before the prefix still name their drop-in.
        assert_eq!(
            parse_backup_id("50-otel.json.20261124T093012000000000Z"),
            Some((Target::DropIn("50-otel.json".into()), at))
        );
        let managed = backup_id(&Target::Managed, at);
        assert_eq!(parse_backup_id(&managed).unwrap().0, Target::Managed);
        // A drop-in named like the main file keeps its own backups.
        let twin = Target::parse("managed-settings.d/managed-settings.json").unwrap();
        assert_eq!(twin, Target::DropIn("managed-settings.json".into()));
        let twin_id = backup_id(&twin, at);
        assert_ne!(twin_id, managed);
        assert_eq!(parse_backup_id(&twin_id).unwrap().0, twin);
        assert_eq!(parse_backup_id(&managed).unwrap().0, Target::Managed);
        for bad in [
            "../x.json.20261124T093012000000000Z",
            "x.json",
            "x.json.yesterday",
            ".x.json.20261124T093012000000000Z",
        ] {
            assert!(parse_backup_id(bad).is_none(), "{bad}");
        }
    }
}
