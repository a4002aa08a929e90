#!/usr/bin/env python3
"""Fills a chdb (real ClickHouse engine) data directory with a fleet's Claude Code telemetry, in
the Collector exporter's tables, for `cargo bench --bench fleet` (scripts/bench-clickhouse.sh).

Shape (defaults): 1,000 users over 30 days; 10M events as Claude Code emits them — the 14 events
of a tools turn (user_prompt; api_request ×4; assistant_response ×3; tool_decision ×3;
tool_result ×3) with their real attribute sets, unique prompt, request and tool-use ids, and an
event.sequence per session — in sessions of 1 turn (half the turns) and of 50 turns; 50M metric
points: Claude Code's 12 points per export cycle (active time ×2, cost, tokens ×4, lines ×2,
edit decisions ×2, session count) every 60 s of a session, delta temporality. Users belong to 8
departments and 20 cost centres (resource attributes); one user in ten has no e-mail. Cost and
token points and `api_request`s carry Claude Code 2.1.33x's attribution (`query_source`: main 70 %,
subagent 20 % with `agent.name`, auxiliary 10 %; some `skill.name`, `mcp_server.name`/`mcp_tool.name`;
`effort`; six attribute sets a session). One user in ten has traces on: per turn an interaction span, a model request span per
`api_request` (its `request_id`, `ttft_ms`) and a tool span per tool call (its `tool_use_id`) with its
permission wait and its run, in `otel_traces`.

  generate.py DATA_DIR [--events N] [--points N] [--users N] [--end-ns NS]
Prints the range it wrote as JSON.
"""
import argparse
import importlib.util
import json
import os
import sys
import time

from chdb import session as chdb_session

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("collector", os.path.join(HERE, "../../tests/clickhouse/collector.py"))
collector = importlib.util.module_from_spec(spec)
spec.loader.exec_module(collector)

TURN = 14


def attribution(when, s, h):
    """Claude Code 2.1.33x's attribution keys, as map entries, of the rows where the SQL `when`
    holds (elsewhere empty: the caller's mapFilter drops them). Session `s` has six attribute
    sets, as a real session with subagents, a skill and MCP has: main (50 %), main with its
    skill, main with its MCP tool, its two subagents (10 % each), auxiliary; and one effort.
    `h` hashes the request and picks its set."""
    r = f"(({h}) % 10)"
    qs = f"multiIf({r} < 7, 'main', {r} < 9, 'subagent', 'auxiliary')"
    return f"""
        'query_source', if({when}, {qs}, ''),
        'agent.name', if({when} AND {qs} = 'subagent', ['Explore','Plan','general-purpose','code-reviewer','test-runner','docs-writer'][({s} + {r} % 2) % 6 + 1], ''),
        'skill.name', if({when} AND {r} = 5, ['pdf','xlsx','frontend-design','release-notes'][{s} % 4 + 1], ''),
        'mcp_server.name', if({when} AND {r} = 6, ['github','linear','sentry','postgres'][{s} % 4 + 1], ''),
        'mcp_tool.name', if({when} AND {r} = 6, ['create_pull_request','list_issues','get_issue','query'][{s} % 4 + 1], ''),
        'effort', if({when}, ['low','medium','high'][{s} % 3 + 1], '')"""


