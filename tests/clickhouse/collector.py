#!/usr/bin/env python3
"""Writes OTLP/JSON exports into ClickHouse the way the OpenTelemetry Collector's
`clickhouseexporter` does: its tables (two schema generations), one row per log record or sum
data point, attribute values rendered as strings as the exporter renders them, cumulative points
stored as sent, and a re-sent export stored twice. It talks to ClickHouse over the HTTP
interface (INSERT … FORMAT JSONEachRow), like any client.

  collector.py --url http://127.0.0.1:PORT --database otel --schema 2025|2026 --create
  collector.py --url … --database otel --schema … EXPORT.json [EXPORT.json …]
The password, if any, comes from CH_PASSWORD.
"""
import argparse
import json
import math
import os
import sys
import urllib.request

# The 2025 generation: TimestampTime, no EventName, metric times as DateTime64(9).
# The 2026 generation: EventName, no TimestampTime, metric times as DateTime (whole seconds).
LOGS_DDL = {
    "2025": """CREATE TABLE IF NOT EXISTS {db}.otel_logs (
        Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
        TimestampTime DateTime DEFAULT toDateTime(Timestamp),
        TraceId String, SpanId String, TraceFlags UInt8,
        SeverityText LowCardinality(String), SeverityNumber UInt8,
        ServiceName LowCardinality(String), Body String,
        ResourceSchemaUrl LowCardinality(String),
        ResourceAttributes Map(LowCardinality(String), String),
        ScopeSchemaUrl LowCardinality(String), ScopeName String, ScopeVersion LowCardinality(String),
        ScopeAttributes Map(LowCardinality(String), String),
        LogAttributes Map(LowCardinality(String), String)
    ) ENGINE = MergeTree PARTITION BY toDate(TimestampTime)
      ORDER BY (ServiceName, TimestampTime, Timestamp)""",
    "2026": """CREATE TABLE IF NOT EXISTS {db}.otel_logs (
        Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
        TraceId String, SpanId String, TraceFlags UInt8,
        SeverityText LowCardinality(String), SeverityNumber UInt8,
        ServiceName LowCardinality(String), Body String,
        ResourceSchemaUrl LowCardinality(String),
        ResourceAttributes Map(LowCardinality(String), String),
        ScopeSchemaUrl LowCardinality(String), ScopeName String, ScopeVersion LowCardinality(String),
        ScopeAttributes Map(LowCardinality(String), String),
        LogAttributes Map(LowCardinality(String), String),
        EventName String
    ) ENGINE = MergeTree PARTITION BY toDate(Timestamp)
      ORDER BY (ServiceName, Timestamp)""",
}
SUMS_DDL = """CREATE TABLE IF NOT EXISTS {db}.otel_metrics_sum (
        ResourceAttributes Map(LowCardinality(String), String), ResourceSchemaUrl String,
        ScopeName String, ScopeVersion String, ScopeAttributes Map(LowCardinality(String), String),
        ScopeDroppedAttrCount UInt32, ScopeSchemaUrl String, ServiceName LowCardinality(String),
        MetricName {name_type}, MetricDescription String, MetricUnit String,
        Attributes Map(LowCardinality(String), String),
        StartTimeUnix {time_type}, TimeUnix {time_type},
        Value Float64, Flags UInt32,
        AggregationTemporality Int32, IsMonotonic Boolean
    ) ENGINE = MergeTree PARTITION BY toDate(TimeUnix)
      ORDER BY (ServiceName, MetricName, {order_attrs}, toUnixTimestamp64Nano(toDateTime64(TimeUnix, 9)))"""
SUMS_TYPES = {
    "2025": dict(name_type="String", time_type="DateTime64(9) CODEC(Delta, ZSTD(1))", order_attrs="Attributes"),
    "2026": dict(name_type="LowCardinality(String)", time_type="DateTime CODEC(Delta, ZSTD(1))",
                 order_attrs="cityHash64(Attributes)"),
}

