//! Cumulative sums -> deltas, one series at a time. Pure: the caller keeps each series' last
//! state (the store persists it, so restarts do not double count).
//!
//! Rules: the first point of a series counts in full; a point with a new start time, or a
//! value below the previous one, starts a new run (a counter reset) and counts in full; a
//! point no newer than the last one seen of its run is stale and counts nothing.

use serde::Serialize;

/// What ccscope remembers of a cumulative series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CumulativeState {
    pub start_ns: i64,
    pub time_ns: i64,
    pub value: f64,
}

/// The outcome for one cumulative point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CumulativeStep {
    /// Store `delta`; `reset` says a new run began.
    Delta {
        delta: f64,
        reset: bool,
        state: CumulativeState,
    },
    /// Older than (or the same as) what was already counted: store nothing.
    Stale,
}

pub fn cumulative_step(
    previous: Option<CumulativeState>,
    start_ns: i64,
    time_ns: i64,
    value: f64,
) -> CumulativeStep {
    let state = CumulativeState {
        start_ns,
        time_ns,
        value,
    };
    let Some(prev) = previous else {
        return CumulativeStep::Delta {
            delta: value,
            reset: false,
            state,
        };
    };
    if start_ns != prev.start_ns {
        if start_ns < prev.start_ns && start_ns != 0 {
            // A late point of an earlier run: that run's total was already counted.
            return CumulativeStep::Stale;
        }
        return CumulativeStep::Delta {
            delta: value,
            reset: true,
            state,
        };
    }
    if time_ns <= prev.time_ns {
        return CumulativeStep::Stale;
    }
    if value < prev.value {
        return CumulativeStep::Delta {
            delta: value,
            reset: true,
            state,
        };
    }
    CumulativeStep::Delta {
        delta: value - prev.value,
        reset: false,
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(points: &[(i64, i64, f64)]) -> Vec<Option<f64>> {
        let mut state = None;
        points
            .iter()
            .map(
                |&(start, time, value)| match cumulative_step(state, start, time, value) {
                    CumulativeStep::Delta {
                        delta, state: s, ..
                    } => {
                        state = Some(s);
                        Some(delta)
                    }
                    CumulativeStep::Stale => None,
                },
            )
            .collect()
    }

    #[test]
    fn increases_become_deltas() {
        assert_eq!(
            run(&[(1, 10, 2.0), (1, 20, 5.0), (1, 30, 5.0)]),
            [Some(2.0), Some(3.0), Some(0.0)]
        );
    }

    #[test]
    fn a_decrease_is_a_reset() {
        assert_eq!(
            run(&[(1, 10, 7.0), (1, 20, 3.0), (1, 30, 4.0)]),
            [Some(7.0), Some(3.0), Some(1.0)]
        );
    }

    #[test]
    fn a_new_start_time_is_a_new_run() {
        assert_eq!(
            run(&[(1, 10, 7.0), (15, 20, 9.0), (15, 30, 10.0)]),
            [Some(7.0), Some(9.0), Some(1.0)]
        );
    }

    #[test]
    fn resent_and_late_points_count_nothing() {
        assert_eq!(
            run(&[
                (1, 10, 7.0),
                (1, 10, 7.0),
                (1, 5, 3.0),
                (15, 20, 2.0),
                (1, 30, 9.0)
            ]),
            [Some(7.0), None, None, Some(2.0), None]
        );
    }
}