LONG_TURNS = 50
DAY = 86_400


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--points", type=int, default=50_000_000)
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--end-ns", type=int, default=0)
    a = p.parse_args()
    end = (a.end_ns // 1_000_000_000) if a.end_ns else int(time.time())
    start = end - 30 * DAY
    s = chdb_session.Session(a.data)
    s.query("CREATE DATABASE IF NOT EXISTS otel")
    s.query(collector.LOGS_DDL["2025"].format(db="otel"))
    s.query(collector.SUMS_DDL.format(db="otel", **collector.SUMS_TYPES["2025"]))
    s.query(collector.TRACES_DDL.format(db="otel"))
    turns = a.events // TURN
    # Even turns are one-turn sessions; odd turns fill 50-turn sessions.
    # session index: even turn t -> t; odd turn t -> turns + (t // (2 * LONG_TURNS)).
    sess = f"if(turn % 2 = 0, turn, {turns} + intDiv(turn, {2 * LONG_TURNS}))"
    turn_in = f"if(turn % 2 = 0, 0, intDiv(turn % {2 * LONG_TURNS}, 2))"
    common = f"""
        intDiv(number, {TURN}) AS turn, number % {TURN} AS k,
        {sess} AS s, {turn_in} AS ti,
        cityHash64(s) % {a.users} AS u,
        {start} + cityHash64(s, 'start') % {30 * DAY - 3 * 3600} AS s_start,
        toString(reinterpretAsUUID(cityHash64(s, 'session') * 1000003 + s)) AS session_id,
        ['user_prompt','api_request','assistant_response','tool_decision','tool_result',
         'api_request','assistant_response','tool_decision','tool_result',
         'api_request','assistant_response','tool_decision','tool_result','api_request'][k + 1] AS ev,
        ['Edit','Bash','Read','Write','Grep'][cityHash64(turn, k) % 5 + 1] AS tool,
        ['claude-opus-4-8[1m]','claude-sonnet-4-6','claude-haiku-4-5'][cityHash64(s) % 3 + 1] AS model,
        concat('dept-', toString(u % 8)) AS department,
        concat('cc-', toString(1000 + u % 20)) AS cost_center
    """
    t0 = time.time()
    s.query(f"""
    INSERT INTO otel.otel_logs (Timestamp, ServiceName, Body, ResourceAttributes, ScopeName, ScopeVersion, LogAttributes)
    SELECT
      fromUnixTimestamp64Nano(toInt64(s_start + ti * 40 + k * 2) * 1000000000 + cityHash64(number) % 1000000000) AS Timestamp,
      'claude-code', concat('claude_code.', ev),
      map('service.name','claude-code','service.version', concat('2.1.', toString(190 + u % 10)),
          'os.type','linux','host.arch','amd64','department',department,'cost_center',cost_center),
      'com.anthropic.claude_code.events', '2.1.197',
      mapFilter((key, v) -> v != '', map(
        'user.id', hex(SHA256(toString(u))),
        'user.email', if(u % 10 = 0, '', concat('user', toString(u), '@example.com')),
        'session.id', session_id,
        'terminal.type', ['xterm','vscode','iTerm.app','tmux'][u % 4 + 1],
        'event.name', ev,
        'event.timestamp', '',
        'event.sequence', toString(ti * {TURN} + k),
        'prompt.id', toString(reinterpretAsUUID(cityHash64(turn, 'prompt'))),
        'model', if(ev IN ('api_request','assistant_response'), model, ''),
        'input_tokens', if(ev = 'api_request', toString(cityHash64(number) % 4000), ''),
        'output_tokens', if(ev = 'api_request', toString(cityHash64(number, 1) % 2000), ''),
        'cache_read_tokens', if(ev = 'api_request', toString(cityHash64(number, 2) % 40000), ''),
        'cache_creation_tokens', if(ev = 'api_request', toString(cityHash64(number, 3) % 3000), ''),
        'cost_usd', if(ev = 'api_request', toString(round((cityHash64(number, 4) % 100000) / 1000000, 6)), ''),
        'duration_ms', if(ev IN ('api_request','tool_result'), toString(20 + cityHash64(number, 5) % 20000), ''),
        'request_id', if(ev IN ('api_request','assistant_response'), concat('req_', hex(cityHash64(turn, k))), ''),
        'tool_name', if(ev IN ('tool_decision','tool_result'), tool, ''),
        'tool_use_id', if(ev IN ('tool_decision','tool_result'), concat('toolu_', hex(cityHash64(turn, intDiv(k + 1, 2)))), ''),
        'decision', if(ev = 'tool_decision', 'accept', ''),
        'source', if(ev = 'tool_decision', 'config', ''),
        'success', if(ev = 'tool_result', if(cityHash64(number, 6) % 20 = 0, 'false', 'true'), ''),
        'prompt_length', if(ev = 'user_prompt', toString(cityHash64(number, 7) % 2000), ''),
        'ttft_ms', if(ev = 'api_request', toString(100 + cityHash64(number, 8) % 3000), ''),
        {attribution("ev = 'api_request'", 's', 'cityHash64(number, 9)')}
      )) AS LogAttributes
    FROM (SELECT number, {common} FROM numbers({turns * TURN}))
    """)
    t1 = time.time()
    sessions = turns // 2 + (turns + 2 * LONG_TURNS - 1) // (2 * LONG_TURNS)
    cycles = a.points // 12
    names = ("['claude_code.active_time.total','claude_code.active_time.total','claude_code.cost.usage',"
             "'claude_code.token.usage','claude_code.token.usage','claude_code.token.usage','claude_code.token.usage',"
             "'claude_code.lines_of_code.count','claude_code.lines_of_code.count',"
             "'claude_code.code_edit_tool.decision','claude_code.code_edit_tool.decision','claude_code.session.count']")
    types = "['user','cli','','input','output','cacheRead','cacheCreation','added','removed','','','']"
    s.query(f"""
    INSERT INTO otel.otel_metrics_sum (ResourceAttributes, ServiceName, ScopeName, ScopeVersion, MetricName, MetricUnit,
                                       Attributes, StartTimeUnix, TimeUnix, Value, AggregationTemporality, IsMonotonic)
    SELECT
      map('service.name','claude-code','service.version', concat('2.1.', toString(190 + u % 10)),
          'os.type','linux','host.arch','amd64','department',department,'cost_center',cost_center),
      'claude-code', 'com.anthropic.claude_code', '2.1.197', {names}[j + 1] AS metric, '',
      mapFilter((key, v) -> v != '', map(
        'user.id', hex(SHA256(toString(u))),
        'user.email', if(u % 10 = 0, '', concat('user', toString(u), '@example.com')),
        'session.id', session_id,
        'terminal.type', ['xterm','vscode','iTerm.app','tmux'][u % 4 + 1],
        'type', {types}[j + 1],
        'model', if(j IN (2,3,4,5,6,7,8), model, ''),
        'decision', multiIf(j = 9, 'accept', j = 10, 'reject', ''),
        'tool_name', if(j IN (9,10), ['Edit','Write','MultiEdit'][cityHash64(c) % 3 + 1], ''),
        'language', if(j IN (9,10), ['Rust','TypeScript','Python'][cityHash64(c, 1) % 3 + 1], ''),
        'start_type', if(j = 11, 'fresh', ''),
        {attribution('j IN (2,3,4,5,6)', 's', "cityHash64(c, 'who')")}
      )),
      fromUnixTimestamp64Nano(toInt64(s_start + ci * 60) * 1000000000),
      fromUnixTimestamp64Nano(toInt64(s_start + ci * 60 + 60) * 1000000000),
      multiIf(j = 2, (cityHash64(c) % 100000) / 1000000, j IN (3,4,5,6), toFloat64(cityHash64(c, j) % 5000),
              j IN (0,1), (cityHash64(c, j) % 60000) / 1000, j = 11, if(ci = 0, 1, 0), toFloat64(cityHash64(c, j) % 20)),
      1, true
    FROM (SELECT number, intDiv(number, 12) AS c, number % 12 AS j,
                 c % {sessions} AS i, intDiv(c, {sessions}) AS ci,
                 -- the i-th session of the logs above: their one-turn sessions, then the long ones
                 -- (UInt64 as there: the session id hashes the binary value)
                 toUInt64(if(i < {turns // 2}, 2 * i, i + {turns - turns // 2})) AS s,
                 cityHash64(s) % {a.users} AS u,
                 {start} + cityHash64(s, 'start') % {30 * DAY - 3 * 3600} AS s_start,
                 toString(reinterpretAsUUID(cityHash64(s, 'session') * 1000003 + s)) AS session_id,
                 ['claude-opus-4-8[1m]','claude-sonnet-4-6','claude-haiku-4-5'][cityHash64(s) % 3 + 1] AS model,
                 concat('dept-', toString(u % 8)) AS department,
                 concat('cc-', toString(1000 + u % 20)) AS cost_center
          FROM numbers({cycles * 12}))
    """)
    t2 = time.time()
    # Spans of the turns of one user in ten (traces on): k 0 the interaction, 1-4 the model
    # requests (the turn's api_requests, events 1, 5, 9, 13), 5-7 the tools (their decisions,
    # events 3, 7, 11), 8-10 the tools' permission waits, 11-13 their runs.
    s.query(f"""
    INSERT INTO otel.otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
                                  ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage)
    SELECT fromUnixTimestamp64Nano(start_ns), trace_id, lower(hex(cityHash64(turn, k))),
           multiIf(k = 0, '', k <= 7, lower(hex(cityHash64(turn, 0))), lower(hex(cityHash64(turn, 5 + j)))),
           '', name, 'Internal', 'claude-code',
           map('service.name','claude-code','department',department), 'com.anthropic.claude_code.tracing', '2.1.337',
           mapFilter((key, v) -> v != '', map(
             'session.id', session_id,
             'user.id', hex(SHA256(toString(u))),
             'user.email', if(u % 10 = 0, '', concat('user', toString(u), '@example.com')),
             'span.type', replaceOne(name, 'claude_code.', ''),
             'interaction.sequence', if(k = 0, toString(ti + 1), ''),
             'model', if(k BETWEEN 1 AND 4, model, ''),
             'request_id', if(k BETWEEN 1 AND 4, concat('req_', hex(cityHash64(turn, e))), ''),
             'ttft_ms', if(k BETWEEN 1 AND 4, toString(100 + cityHash64(turn, k, 'ttft') % 3000), ''),
             'query_source_safe', if(k BETWEEN 1 AND 4, 'main', ''),
             'tool_name_safe', if(k BETWEEN 5 AND 7, ['Edit','Bash','Read','Write','Grep'][cityHash64(turn, 3 + 4 * j) % 5 + 1], ''),
             'tool_use_id', if(k BETWEEN 5 AND 7 OR k >= 11, concat('toolu_', hex(cityHash64(turn, 2 + 2 * j))), ''),
             'decision', if(k BETWEEN 8 AND 10, 'accept', ''),
             'source', if(k BETWEEN 8 AND 10, 'user_temporary', ''),
             'success', if(k >= 11, 'true', '')
           )),
           toUInt64(end_ns - start_ns), 'Unset', ''
    FROM (SELECT *,
            ['claude_code.interaction','claude_code.llm_request','claude_code.llm_request','claude_code.llm_request',
             'claude_code.llm_request','claude_code.tool','claude_code.tool','claude_code.tool',
             'claude_code.tool.blocked_on_user','claude_code.tool.blocked_on_user','claude_code.tool.blocked_on_user',
             'claude_code.tool.execution','claude_code.tool.execution','claude_code.tool.execution'][k + 1] AS name,
            lower(hex(cityHash64(turn, 'trace'))) || lower(hex(cityHash64(turn, 'trace', 2))) AS trace_id,
            toInt64(s_start + ti * 40) * 1000000000 AS t0,
            if(k BETWEEN 1 AND 4, [1, 5, 9, 13][k], 0) AS e,
            multiIf(k BETWEEN 5 AND 7, k - 5, k BETWEEN 8 AND 10, k - 8, k >= 11, k - 11, 0) AS j,
            t0 + (3 + 4 * j) * 2000000000 AS tool_start,
            toInt64(cityHash64(turn, j, 'wait') % 1500) * 1000000 AS wait_ns,
            multiIf(k = 0, t0, k <= 4, t0 + (e * 2 - 2) * 1000000000, k <= 10, tool_start, tool_start + wait_ns) AS start_ns,
            multiIf(k = 0, t0 + 27000000000, k <= 4, t0 + e * 2000000000, k <= 7, tool_start + 2000000000,
                    k <= 10, tool_start + wait_ns, tool_start + 2000000000) AS end_ns
          FROM (SELECT number, {common} FROM numbers({turns * TURN})) WHERE u % 10 = 0)
    """)
    t3 = time.time()
    s.query("OPTIMIZE TABLE otel.otel_logs FINAL")
    s.query("OPTIMIZE TABLE otel.otel_metrics_sum FINAL")
    counts = json.loads(s.query(
        "SELECT (SELECT count() FROM otel.otel_logs) AS events, (SELECT count() FROM otel.otel_metrics_sum) AS points,"
        " (SELECT uniqExact(LogAttributes['session.id']) FROM otel.otel_logs) AS sessions,"
        " (SELECT count() FROM otel.otel_traces) AS spans,"
        " (SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'otel' AND active) AS bytes", "JSON").bytes())["data"][0]
    print(json.dumps({"from_ns": start * 1_000_000_000, "to_ns": end * 1_000_000_000, **counts,
                      "seconds": {"events": round(t1 - t0, 1), "points": round(t2 - t1, 1), "spans": round(t3 - t2, 1)}}))


if __name__ == "__main__":
    sys.exit(main())
