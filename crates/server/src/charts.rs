//! Query results as the chart library draws them, shared by the dashboard's chart routes and
//! the usage report.

use ccscope_charts::{TimeChart, Unit};
use ccscope_query::TimeSeries;

/// A store time series as a chart: one value per bucket and group.
pub(crate) fn time_chart_from(
    series: &TimeSeries,
    title: &str,
    unit: Unit,
    stacked: bool,
) -> TimeChart {
    let buckets = series.buckets();
    // Bars show an empty bucket as zero; lines leave a gap (NaN).
    let missing = if stacked { 0.0 } else { f64::NAN };
    let groups = series
        .groups
        .iter()
        .map(|(name, values)| {
            (
                name.clone(),
                buckets
                    .iter()
                    .map(|b| values.get(b).copied().unwrap_or(missing))
                    .collect(),
            )
        })
        .collect();
    TimeChart {
        title: title.to_owned(),
        unit,
        buckets,
        bucket_ns: series.bucket_ns,
        groups,
        stacked,
    }
}
