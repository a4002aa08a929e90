//! Any bytes as an OTLP/JSON export of any signal: decode and normalise must never panic.
#![no_main]

use ccscope_telemetry::{Encoding, Signal, decode_request, normalize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for signal in [Signal::Logs, Signal::Metrics, Signal::Traces] {
        if let Ok(request) = decode_request(signal, Encoding::Json, data) {
            let _ = normalize(request, 1);
        }
    }
});
