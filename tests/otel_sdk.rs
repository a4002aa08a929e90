//! A real OpenTelemetry SDK (opentelemetry-rust with its OTLP exporter) sends metrics and logs
//! to `ccscope serve` over gRPC and over HTTP/protobuf; ccscope reports what the SDK sent.
//! The SDK exports cumulative sums by default, so this also exercises cumulative -> delta.

mod common;

use std::net::SocketAddr;

use common::*;
use opentelemetry::KeyValue;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{LogExporter, MetricExporter, Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;

#[derive(Clone, Copy)]
enum Transport {
    Grpc,
    HttpProtobuf,
}

fn export_with_sdk(grpc: SocketAddr, http: SocketAddr, transport: Transport, session: &str) {
    let (metric_exporter, log_exporter) = match transport {
        Transport::Grpc => (
            MetricExporter::builder()
                .with_tonic()
                .with_endpoint(format!("http://{grpc}"))
                .build()
                .expect("metric exporter"),
            LogExporter::builder()
                .with_tonic()
                .with_endpoint(format!("http://{grpc}"))
                .build()
                .expect("log exporter"),
        ),
        Transport::HttpProtobuf => (
            MetricExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(format!("http://{http}/v1/metrics"))
                .build()
                .expect("metric exporter"),
            LogExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(format!("http://{http}/v1/logs"))
                .build()
                .expect("log exporter"),
        ),
    };
    let resource = Resource::builder()
        .with_service_name("sdk-test")
        .with_attribute(KeyValue::new("department", "sdk"))
        .build();
    let meters = SdkMeterProvider::builder()
        .with_periodic_exporter(metric_exporter)
        .with_resource(resource.clone())
        .build();
    let meter = meters.meter("com.anthropic.claude_code");
    let cost = meter
        .f64_counter("claude_code.cost.usage")
        .with_unit("USD")
        .build();
    let tokens = meter
        .u64_counter("claude_code.token.usage")
        .with_unit("tokens")
        .build();
    let attrs = |extra: &[KeyValue]| {
        let mut v = vec![
            KeyValue::new("session.id", session.to_owned()),
            KeyValue::new("model", "claude-opus-4-8"),
        ];
        v.extend_from_slice(extra);
        v
    };
    cost.add(0.25, &attrs(&[]));
    tokens.add(100, &attrs(&[KeyValue::new("type", "input")]));
    meters.force_flush().expect("first metric flush");
    // The SDK's default is cumulative: the second export carries 0.75 in total, not 0.5.
    cost.add(0.5, &attrs(&[]));
    tokens.add(50, &attrs(&[KeyValue::new("type", "input")]));
    meters.shutdown().expect("metrics flushed");

    let logs = SdkLoggerProvider::builder()
        .with_batch_exporter(log_exporter)
        .with_resource(resource)
        .build();
    let logger = logs.logger("com.anthropic.claude_code.events");
    for sequence in 0..3 {
        let mut record = logger.create_log_record();
        record.set_body(AnyValue::from("claude_code.tool_result"));
        record.set_timestamp(std::time::SystemTime::now());
        record.add_attribute("session.id", session.to_owned());
        record.add_attribute("event.name", "tool_result");
        record.add_attribute("event.sequence", sequence as i64);
        record.add_attribute("tool_name", "Bash");
        record.add_attribute("success", "true");
        record.add_attribute("duration_ms", "12");
        logger.emit(record);
    }
    logs.shutdown().expect("logs flushed");
}

#[test]
fn the_opentelemetry_sdk_exporter_is_received_over_grpc_and_http() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &[]);
    {
        // The tonic exporter needs a Tokio runtime to connect from; the SDK's reader and batch
        // processor run on threads of their own.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _entered = runtime.enter();
        export_with_sdk(server.grpc, server.http, Transport::Grpc, "sdk-grpc");
    }
    // The HTTP exporter uses reqwest's blocking client, outside any runtime.
    export_with_sdk(
        server.grpc,
        server.http,
        Transport::HttpProtobuf,
        "sdk-http",
    );
    for session in ["sdk-grpc", "sdk-http"] {
        let r = report(dir.path(), &["--session", session]);
        assert_eq!(r["cost_usd"], 0.75, "{session}: {r}");
        assert_eq!(r["tokens"]["input"], 150, "{session}");
        assert_eq!(r["events"]["tool_result"], 3, "{session}");
    }
    let r = report(dir.path(), &["--attr", "department=sdk"]);
    assert_eq!(r["sessions"], 2);
    assert_eq!(r["cost_usd"], 1.5);
    drop(server);
}
