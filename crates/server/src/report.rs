//! The periodic usage report, as a standalone HTML page or Markdown, with its charts embedded:
//! totals, and the usual return-on-investment questions: cost per session, per user, per line
//! of code, per commit and pull request; the edit acceptance trend; the top models.

use std::fmt::Write as _;

use base64::Engine as _;
use ccscope_charts::{BarChart, Size, Theme, Unit, escape};
use ccscope_query::{Dimension, Filter, GroupUsage, Source, SourceError};
use ccscope_telemetry::MetricKind;

use crate::dto::rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
}

fn money(usd: f64) -> String {
    Unit::Usd.format(usd)
}

fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

fn per(cost: f64, count: f64) -> String {
    ratio(cost, count).map(money).unwrap_or_else(|| "–".into())
}

/// A table: header cells and rows of cells (plain text; escaped on output).
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// A per-group table: users, sessions, cost, cost per user, tokens, lines, edit acceptance.
fn group_table(first: &str, rows: &[GroupUsage]) -> Table {
    Table {
        header: [
            first,
            "Users",
            "Sessions",
            "Cost",
            "Cost per user",
            "Tokens",
            "Lines +/-",
            "Edit acceptance",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|g| {
                vec![
                    if g.key.is_empty() {
                        "(none)".into()
                    } else {
                        g.key.clone()
                    },
                    g.users.to_string(),
                    g.sessions.to_string(),
                    money(g.cost_usd),
                    per(g.cost_usd, g.users as f64),
                    format!("{:.0}", g.tokens),
                    format!("+{:.0} / -{:.0}", g.lines_added, g.lines_removed),
                    ratio(g.edits_accepted, g.edits_accepted + g.edits_rejected)
                        .map(|x| format!("{:.0}%", x * 100.0))
                        .unwrap_or_else(|| "–".into()),
                ]
            })
            .collect(),
    }
}

/// Builds the report for `filter`; `team` adds a section per team (e.g. `attr:department`).
/// The attributes the report splits cost by, with their headings.
const MONEY_SPLITS: &[(&str, &str)] = &[
    ("query_source", "Who asked"),
    ("agent.name", "Subagent"),
    ("skill.name", "Skill"),
    ("mcp_server.name", "MCP server"),
    ("plugin.name", "Plugin"),
    ("vcs.repository.name", "Repository"),
];

