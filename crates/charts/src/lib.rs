//! Charts for ccscope, drawn with plotters into SVG text. Every bar or point gets an invisible
//! hover target whose `<title>` carries its exact values, so the page shows them on hover
//! without receiving the data. Themes give readable colours on light and dark pages.
//!
//! Pure: takes already-aggregated numbers, returns a string. Must never: do I/O; emit text
//! from the data unescaped.

use std::fmt::Write as _;

use chrono::{DateTime, Local, Utc};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Colour scheme of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn parse(text: &str) -> Theme {
        if text.eq_ignore_ascii_case("dark") {
            Theme::Dark
        } else {
            Theme::Light
        }
    }

    fn background(self) -> RGBColor {
        match self {
            Theme::Light => RGBColor(255, 255, 255),
            Theme::Dark => RGBColor(24, 26, 31),
        }
    }

    fn text(self) -> RGBColor {
        match self {
            Theme::Light => RGBColor(40, 44, 52),
            Theme::Dark => RGBColor(220, 223, 228),
        }
    }

    fn grid(self) -> RGBColor {
        match self {
            Theme::Light => RGBColor(226, 229, 234),
            Theme::Dark => RGBColor(52, 56, 64),
        }
    }

    /// Series colours, distinguishable on both backgrounds (Okabe–Ito based).
    fn palette(self) -> [RGBColor; 8] {
        match self {
            Theme::Light => [
                RGBColor(0, 114, 178),
                RGBColor(230, 159, 0),
                RGBColor(0, 158, 115),
                RGBColor(204, 121, 167),
                RGBColor(86, 180, 233),
                RGBColor(213, 94, 0),
                RGBColor(120, 120, 120),
                RGBColor(170, 150, 20),
            ],
            Theme::Dark => [
                RGBColor(86, 180, 233),
                RGBColor(240, 180, 60),
                RGBColor(40, 200, 150),
                RGBColor(230, 150, 200),
                RGBColor(150, 200, 255),
                RGBColor(240, 120, 50),
                RGBColor(170, 170, 170),
                RGBColor(220, 200, 60),
            ],
        }
    }
}

/// How values are printed on axes and in hover text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Usd,
    Count,
    Seconds,
    Milliseconds,
    Percent,
}

impl Unit {
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Usd if value.abs() >= 1.0 => format!("${value:.2}"),
            Unit::Usd => format!("${value:.4}"),
            Unit::Count if value.fract() == 0.0 || value.abs() >= 100.0 => {
                group_thousands(value.round() as i64)
            }
            Unit::Count => format!("{value:.2}"),
            Unit::Seconds if value >= 3600.0 => format!("{:.1} h", value / 3600.0),
            Unit::Seconds if value >= 60.0 => format!("{:.1} min", value / 60.0),
            Unit::Seconds => format!("{value:.1} s"),
            Unit::Milliseconds => format!("{value:.0} ms"),
            Unit::Percent => format!("{:.1}%", value * 100.0),
        }
    }
}

fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Escapes text for SVG/XML content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// Values over time, one row per group, aligned with `buckets`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeChart {
    pub title: String,
    pub unit: Unit,
    /// Start of each bucket, Unix nanoseconds.
    pub buckets: Vec<i64>,
    pub bucket_ns: i64,
    /// (group name, value per bucket).
    pub groups: Vec<(String, Vec<f64>)>,
    /// Stacked bars when true; lines otherwise (percentiles, ratios).
    pub stacked: bool,
}

/// One bar per category, split into segments (e.g. accepted/rejected).
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub unit: Unit,
    pub segments: Vec<String>,
    /// (category, value per segment).
    pub rows: Vec<(String, Vec<f64>)>,
}

