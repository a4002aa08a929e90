//! Spending budgets: a daily and a monthly limit in US dollars, set in the UI and kept beside
//! the database (`budgets.json`). The desktop app notifies when one is crossed; the dashboard
//! shows how much of each is spent. Days and months are local time.

use std::path::{Path, PathBuf};

use ccscope_query::{Filter, Source, SourceError};
use chrono::{DateTime, Datelike, Local, NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};

pub const BUDGETS_FILE: &str = "budgets.json";

/// The limits, both optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Budgets {
    pub daily_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("{0} must be a positive number of dollars (or empty for none)")]
    Invalid(&'static str),
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl Budgets {
    pub fn validate(&self) -> Result<(), BudgetError> {
        for (value, name) in [
            (self.daily_usd, "the daily budget"),
            (self.monthly_usd, "the monthly budget"),
        ] {
            if value.is_some_and(|v| !v.is_finite() || v <= 0.0) {
                return Err(BudgetError::Invalid(name));
            }
        }
        Ok(())
    }
}

/// The budgets file beside `database`.
pub fn budgets_path(database: &Path) -> PathBuf {
    database.with_file_name(BUDGETS_FILE)
}

/// Reads the budgets (none set when the file does not exist).
pub fn load(database: &Path) -> Result<Budgets, BudgetError> {
    let path = budgets_path(database);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|source| BudgetError::Parse { path, source })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Budgets::default()),
        Err(source) => Err(BudgetError::Io { path, source }),
    }
}

/// Validates and stores the budgets (temp file + rename).
pub fn save(database: &Path, budgets: &Budgets) -> Result<(), BudgetError> {
    budgets.validate()?;
    let path = budgets_path(database);
    let temp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(budgets).unwrap_or_default();
    std::fs::write(&temp, bytes)
        .and_then(|()| std::fs::rename(&temp, &path))
        .map_err(|source| BudgetError::Io { path, source })
}

/// One budget's state.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Usage {
    pub spent_usd: f64,
    pub limit_usd: Option<f64>,
    pub crossed: bool,
}

/// Spending today and this month against the budgets.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Status {
    /// The local day (`2026-11-24`) and month (`2026-11`) these figures are for.
    #[cfg_attr(test, ts(type = "string"))]
    pub day: NaiveDate,
    pub today: Usage,
    pub month: Usage,
}

fn local_midnight(day: NaiveDate) -> DateTime<Local> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    // A midnight skipped by a DST change falls back to the earliest valid instant.
    Local
        .from_local_datetime(&naive)
        .earliest()
        .unwrap_or_else(|| Local.from_utc_datetime(&naive))
}

fn cost_between(
    reader: &dyn Source,
    from: DateTime<Local>,
    to: DateTime<Local>,
) -> Result<f64, SourceError> {
    let filter = Filter {
        from_ns: from.timestamp_nanos_opt().unwrap_or(0),
        to_ns: to.timestamp_nanos_opt().unwrap_or(i64::MAX),
        ..Filter::default()
    };
    Ok(reader.report(&filter)?.cost_usd)
}

/// Today's and this month's spend at `now`, against `budgets`.
pub fn status(
    reader: &dyn Source,
    budgets: &Budgets,
    now: DateTime<Local>,
) -> Result<Status, SourceError> {
    let day = now.date_naive();
    let month_start = NaiveDate::from_ymd_opt(day.year(), day.month(), 1).unwrap_or(day);
    let end = now + chrono::Duration::seconds(1);
    let today = cost_between(reader, local_midnight(day), end)?;
    let month = cost_between(reader, local_midnight(month_start), end)?;
    let usage = |spent: f64, limit: Option<f64>| Usage {
        spent_usd: spent,
        limit_usd: limit,
        crossed: limit.is_some_and(|l| spent >= l),
    };
    Ok(Status {
        day,
        today: usage(today, budgets.daily_usd),
        month: usage(month, budgets.monthly_usd),
    })
}

/// Remembers which crossings were announced, so each is announced once per day or month.
#[derive(Debug, Default)]
pub struct Announcer {
    daily: Option<NaiveDate>,
    monthly: Option<(i32, u32)>,
}

/// A crossing to announce.
#[derive(Debug, Clone, PartialEq)]
pub struct Crossing {
    pub title: String,
    pub body: String,
}

impl Announcer {
    /// The crossings in `status` not announced yet.
    pub fn check(&mut self, status: &Status) -> Vec<Crossing> {
        let mut out = Vec::new();
        if status.today.crossed && self.daily != Some(status.day) {
            self.daily = Some(status.day);
            out.push(Crossing {
                title: "Daily Claude Code budget reached".into(),
                body: format!(
                    "${:.2} spent today (budget ${:.2}).",
                    status.today.spent_usd,
                    status.today.limit_usd.unwrap_or_default()
                ),
            });
        }
        let month = (status.day.year(), status.day.month());
        if status.month.crossed && self.monthly != Some(month) {
            self.monthly = Some(month);
            out.push(Crossing {
                title: "Monthly Claude Code budget reached".into(),
                body: format!(
                    "${:.2} spent this month (budget ${:.2}).",
                    status.month.spent_usd,
                    status.month.limit_usd.unwrap_or_default()
                ),
            });
        }
        out
    }
}