pub fn build(
    reader: &dyn Source,
    filter: &Filter,
    team: Option<&Dimension>,
    format: Format,
) -> Result<String, SourceError> {
    let r = reader.report(filter)?;
    let size = Size {
        width: 720,
        height: 300,
    };
    let cost_chart = ccscope_charts::time_chart(
        &crate::charts::time_chart_from(
            &reader.usage_series(false, &Dimension::Model, filter)?,
            "Cost by model (USD)",
            Unit::Usd,
            true,
        ),
        Theme::Light,
        size,
    );
    let token_chart = ccscope_charts::time_chart(
        &crate::charts::time_chart_from(
            &reader.metric_series(MetricKind::TokenUsage, &Dimension::Type, filter)?,
            "Tokens by type",
            Unit::Count,
            true,
        ),
        Theme::Light,
        size,
    );
    let decisions = reader.decision_breakdown(false, filter)?;
    let decision_chart = ccscope_charts::bar_chart(
        &BarChart {
            title: "Edit decisions by tool".into(),
            unit: Unit::Count,
            segments: vec!["accept".into(), "reject".into()],
            rows: decisions
                .iter()
                .map(|(k, a, r)| (k.clone(), vec![*a, *r]))
                .collect(),
        },
        Theme::Light,
        size,
    );
    let charts: Vec<(String, String)> = [
        ("Cost by model", cost_chart),
        ("Tokens by type", token_chart),
        ("Edit decisions by tool", decision_chart),
    ]
    .into_iter()
    .filter_map(|(t, c)| c.ok().map(|svg| (t.to_owned(), svg)))
    .collect();

    // Acceptance trend: accepted and rejected edits per bucket.
    let trend = reader.metric_series(
        MetricKind::CodeEditToolDecision,
        &Dimension::Attribute("decision".into()),
        filter,
    )?;
    let mut trend_rows = Vec::new();
    for bucket in trend.buckets() {
        let get = |d: &str| {
            trend
                .groups
                .get(d)
                .and_then(|b| b.get(&bucket))
                .copied()
                .unwrap_or(0.0)
        };
        let (a, rj) = (get("accept"), get("reject"));
        if a + rj > 0.0 {
            let rate = ratio(a, a + rj)
                .map(|x| format!("{:.0}%", x * 100.0))
                .unwrap_or_default();
            trend_rows.push(vec![
                rfc3339(bucket)[..16].replace('T', " "),
                format!("{a:.0}"),
                format!("{rj:.0}"),
                rate,
            ]);
        }
    }

    // Per user (e-mail, else user.id), and per team when asked.
    let by_user = group_table("User", &reader.usage_by(&Dimension::User, filter)?);
    let by_team = match team {
        Some(Dimension::Attribute(key)) => Some((
            format!("By {key}"),
            group_table(
                key,
                &reader.usage_by(&Dimension::Attribute(key.clone()), filter)?,
            ),
        )),
        Some(other) if *other != Dimension::User => Some((
            "By team".to_owned(),
            group_table("Team", &reader.usage_by(other, filter)?),
        )),
        _ => None,
    };

    let decisions_total = r.edits_accepted + r.edits_rejected;
    let requests = *r.events.get("api_request").unwrap_or(&0) as f64;
    let errors = *r.events.get("api_error").unwrap_or(&0) as f64;
    let summary = Table {
        header: vec!["Measure".into(), "Value".into()],
        rows: vec![
            vec!["Cost".into(), money(r.cost_usd)],
            vec!["Sessions".into(), r.sessions.to_string()],
            vec!["Tokens".into(), format!("{:.0}", r.tokens.total())],
            vec![
                "Lines of code".into(),
                format!("+{:.0} / -{:.0}", r.lines_added, r.lines_removed),
            ],
            vec![
                "Commits / pull requests".into(),
                format!("{:.0} / {:.0}", r.commits, r.pull_requests),
            ],
            vec![
                "Edit acceptance".into(),
                ratio(r.edits_accepted, decisions_total)
                    .map(|x| format!("{:.1}%", x * 100.0))
                    .unwrap_or_else(|| "–".into()),
            ],
            vec![
                "API error rate".into(),
                ratio(errors, requests + errors)
                    .map(|x| format!("{:.1}%", x * 100.0))
                    .unwrap_or_else(|| "–".into()),
            ],
        ],
    };
    let roi = Table {
        header: vec!["Question".into(), "Answer".into()],
        rows: vec![
            vec![
                "Cost per session".into(),
                per(r.cost_usd, r.sessions as f64),
            ],
            vec![
                "Cost per line of code added".into(),
                per(r.cost_usd, r.lines_added),
            ],
            vec!["Cost per commit".into(), per(r.cost_usd, r.commits)],
            vec![
                "Cost per pull request".into(),
                per(r.cost_usd, r.pull_requests),
            ],
            vec![
                "Cost per accepted edit".into(),
                per(r.cost_usd, r.edits_accepted),
            ],
        ],
    };
    let models = Table {
        header: vec!["Model".into(), "Cost".into(), "Tokens".into()],
        rows: r
            .by_model
            .iter()
            .map(|m| {
                vec![
                    m.model.clone(),
                    money(m.cost_usd),
                    format!("{:.0}", m.tokens),
                ]
            })
            .collect(),
    };
    let trend = Table {
        header: vec![
            "Period".into(),
            "Accepted".into(),
            "Rejected".into(),
            "Rate".into(),
        ],
        rows: trend_rows,
    };

    // Where the money went: the attributes Claude Code puts on its cost points (named values
    // only; who asked in full).
    let mut money_rows = Vec::new();
    for (key, label) in MONEY_SPLITS {
        for (value, cost) in ccscope_query::cost_by_attribute(reader, key, filter)? {
            if value.is_none() && *key != "query_source" {
                continue;
            }
            money_rows.push(vec![
                (*label).to_owned(),
                value.unwrap_or_else(|| "(not attributed)".into()),
                money(cost),
                ratio(cost, r.cost_usd)
                    .map(|x| format!("{:.1}%", x * 100.0))
                    .unwrap_or_else(|| "–".into()),
            ]);
        }
    }
    let money_table = Table {
        header: vec![
            "Split".into(),
            "Value".into(),
            "Cost".into(),
            "Share".into(),
        ],
        rows: money_rows,
    };

    let title = format!(
        "Claude Code usage, {} to {}",
        &rfc3339(filter.from_ns)[..10],
        &rfc3339(filter.to_ns)[..10]
    );
    let mut sections: Vec<(&str, &Table)> = vec![
        ("Summary", &summary),
        ("Return on investment", &roi),
        ("By user", &by_user),
    ];
    if let Some((heading, table)) = &by_team {
        sections.push((heading.as_str(), table));
    }
    sections.extend([
        ("Top models", &models),
        ("Where the money went", &money_table),
        ("Edit acceptance over time", &trend),
    ]);
    // A range without attributed cost has nothing to say there.
    sections
        .retain(|(heading, table)| *heading != "Where the money went" || !table.rows.is_empty());
    Ok(match format {
        Format::Html => html(&title, &sections, &charts),
        Format::Markdown => markdown(&title, &sections, &charts),
    })
}