/// Size of a rendered chart in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Default for Size {
    fn default() -> Self {
        Size {
            width: 640,
            height: 280,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("chart drawing failed: {0}")]
pub struct ChartError(String);

fn err<E: std::fmt::Debug>(e: E) -> ChartError {
    ChartError(format!("{e:?}"))
}

fn bucket_label(ns: i64, bucket_ns: i64) -> String {
    let t = DateTime::<Utc>::from_timestamp_nanos(ns).with_timezone(&Local);
    if bucket_ns >= 86_400_000_000_000 {
        t.format("%b %d").to_string()
    } else {
        t.format("%b %d %H:%M").to_string()
    }
}

fn axis_label(ns: i64, bucket_ns: i64, span_ns: i64) -> String {
    let t = DateTime::<Utc>::from_timestamp_nanos(ns).with_timezone(&Local);
    if bucket_ns >= 86_400_000_000_000 || span_ns > 3 * 86_400_000_000_000 {
        t.format("%b %d").to_string()
    } else if span_ns > 86_400_000_000_000 {
        t.format("%d %H:%M").to_string()
    } else {
        t.format("%H:%M").to_string()
    }
}

/// Hover targets appended to the SVG: (x, y, w, h, title lines).
type Hovers = Vec<(i32, i32, i32, i32, String)>;

/// The attribute that marks a chart with nothing to show, so the page can say so instead of
/// showing an empty grid.
pub const EMPTY_MARK: &str = r#"data-empty="true""#;

fn finish(
    mut svg: String,
    hovers: Hovers,
    legend: &[(String, RGBColor)],
    theme: Theme,
    size: Size,
    empty: bool,
) -> String {
    if empty && let Some(at) = svg.find("<svg") {
        svg.insert_str(at + "<svg".len(), &format!(" {EMPTY_MARK}"));
    }
    let mut extra = String::new();
    let _ = write!(extra, r#"<g class="hover-targets">"#);
    for (x, y, w, h, title) in hovers {
        let _ = write!(
            extra,
            r#"<rect class="hover" x="{x}" y="{y}" width="{}" height="{}" fill="transparent"><title>{}</title></rect>"#,
            w.max(1),
            h.max(1),
            escape(&title)
        );
    }
    extra.push_str("</g>");
    // Legend along the bottom edge.
    let mut x = 60;
    let y = size.height as i32 - 10;
    let text = theme.text();
    let _ = write!(
        extra,
        r#"<g class="legend" font-family="sans-serif" font-size="12">"#
    );
    for (name, color) in legend {
        let label = if name.is_empty() { "(none)" } else { name };
        let _ = write!(
            extra,
            r#"<rect x="{x}" y="{}" width="10" height="10" fill="rgb({},{},{})"/><text x="{}" y="{y}" fill="rgb({},{},{})">{}</text>"#,
            y - 9,
            color.0,
            color.1,
            color.2,
            x + 14,
            text.0,
            text.1,
            text.2,
            escape(label)
        );
        x += 24 + (label.chars().count() as i32) * 7;
    }
    extra.push_str("</g>");
    if let Some(end) = svg.rfind("</svg>") {
        svg.insert_str(end, &extra);
    }
    svg
}

fn title_area<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    title: &str,
    theme: Theme,
) -> Result<DrawingArea<SVGBackend<'a>, Shift>, ChartError> {
    root.fill(&theme.background()).map_err(err)?;
    let titled = root
        .titled(title, ("sans-serif", 16).into_font().color(&theme.text()))
        .map_err(err)?;
    Ok(titled.margin(4, 24, 8, 16))
}

