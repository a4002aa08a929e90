//! The fuzz targets' properties (`fuzz/fuzz_targets`), replayed as a test on a fixed corpus:
//! every recorded payload, hostile shapes (many empty records or attributes, deep nesting), and
//! seeded mutations of each (bit flips, byte changes, cuts, repeats, splices). Decoding and
//! normalising never panic; protobuf's record count before decoding equals what decodes; every
//! log record and span is a row or a rejection; gzip never inflates past its cap. Deterministic
//! (the same cases every run); `scripts/fuzz.sh` runs libFuzzer for new cases.

mod common;

use ccscope_telemetry::{
    Encoding, ExportRequest, Signal, count_protobuf, decode_request, gunzip_capped, normalize,
};
use common::payloads;

/// Mutations per corpus entry.
const MUTATIONS: usize = 120;
const GZIP_CAP: usize = 1 << 20;

/// xorshift64*: a fixed sequence for a fixed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// One mutation of `data` (`other` is another corpus entry, for splices).
fn mutate(data: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = data.to_vec();
    if out.is_empty() {
        return vec![rng.next() as u8];
    }
    let at = rng.below(out.len());
    match rng.below(7) {
        0 => out[at] ^= 1 << rng.below(8),
        1 => out[at] = [0x00, 0xff, 0x7f, 0x80, b'"', b'{', b'9'][rng.below(7)],
        2 => out.truncate(at),
        3 => {
            let end = (at + 1 + rng.below(64)).min(out.len());
            let piece = out[at..end].to_vec();
            for _ in 0..1 + rng.below(8) {
                out.splice(at..at, piece.iter().copied());
            }
        }
        4 => {
            let end = (at + 1 + rng.below(64)).min(out.len());
            out.drain(at..end);
        }
        5 => {
            let from = rng.below(other.len().max(1));
            let end = (from + rng.below(256)).min(other.len());
            out.splice(at..at, other[from.min(end)..end].iter().copied());
        }
        _ => {
            let varint = [0xff, 0xff, 0xff, 0xff, 0x0f];
            out.splice(at..at, varint);
        }
    }
    out
}

fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn field(number: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = varint(number << 3 | 2);
    out.extend(varint(payload.len() as u64));
    out.extend_from_slice(payload);
    out
}

/// The shapes `scripts/fuzz.sh` seeds libFuzzer with: 5,000 empty log records, 3,000 empty
/// attributes, 120 levels of nested arrays.
fn hostile_protobuf() -> Vec<Vec<u8>> {
    let logs = |records: Vec<u8>| field(1, &field(2, &records));
    let empty = logs(field(2, b"").repeat(5000));
    let attrs = logs(field(2, &field(6, b"").repeat(3000)));
    let mut deep = Vec::new();
    for _ in 0..120 {
        deep = field(5, &field(1, &deep));
    }
    vec![empty, attrs, logs(field(2, &field(5, &deep)))]
}

fn sent(request: &ExportRequest) -> Option<usize> {
    match request {
        ExportRequest::Logs(r) => Some(
            r.resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum(),
        ),
        ExportRequest::Traces(r) => Some(
            r.resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum(),
        ),
        // A metric without data is one rejection for no points: no exact count.
        ExportRequest::Metrics(_) => None,
    }
}

/// Every case: the entry itself, then its mutations.
fn cases(corpus: &[Vec<u8>], seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for (i, entry) in corpus.iter().enumerate() {
        out.push(entry.clone());
        let other = &corpus[(i + 1) % corpus.len()];
        let mut current = entry.clone();
        for _ in 0..MUTATIONS {
            // Mostly fresh mutations of the entry, sometimes a mutation of the last mutant.
            let base = if rng.below(3) == 0 { &current } else { entry };
            current = mutate(base, other, &mut rng);
            out.push(current.clone());
        }
    }
    out
}

/// Every recorded payload ending in `ext`: Claude Code 2.1.197's, and 2.1.337's (with spans).
fn read_all(ext: &str) -> Vec<Vec<u8>> {
    let mut paths = payloads(ext);
    let newer = common::fixtures().join("../claude-code-2.1.337/http-json/tools-traces");
    if ext == ".json" {
        let mut more: Vec<_> = std::fs::read_dir(&newer)
            .expect("2.1.337 fixtures")
            .map(|e| e.expect("entry").path())
            .filter(|p| !p.to_string_lossy().ends_with(".meta.json"))
            .collect();
        more.sort();
        paths.extend(more);
    }
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect()
}

#[test]
fn protobuf_decoding_survives_the_corpus_and_counts_what_it_decodes() {
    let mut corpus = read_all(".pb");
    corpus.extend(hostile_protobuf());
    let cases = cases(&corpus, 0x5eed_0001);
    assert!(cases.len() > 1000, "{} cases", cases.len());
    for data in &cases {
        for signal in [Signal::Logs, Signal::Metrics, Signal::Traces] {
            let counted = count_protobuf(signal, data);
            if let Ok(request) = decode_request(signal, Encoding::Protobuf, data) {
                if let Ok(counts) = counted {
                    assert_eq!(counts.records, request.record_count());
                }
                let expected = sent(&request);
                let batch = normalize(request, 1);
                if let Some(sent) = expected {
                    assert_eq!(batch.len() + batch.rejected.count as usize, sent);
                }
            }
        }
    }
}

#[test]
fn json_decoding_survives_the_corpus() {
    let corpus = read_all(".json");
    let cases = cases(&corpus, 0x5eed_0002);
    assert!(cases.len() > 1000, "{} cases", cases.len());
    let mut decoded = 0;
    for data in &cases {
        for signal in [Signal::Logs, Signal::Metrics, Signal::Traces] {
            if let Ok(request) = decode_request(signal, Encoding::Json, data) {
                decoded += 1;
                let expected = sent(&request);
                let batch = normalize(request, 1);
                if let Some(sent) = expected {
                    assert_eq!(batch.len() + batch.rejected.count as usize, sent);
                }
            }
        }
    }
    // The mutations are near misses, not noise: some still decode (about one in eight).
    assert!(
        decoded > cases.len() / 20,
        "{decoded} of {} decoded",
        cases.len()
    );
}

#[test]
fn gzip_never_inflates_past_its_cap() {
    let mut corpus = read_all(".body.gz");
    // A bomb: 64 MiB of zeros compress to a few KiB.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut bomb, &vec![0u8; 64 << 20]).expect("compress");
    corpus.push(bomb.finish().expect("finish"));
    for data in cases(&corpus, 0x5eed_0003) {
        if let Ok(body) = gunzip_capped(&data, GZIP_CAP) {
            assert!(body.len() <= GZIP_CAP);
        }
    }
    assert!(
        gunzip_capped(&corpus[corpus.len() - 1], GZIP_CAP).is_err(),
        "the bomb is refused"
    );
}
