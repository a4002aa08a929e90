//! Any bytes as a gzip body: inflation must stop at the cap and never panic.
#![no_main]

use ccscope_telemetry::gunzip_capped;
use libfuzzer_sys::fuzz_target;

const CAP: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = gunzip_capped(data, CAP) {
        assert!(body.len() <= CAP);
    }
});