# The exporter's traces table (Map attributes; the same in both generations).
TRACES_DDL = """CREATE TABLE IF NOT EXISTS {db}.otel_traces (
        Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
        TraceId String, SpanId String, ParentSpanId String, TraceState String,
        SpanName LowCardinality(String), SpanKind LowCardinality(String),
        ServiceName LowCardinality(String),
        ResourceAttributes Map(LowCardinality(String), String),
        ScopeName String, ScopeVersion String,
        SpanAttributes Map(LowCardinality(String), String),
        Duration UInt64, StatusCode LowCardinality(String), StatusMessage String,
        Events Nested (Timestamp DateTime64(9), Name LowCardinality(String),
                       Attributes Map(LowCardinality(String), String)),
        Links Nested (TraceId String, SpanId String, TraceState String,
                      Attributes Map(LowCardinality(String), String))
    ) ENGINE = MergeTree PARTITION BY toDate(Timestamp)
      ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))"""
SPAN_KINDS = ["Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"]
STATUS_CODES = ["Unset", "Ok", "Error"]


def go_float(v):
    """A double as Go's strconv.FormatFloat(v, 'g', -1, 64) renders it (what the exporter writes)."""
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if math.isnan(v):
        return "NaN"
    if v == int(v) and abs(v) < 1e21:
        return str(int(v))
    text = repr(v)
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = "-" if exp.startswith("-") else "+"
        return f"{mantissa}e{sign}{abs(int(exp)):02d}"
    return text


def render(value):
    """An OTLP AnyValue as the exporter's Map(String, String) holds it."""
    if not value:
        return ""
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return "true" if value["boolValue"] else "false"
    if "intValue" in value:
        return str(int(value["intValue"]))
    if "doubleValue" in value:
        return go_float(float(value["doubleValue"]))
    if "bytesValue" in value:
        return value["bytesValue"]
    return json.dumps(plain(value), separators=(",", ":"))


