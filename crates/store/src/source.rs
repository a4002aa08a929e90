//! The SQLite store as a `Source`: the seam's methods delegate to `Reader`'s queries.

use ccscope_query::{
    Breakdown, Dimension, EventQuery, EventRow, Filter, GroupUsage, LatencySeries, PointRow,
    Report, SessionSummary, Source, SourceError, TimeSeries,
};
use ccscope_telemetry::MetricKind;

use crate::Reader;

impl Source for Reader {
    fn describe(&self) -> String {
        self.path().display().to_string()
    }

    fn report(&self, filter: &Filter) -> Result<Report, SourceError> {
        Ok(Reader::report(self, filter)?)
    }

    fn sessions(&self, filter: &Filter) -> Result<Vec<SessionSummary>, SourceError> {
        Ok(Reader::sessions(self, filter)?)
    }

    fn events(
        &self,
        query: &EventQuery,
        each: &mut dyn FnMut(EventRow) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        Ok(Reader::events(self, query, |row| Ok(each(row)?))?)
    }

    fn spans(&self, filter: &Filter) -> Result<Vec<ccscope_query::SpanRow>, SourceError> {
        Ok(Reader::spans(self, filter)?)
    }

    fn count_events(&self, query: &EventQuery) -> Result<u64, SourceError> {
        Ok(Reader::count_events(self, query)?)
    }

    fn points(
        &self,
        filter: &Filter,
        each: &mut dyn FnMut(PointRow) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        Ok(Reader::points(self, filter, |row| Ok(each(row)?))?)
    }

    fn newest_ns(&self) -> Result<Option<i64>, SourceError> {
        Ok(Reader::newest_ns(self)?)
    }

    fn has_data(&self) -> Result<bool, SourceError> {
        Ok(Reader::has_data(self)?)
    }

    fn metric_series(
        &self,
        metric: MetricKind,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<TimeSeries, SourceError> {
        Ok(Reader::metric_series(self, metric, group, filter)?)
    }

    fn usage_series(
        &self,
        tokens: bool,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<TimeSeries, SourceError> {
        Ok(Reader::usage_series(self, tokens, group, filter)?)
    }

    fn event_series(
        &self,
        names: &[&str],
        group: &Dimension,
        distinct_sessions: bool,
        filter: &Filter,
    ) -> Result<TimeSeries, SourceError> {
        Ok(Reader::event_series(
            self,
            names,
            group,
            distinct_sessions,
            filter,
        )?)
    }

    fn session_series(&self, filter: &Filter) -> Result<TimeSeries, SourceError> {
        Ok(Reader::session_series(self, filter)?)
    }

    fn latency_series(&self, filter: &Filter) -> Result<LatencySeries, SourceError> {
        Ok(Reader::latency_series(self, filter)?)
    }

    fn ttft_histograms(
        &self,
        bucket_ns: i64,
        filter: &Filter,
    ) -> Result<ccscope_query::latency::TtftHistograms, SourceError> {
        Ok(Reader::ttft_histograms(self, bucket_ns, filter)?)
    }

    fn tool_histograms(
        &self,
        filter: &Filter,
    ) -> Result<ccscope_query::latency::ToolHistograms, SourceError> {
        Ok(Reader::tool_histograms(self, filter)?)
    }

    fn prompt_spans(
        &self,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<ccscope_query::latency::PromptSpan>, SourceError> {
        Ok(Reader::prompt_spans(self, filter, limit)?)
    }

    fn tool_breakdown(&self, filter: &Filter) -> Result<Vec<Breakdown>, SourceError> {
        Ok(Reader::tool_breakdown(self, filter)?)
    }

    fn decision_breakdown(
        &self,
        by_language: bool,
        filter: &Filter,
    ) -> Result<Vec<(String, f64, f64)>, SourceError> {
        Ok(Reader::decision_breakdown(self, by_language, filter)?)
    }

    fn active_users(
        &self,
        bucket_ns: i64,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<TimeSeries, SourceError> {
        Ok(Reader::active_users(self, bucket_ns, group, filter)?)
    }

    fn group_activity(
        &self,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<Vec<GroupUsage>, SourceError> {
        Ok(Reader::group_activity(self, group, filter)?)
    }

    fn usage_by(&self, group: &Dimension, filter: &Filter) -> Result<Vec<GroupUsage>, SourceError> {
        // Token types come from each event's four columns: the generic path has them.
        if matches!(group, Dimension::Type) {
            return ccscope_query::usage_by_parts(self, group, filter);
        }
        Ok(Reader::group_usage(self, group, filter)?)
    }
}
