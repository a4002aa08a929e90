//! Any bytes as an OTLP protobuf export of any signal: the wire count, decode and normalise must
//! never panic; the wire count agrees with the decoded request on the number of records; and
//! every log record and span decoded must come out as a record or as a counted rejection.
#![no_main]

use ccscope_telemetry::{
    Encoding, ExportRequest, Signal, count_protobuf, decode_request, normalize,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for signal in [Signal::Logs, Signal::Metrics, Signal::Traces] {
        let counted = count_protobuf(signal, data);
        if let Ok(request) = decode_request(signal, Encoding::Protobuf, data) {
            if let Ok(counts) = counted {
                assert_eq!(counts.records, request.record_count());
            }
            let sent = match &request {
                ExportRequest::Logs(r) => Some(
                    r.resource_logs
                        .iter()
                        .flat_map(|r| &r.scope_logs)
                        .map(|s| s.log_records.len())
                        .sum::<usize>(),
                ),
                ExportRequest::Traces(r) => Some(
                    r.resource_spans
                        .iter()
                        .flat_map(|r| &r.scope_spans)
                        .map(|s| s.spans.len())
                        .sum::<usize>(),
                ),
                // A metric without data is one rejection for no points: no exact count.
                ExportRequest::Metrics(_) => None,
            };
            let batch = normalize(request, 1);
            if let Some(sent) = sent {
                assert_eq!(batch.len() + batch.rejected.count as usize, sent);
            }
        }
    }
});