/// Draws values over time.
pub fn time_chart(chart: &TimeChart, theme: Theme, size: Size) -> Result<String, ChartError> {
    let mut svg = String::new();
    let palette = theme.palette();
    let n = chart.buckets.len().max(1);
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            if chart.stacked {
                chart
                    .groups
                    .iter()
                    .map(|(_, v)| v.get(i).copied().unwrap_or(0.0))
                    .sum()
            } else {
                chart
                    .groups
                    .iter()
                    .map(|(_, v)| v.get(i).copied().unwrap_or(0.0))
                    .fold(0.0, f64::max)
            }
        })
        .collect();
    let y_max = totals.iter().copied().fold(0.0, f64::max);
    let y_max = if y_max <= 0.0 { 1.0 } else { y_max * 1.1 };
    let x0 = chart.buckets.first().copied().unwrap_or(0);
    let span = chart.bucket_ns * n as i64;
    let mut hovers: Hovers = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, (size.width, size.height)).into_drawing_area();
        let area = title_area(&root, &chart.title, theme)?;
        let unit = chart.unit;
        let mut ctx = ChartBuilder::on(&area)
            .x_label_area_size(26)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..n as f64, 0f64..y_max)
            .map_err(err)?;
        let label_style = ("sans-serif", 11).into_font().color(&theme.text());
        let bucket_ns = chart.bucket_ns;
        ctx.configure_mesh()
            .light_line_style(theme.grid())
            .bold_line_style(theme.grid())
            .axis_style(theme.grid())
            .label_style(label_style)
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&|x| axis_label(x0 + (*x as i64) * bucket_ns, bucket_ns, span))
            .y_label_formatter(&|y| unit.format(*y))
            .draw()
            .map_err(err)?;
        for (gi, (_, values)) in chart.groups.iter().enumerate() {
            let color = palette[gi % palette.len()];
            if chart.stacked {
                let rects = (0..n).filter_map(|i| {
                    let v = values.get(i).copied().unwrap_or(0.0);
                    if v <= 0.0 {
                        return None;
                    }
                    let below: f64 = chart.groups[..gi]
                        .iter()
                        .map(|(_, vs)| vs.get(i).copied().unwrap_or(0.0))
                        .sum();
                    Some(Rectangle::new(
                        [(i as f64 + 0.1, below), (i as f64 + 0.9, below + v)],
                        color.filled(),
                    ))
                });
                ctx.draw_series(rects).map_err(err)?;
            } else {
                // Missing values (NaN) break the line instead of dropping it to zero.
                let mut run: Vec<(f64, f64)> = Vec::new();
                for i in 0..=n {
                    match values.get(i).copied().filter(|v| v.is_finite() && i < n) {
                        Some(v) => run.push((i as f64 + 0.5, v)),
                        None if !run.is_empty() => {
                            let points = std::mem::take(&mut run);
                            if points.len() == 1 {
                                ctx.draw_series(std::iter::once(Circle::new(
                                    points[0],
                                    3,
                                    color.filled(),
                                )))
                                .map_err(err)?;
                            } else {
                                ctx.draw_series(LineSeries::new(points, color.stroke_width(2)))
                                    .map_err(err)?;
                            }
                        }
                        None => {}
                    }
                }
            }
        }
        for (i, total) in totals.iter().enumerate() {
            let (left, top) = ctx.backend_coord(&(i as f64, y_max));
            let (right, bottom) = ctx.backend_coord(&(i as f64 + 1.0, 0.0));
            let mut title =
                bucket_label(chart.buckets.get(i).copied().unwrap_or(x0), chart.bucket_ns);
            for (name, values) in &chart.groups {
                let v = values.get(i).copied().unwrap_or(0.0);
                let name = if name.is_empty() { "(none)" } else { name };
                let shown = if v.is_finite() {
                    unit.format(v)
                } else {
                    "–".to_owned()
                };
                let _ = write!(title, "\n{name}: {shown}");
            }
            if chart.stacked && chart.groups.len() > 1 {
                let _ = write!(title, "\ntotal: {}", unit.format(*total));
            }
            hovers.push((left, top, right - left, bottom - top, title));
        }
        root.present().map_err(err)?;
    }
    let legend: Vec<(String, RGBColor)> = chart
        .groups
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (name.clone(), palette[i % palette.len()]))
        .collect();
    let empty = chart
        .groups
        .iter()
        .all(|(_, values)| values.iter().all(|v| *v == 0.0));
    Ok(finish(svg, hovers, &legend, theme, size, empty))
}