/// What the tray shows.
#[derive(Debug, Clone, PartialEq)]
pub struct TrayLabel {
    /// Beside the icon (where the platform shows text): today's spend.
    pub title: String,
    pub tooltip: String,
    /// The tray menu's first (informational) line.
    pub menu: String,
}

fn dollars(usd: f64) -> String {
    format!("${usd:.2}")
}

/// The tray's texts for `status`.
pub fn tray_label(status: &Status) -> TrayLabel {
    let today = dollars(status.today.spent_usd);
    let menu = match status.today.limit_usd {
        Some(limit) if status.today.crossed => {
            format!("Today: {today} — over the {} budget", dollars(limit))
        }
        Some(limit) => format!("Today: {today} of {}", dollars(limit)),
        None => format!("Today: {today}"),
    };
    TrayLabel {
        title: today.clone(),
        tooltip: format!(
            "ccscope — today {today}, this month {}",
            dollars(status.month.spent_usd)
        ),
        menu,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(day: (i32, u32, u32), today: f64, month: f64, budgets: Budgets) -> Status {
        let day = NaiveDate::from_ymd_opt(day.0, day.1, day.2).unwrap();
        let usage = |spent: f64, limit: Option<f64>| Usage {
            spent_usd: spent,
            limit_usd: limit,
            crossed: limit.is_some_and(|l| spent >= l),
        };
        Status {
            day,
            today: usage(today, budgets.daily_usd),
            month: usage(month, budgets.monthly_usd),
        }
    }

    #[test]
    fn each_crossing_is_announced_once_per_period() {
        let budgets = Budgets {
            daily_usd: Some(5.0),
            monthly_usd: Some(50.0),
        };
        let mut a = Announcer::default();
        assert!(
            a.check(&status((2026, 11, 24), 4.99, 10.0, budgets))
                .is_empty()
        );
        let first = a.check(&status((2026, 11, 24), 5.0, 10.0, budgets));
        assert_eq!(first.len(), 1);
        assert!(
            first[0].body.contains("$5.00 spent today (budget $5.00)"),
            "{first:?}"
        );
        assert!(
            a.check(&status((2026, 11, 24), 7.0, 10.0, budgets))
                .is_empty()
        );
        let next_day = a.check(&status((2026, 11, 25), 6.0, 51.0, budgets));
        assert_eq!(next_day.len(), 2, "a new day, and the month crossed");
        assert!(
            a.check(&status((2026, 11, 26), 1.0, 60.0, budgets))
                .is_empty()
        );
        assert_eq!(
            a.check(&status((2026, 12, 1), 1.0, 60.0, budgets)).len(),
            1,
            "a new month"
        );
    }

    #[test]
    fn the_tray_shows_todays_spend_and_the_budget() {
        let none = Budgets::default();
        let label = tray_label(&status((2026, 11, 24), 1.234, 20.0, none));
        assert_eq!(label.title, "$1.23");
        assert_eq!(label.menu, "Today: $1.23");
        assert_eq!(label.tooltip, "ccscope — today $1.23, this month $20.00");
        let budgets = Budgets {
            daily_usd: Some(5.0),
            monthly_usd: None,
        };
        assert_eq!(
            tray_label(&status((2026, 11, 24), 1.0, 1.0, budgets)).menu,
            "Today: $1.00 of $5.00"
        );
        assert_eq!(
            tray_label(&status((2026, 11, 24), 6.0, 6.0, budgets)).menu,
            "Today: $6.00 — over the $5.00 budget"
        );
    }

    #[test]
    fn budgets_must_be_positive_and_round_trip() {
        assert!(
            Budgets {
                daily_usd: Some(0.0),
                monthly_usd: None
            }
            .validate()
            .is_err()
        );
        assert!(
            Budgets {
                daily_usd: None,
                monthly_usd: Some(f64::NAN)
            }
            .validate()
            .is_err()
        );
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ccscope.db");
        assert_eq!(load(&db).unwrap(), Budgets::default());
        let b = Budgets {
            daily_usd: Some(2.5),
            monthly_usd: Some(40.0),
        };
        save(&db, &b).unwrap();
        assert_eq!(load(&db).unwrap(), b);
        assert!(
            save(
                &db,
                &Budgets {
                    daily_usd: Some(-1.0),
                    monthly_usd: None
                }
            )
            .is_err()
        );
        assert_eq!(
            load(&db).unwrap(),
            b,
            "a refused save leaves the old budgets"
        );
    }
}