def plain(value):
    if "arrayValue" in value:
        return [plain(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return {kv["key"]: plain(kv.get("value", {})) for kv in value["kvlistValue"].get("values", [])}
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    return None


def attrs(list_):
    return {kv["key"]: render(kv.get("value")) for kv in list_ or []}


def ts64(nanos):
    nanos = int(nanos)
    return f"{nanos // 1_000_000_000}.{nanos % 1_000_000_000:09d}"


def log_rows(export, schema):
    for rl in export.get("resourceLogs", []):
        res = attrs(rl.get("resource", {}).get("attributes"))
        for sl in rl.get("scopeLogs", []):
            scope = sl.get("scope", {})
            for r in sl.get("logRecords", []):
                t = int(r.get("timeUnixNano") or 0) or int(r.get("observedTimeUnixNano") or 0)
                row = {
                    "Timestamp": ts64(t), "TraceId": r.get("traceId", ""), "SpanId": r.get("spanId", ""),
                    "TraceFlags": int(r.get("flags", 0)) & 0xFF,
                    "SeverityText": r.get("severityText", ""), "SeverityNumber": int(r.get("severityNumber", 0) or 0),
                    "ServiceName": res.get("service.name", ""), "Body": render(r.get("body")),
                    "ResourceSchemaUrl": rl.get("schemaUrl", ""), "ResourceAttributes": res,
                    "ScopeSchemaUrl": sl.get("schemaUrl", ""), "ScopeName": scope.get("name", ""),
                    "ScopeVersion": scope.get("version", ""), "ScopeAttributes": attrs(scope.get("attributes")),
                    "LogAttributes": attrs(r.get("attributes")),
                }
                if schema == "2026":
                    row["EventName"] = r.get("eventName", "")
                yield row


def sum_rows(export, schema):
    def when(nanos):
        return ts64(nanos) if schema == "2025" else str(int(nanos) // 1_000_000_000)

    for rm in export.get("resourceMetrics", []):
        res = attrs(rm.get("resource", {}).get("attributes"))
        for sm in rm.get("scopeMetrics", []):
            scope = sm.get("scope", {})
            for m in sm.get("metrics", []):
                s = m.get("sum")
                if not s:
                    continue
                for p in s.get("dataPoints", []):
                    value = float(p["asDouble"]) if "asDouble" in p else float(int(p.get("asInt", 0)))
                    yield {
                        "ResourceAttributes": res, "ResourceSchemaUrl": rm.get("schemaUrl", ""),
                        "ScopeName": scope.get("name", ""), "ScopeVersion": scope.get("version", ""),
                        "ScopeAttributes": attrs(scope.get("attributes")), "ScopeDroppedAttrCount": 0,
                        "ScopeSchemaUrl": sm.get("schemaUrl", ""), "ServiceName": res.get("service.name", ""),
                        "MetricName": m["name"], "MetricDescription": m.get("description", ""),
                        "MetricUnit": m.get("unit", ""), "Attributes": attrs(p.get("attributes")),
                        "StartTimeUnix": when(p.get("startTimeUnixNano", 0)), "TimeUnix": when(p["timeUnixNano"]),
                        "Value": value, "Flags": int(p.get("flags", 0)),
                        "AggregationTemporality": int(s.get("aggregationTemporality", 0)),
                        "IsMonotonic": bool(s.get("isMonotonic", False)),
                    }


def span_rows(export):
    for rs in export.get("resourceSpans", []):
        res = attrs(rs.get("resource", {}).get("attributes"))
        for ss in rs.get("scopeSpans", []):
            scope = ss.get("scope", {})
            for sp in ss.get("spans", []):
                start, end = int(sp.get("startTimeUnixNano", 0)), int(sp.get("endTimeUnixNano", 0))
                status = sp.get("status", {}) or {}
                events = sp.get("events", []) or []
                links = sp.get("links", []) or []
                yield {
                    "Timestamp": ts64(start), "TraceId": sp.get("traceId", ""), "SpanId": sp.get("spanId", ""),
                    "ParentSpanId": sp.get("parentSpanId", ""), "TraceState": sp.get("traceState", ""),
                    "SpanName": sp.get("name", ""), "SpanKind": SPAN_KINDS[int(sp.get("kind", 0) or 0)],
                    "ServiceName": res.get("service.name", ""), "ResourceAttributes": res,
                    "ScopeName": scope.get("name", ""), "ScopeVersion": scope.get("version", ""),
                    "SpanAttributes": attrs(sp.get("attributes")), "Duration": max(end - start, 0),
                    "StatusCode": STATUS_CODES[int(status.get("code", 0) or 0)],
                    "StatusMessage": status.get("message", ""),
                    "Events.Timestamp": [ts64(e.get("timeUnixNano", 0)) for e in events],
                    "Events.Name": [e.get("name", "") for e in events],
                    "Events.Attributes": [attrs(e.get("attributes")) for e in events],
                    "Links.TraceId": [link.get("traceId", "") for link in links],
                    "Links.SpanId": [link.get("spanId", "") for link in links],
                    "Links.TraceState": [link.get("traceState", "") for link in links],
                    "Links.Attributes": [attrs(link.get("attributes")) for link in links],
                }


def post(url, database, sql):
    headers = {"X-ClickHouse-User": "default", "X-ClickHouse-Key": os.environ.get("CH_PASSWORD", "")}
    request = urllib.request.Request(f"{url}/?database={database}", data=sql.encode(), method="POST",
                                     headers=headers)
    with urllib.request.urlopen(request) as response:
        return response.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--database", default="otel")
    parser.add_argument("--schema", choices=["2025", "2026"], default="2026")
    parser.add_argument("--create", action="store_true")
    parser.add_argument("exports", nargs="*")
    args = parser.parse_args()
    db = args.database
    if args.create:
        post(args.url, "default", f"CREATE DATABASE IF NOT EXISTS {db}")
        post(args.url, db, LOGS_DDL[args.schema].format(db=db))
        post(args.url, db, SUMS_DDL.format(db=db, **SUMS_TYPES[args.schema]))
        post(args.url, db, TRACES_DDL.format(db=db))
    for path in args.exports:
        with open(path) as f:
            export = json.load(f)
        for table, rows in (("otel_logs", log_rows(export, args.schema)),
                            ("otel_metrics_sum", sum_rows(export, args.schema)),
                            ("otel_traces", span_rows(export))):
            lines = "\n".join(json.dumps(r, separators=(",", ":")) for r in rows)
            if lines:
                post(args.url, db, f"INSERT INTO {db}.{table} FORMAT JSONEachRow\n{lines}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