/// Draws one horizontal bar per category, split into segments.
pub fn bar_chart(chart: &BarChart, theme: Theme, size: Size) -> Result<String, ChartError> {
    let mut svg = String::new();
    let palette = theme.palette();
    let n = chart.rows.len().max(1);
    let x_max = chart
        .rows
        .iter()
        .map(|(_, v)| v.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let x_max = if x_max <= 0.0 { 1.0 } else { x_max * 1.1 };
    let mut hovers: Hovers = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, (size.width, size.height)).into_drawing_area();
        let area = title_area(&root, &chart.title, theme)?;
        let unit = chart.unit;
        let label_width = chart
            .rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, 24) as u32
            * 7
            + 8;
        let mut ctx = ChartBuilder::on(&area)
            .x_label_area_size(26)
            .y_label_area_size(label_width)
            .build_cartesian_2d(0f64..x_max, 0f64..n as f64)
            .map_err(err)?;
        let rows = &chart.rows;
        ctx.configure_mesh()
            .disable_y_mesh()
            .light_line_style(theme.grid())
            .bold_line_style(theme.grid())
            .axis_style(theme.grid())
            .label_style(("sans-serif", 11).into_font().color(&theme.text()))
            .x_labels(5)
            .y_labels(0)
            .x_label_formatter(&|x| unit.format(*x))
            .draw()
            .map_err(err)?;
        // Category names, centred on their bars, right-aligned against the axis.
        let label_font = ("sans-serif", 11)
            .into_font()
            .color(&theme.text())
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (ri, (key, _)) in rows.iter().enumerate() {
            let (x, y) = ctx.backend_coord(&(0.0, (n - 1 - ri) as f64 + 0.5));
            let name: String = if key.is_empty() {
                "(none)".into()
            } else {
                key.chars().take(24).collect()
            };
            root.draw(&Text::new(name, (x - 6, y), label_font.clone()))
                .map_err(err)?;
        }
        for (ri, (key, values)) in chart.rows.iter().enumerate() {
            let y = (n - 1 - ri) as f64;
            let mut x = 0.0;
            for (si, v) in values.iter().enumerate() {
                if *v > 0.0 {
                    let color = palette[si % palette.len()];
                    ctx.draw_series(std::iter::once(Rectangle::new(
                        [(x, y + 0.15), (x + v, y + 0.85)],
                        color.filled(),
                    )))
                    .map_err(err)?;
                }
                x += v;
            }
            let (left, top) = ctx.backend_coord(&(0.0, y + 1.0));
            let (right, bottom) = ctx.backend_coord(&(x_max, y));
            let mut title = if key.is_empty() {
                "(none)".to_owned()
            } else {
                key.clone()
            };
            for (segment, v) in chart.segments.iter().zip(values) {
                let _ = write!(title, "\n{segment}: {}", unit.format(*v));
            }
            hovers.push((left, top, right - left, bottom - top, title));
        }
        root.present().map_err(err)?;
    }
    let legend: Vec<(String, RGBColor)> = chart
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), palette[i % palette.len()]))
        .collect();
    let empty = chart
        .rows
        .iter()
        .all(|(_, values)| values.iter().all(|v| *v == 0.0));
    Ok(finish(svg, hovers, &legend, theme, size, empty))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TimeChart {
        TimeChart {
            title: "Cost".into(),
            unit: Unit::Usd,
            buckets: vec![0, 3_600_000_000_000, 7_200_000_000_000],
            bucket_ns: 3_600_000_000_000,
            groups: vec![
                ("claude-opus-4-8[1m]".into(), vec![0.5, 0.0, 1.25]),
                ("<script>".into(), vec![0.25, 0.0, 0.0]),
            ],
            stacked: true,
        }
    }

    #[test]
    fn every_bucket_has_a_hover_with_exact_values() {
        let svg = time_chart(&sample(), Theme::Light, Size::default()).expect("svg");
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert_eq!(svg.matches(r#"class="hover""#).count(), 3);
        assert!(svg.contains("claude-opus-4-8[1m]: $0.5000"));
        assert!(svg.contains("total: $0.7500"));
        assert!(svg.contains("claude-opus-4-8[1m]: $1.25"));
    }

    #[test]
    fn data_text_is_escaped() {
        let svg = time_chart(&sample(), Theme::Dark, Size::default()).expect("svg");
        assert!(!svg.contains("<script>"), "raw tag in {svg}");
        assert!(svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn themes_change_the_background() {
        let light = time_chart(&sample(), Theme::Light, Size::default()).expect("light");
        let dark = time_chart(&sample(), Theme::Dark, Size::default()).expect("dark");
        assert!(
            light.contains("#FFFFFF")
                || light.contains("rgb(255,255,255)")
                || light.contains("fill=\"#FFFFFF\"")
        );
        assert_ne!(light, dark);
    }

    #[test]
    fn bars_have_one_hover_per_category() {
        let chart = BarChart {
            title: "Edits".into(),
            unit: Unit::Count,
            segments: vec!["accept".into(), "reject".into()],
            rows: vec![
                ("Write".into(), vec![3.0, 1.0]),
                ("Edit".into(), vec![2.0, 0.0]),
            ],
        };
        let svg = bar_chart(&chart, Theme::Light, Size::default()).expect("svg");
        assert_eq!(svg.matches(r#"class="hover""#).count(), 2);
        assert!(svg.contains("Write\naccept: 3\nreject: 1"));
    }

    #[test]
    fn empty_charts_still_render() {
        let chart = TimeChart {
            groups: vec![],
            ..sample()
        };
        assert!(time_chart(&chart, Theme::Light, Size::default()).is_ok());
        let bars = BarChart {
            title: "x".into(),
            unit: Unit::Count,
            segments: vec![],
            rows: vec![],
        };
        assert!(bar_chart(&bars, Theme::Light, Size::default()).is_ok());
    }

    #[test]
    fn units_format_readably() {
        assert_eq!(Unit::Usd.format(0.01234), "$0.0123");
        assert_eq!(Unit::Count.format(12345.0), "12,345");
        assert_eq!(Unit::Seconds.format(90.0), "1.5 min");
        assert_eq!(Unit::Percent.format(0.25), "25.0%");
    }
}