fn html(title: &str, sections: &[(&str, &Table)], charts: &[(String, String)]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}}\
         table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}th,td{{border:1px solid #ddd;padding:.3rem .7rem;text-align:left}}\
         svg{{max-width:100%;height:auto}}</style></head><body>\n<h1>{t}</h1>\n",
        t = escape(title)
    );
    for (heading, table) in sections {
        let _ = write!(out, "<h2>{}</h2>\n<table><tr>", escape(heading));
        for h in &table.header {
            let _ = write!(out, "<th>{}</th>", escape(h));
        }
        out.push_str("</tr>\n");
        for row in &table.rows {
            out.push_str("<tr>");
            for cell in row {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
    }
    out.push_str("<h2>Charts</h2>\n");
    for (name, svg) in charts {
        let _ = writeln!(
            out,
            "<figure><figcaption>{}</figcaption>{svg}</figure>",
            escape(name)
        );
    }
    out.push_str("<p>Costs are Claude Code's own estimates at list prices, not billing data. Made by ccscope.</p>\n</body></html>\n");
    out
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn markdown(title: &str, sections: &[(&str, &Table)], charts: &[(String, String)]) -> String {
    let mut out = format!("# {}\n\n", md_cell(title));
    for (heading, table) in sections {
        let _ = write!(
            out,
            "## {heading}\n\n| {} |\n|{}\n",
            table
                .header
                .iter()
                .map(|h| md_cell(h))
                .collect::<Vec<_>>()
                .join(" | "),
            " --- |".repeat(table.header.len())
        );
        for row in &table.rows {
            let _ = writeln!(
                out,
                "| {} |",
                row.iter()
                    .map(|c| md_cell(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        out.push('\n');
    }
    out.push_str("## Charts\n\n");
    for (name, svg) in charts {
        let data = base64::engine::general_purpose::STANDARD.encode(svg.as_bytes());
        let _ = write!(
            out,
            "![{}](data:image/svg+xml;base64,{data})\n\n",
            md_cell(name)
        );
    }
    out.push_str("Costs are Claude Code's own estimates at list prices, not billing data. Made by ccscope.\n");
    out
}
