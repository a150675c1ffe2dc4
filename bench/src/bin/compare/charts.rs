//! The comparison's charts (`--plot DIR`): SVG files drawn with plotters, one per question a
//! reader asks. Bar charts show a measurement per server as the median over rounds with a
//! whisker from the lowest to the highest round; the percentile chart shows the lockstep
//! round trips' latency distribution, one line per server, on HdrHistogram's "nines" axis.
//!
//! Every chart says its load and unit in its title, and names the commit and the command
//! that produced it twice: in a footer line anyone looking at it sees, and in the SVG's
//! `<desc>`, which tools and screen readers read.

use anyhow::{Result, anyhow};
use chatecho_bench::latency::{self, Point};
use chatecho_bench::rounds::Spread;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;

/// Width and height of every chart, in SVG pixels.
const SIZE: (u32, u32) = (900, 540);
/// Height of the footer: a line on what is drawn, a line naming the commit and the command.
const FOOTER: u32 = 44;
/// The mesh's light lines: a hint of the scale that the bars and curves stand out from.
const LIGHT_LINE: RGBColor = RGBColor(0xf2, 0xf2, 0xf2);
const FONT: &str = "sans-serif";

/// Where a chart comes from: the commit measured and the command that drew it.
pub struct Provenance {
    /// `git rev-parse --short HEAD` of the code measured.
    pub commit: String,
    /// The command line that produced the chart, as a person would type it.
    pub command: String,
}

impl Provenance {
    fn footer(&self) -> String {
        format!("commit {} · {}", self.commit, self.command)
    }
}

/// A bar chart: one group of bars per server, one bar per series in each group.
pub struct Bars<'a> {
    /// The chart's title: the load and what is measured.
    pub title: String,
    /// The y axis: the unit.
    pub unit: &'a str,
    /// The servers, left to right.
    pub servers: &'a [&'a str],
    /// Each series' name and its measurement for each server (`None`: not measured there).
    /// With one series, the bars take the servers' colours; with more, the series' colours,
    /// and a legend names them.
    pub series: Vec<(String, Vec<Option<Spread>>)>,
    /// How a value is written on its bar and on the axis.
    pub format: fn(f64) -> String,
    /// What the bars and whiskers are, for the footer (e.g. "median of 3 rounds").
    pub note: String,
}

/// The colour of a server, the same in every chart.
fn server_color(server: &str) -> RGBColor {
    match server {
        "chatecho" => RGBColor(0x1f, 0x6f, 0xb4),
        "chatecho-baseline" => RGBColor(0x8c, 0xb8, 0xdc),
        "tokio-lines" => RGBColor(0xe0, 0x7b, 0x10),
        "tokio-lines-ct" => RGBColor(0xb8, 0x4a, 0x9e),
        "raw-echo" => RGBColor(0x7f, 0x7f, 0x7f),
        "seed" => RGBColor(0x2c, 0xa0, 0x2c),
        _ => BLACK,
    }
}

/// An axis (linear or logarithmic: `scale`) whose ticks are exactly `ticks`: a bar chart's
/// servers at 0, 1, 2 …, the whole nines of a percentile chart, 1-2-5 steps of latency.
/// (plotters' own `with_key_points` does the same but cannot be given a label formatter.)
struct Ticks<R> {
    scale: R,
    ticks: Vec<f64>,
}

impl Ticks<RangedCoordf64> {
    fn linear(range: Range<f64>, ticks: Vec<f64>) -> Self {
        Self {
            scale: range.into(),
            ticks,
        }
    }
}

impl Ticks<LogCoord<f64>> {
    /// A log scale over `range` (positive), ticked at 1, 2 and 5 times the powers of ten.
    fn log(range: Range<f64>) -> Self {
        Self {
            ticks: one_two_five(range.clone()),
            scale: range.log_scale().into(),
        }
    }
}

impl<R: Ranged<ValueType = f64>> Ranged for Ticks<R> {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.scale.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> Range<f64> {
        self.scale.range()
    }
}

/// 1, 2 and 5 times the powers of ten within `range` (positive): 10, 20, 50, 100, 200 ….
fn one_two_five(range: Range<f64>) -> Vec<f64> {
    let first = range.start.log10().floor() as i32;
    let last = range.end.log10().ceil() as i32;
    (first..=last)
        .flat_map(|power| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(power)))
        .filter(|tick| range.contains(tick))
        .collect()
}

/// Colours of the series of a grouped bar chart, in order.
const SERIES_COLORS: [RGBColor; 3] = [
    RGBColor(0x1f, 0x4e, 0x79),
    RGBColor(0x8e, 0xc0, 0xe4),
    RGBColor(0xc0, 0x50, 0x4d),
];

/// Draws `bars` as an SVG document.
pub fn bar_chart(bars: &Bars, provenance: &Provenance) -> Result<String> {
    let servers = bars.servers.len();
    let groups = bars.series.len().max(1);
    let spreads = || bars.series.iter().flat_map(|(_, v)| v.iter().flatten());
    let top = spreads().map(|s| s.max).fold(0.0, f64::max);
    let bottom = spreads().map(|s| s.min).fold(0.0, f64::min);
    // Room above the highest whisker for its label (and below the lowest, if negative).
    let (top, bottom) = (nonzero(top) * 1.15, bottom * 1.15);
    page(&bars.title, &bars.note, provenance, |area| {
        let positions: Vec<f64> = (0..servers).map(|i| i as f64).collect();
        let x = Ticks::linear(-0.5..servers as f64 - 0.5, positions);
        let mut chart = ChartBuilder::on(area)
            .caption(&bars.title, (FONT, 22))
            .margin(14)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d(x, bottom..top)
            .map_err(draw_error)?;
        let name = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                bars.servers.get(i as usize).copied().unwrap_or_default()
            } else {
                ""
            }
            .to_owned()
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(LIGHT_LINE)
            .x_label_formatter(&name)
            .x_label_style((FONT, 16))
            .y_desc(bars.unit)
            .y_label_formatter(&|v| (bars.format)(*v))
            .label_style((FONT, 14))
            .draw()
            .map_err(draw_error)?;

        // The bars of one group fill 80 % of its width, side by side.
        let width = 0.8 / groups as f64;
        for (k, (series, values)) in bars.series.iter().enumerate() {
            let left = |i: usize| i as f64 - 0.4 + k as f64 * width;
            let color = |i: usize| {
                if bars.series.len() == 1 {
                    server_color(bars.servers[i])
                } else {
                    SERIES_COLORS[k % SERIES_COLORS.len()]
                }
            };
            let measured = || {
                values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| Some((i, (*s)?)))
            };
            let drawn = chart
                .draw_series(measured().map(|(i, s)| {
                    let mut bar = Rectangle::new(
                        [(left(i), 0.0), (left(i) + width, s.median)],
                        color(i).filled(),
                    );
                    bar.set_margin(0, 0, 3, 3);
                    bar
                }))
                .map_err(draw_error)?;
            if bars.series.len() > 1 {
                let swatch = SERIES_COLORS[k % SERIES_COLORS.len()];
                drawn.label(series.as_str()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], swatch.filled())
                });
            }
            // Whiskers: the lowest to the highest round.
            chart
                .draw_series(measured().map(|(i, s)| {
                    let mid = left(i) + width / 2.0;
                    PathElement::new(vec![(mid, s.min), (mid, s.max)], BLACK.stroke_width(2))
                }))
                .map_err(draw_error)?;
            let label = TextStyle::from((FONT, 15).into_font())
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            chart
                .draw_series(measured().map(|(i, s)| {
                    let mid = left(i) + width / 2.0;
                    EmptyElement::at((mid, s.max.max(s.median)))
                        + Text::new((bars.format)(s.median), (0, -5), label.clone())
                }))
                .map_err(draw_error)?;
        }
        if bars.series.len() > 1 {
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    })
}

/// A latency distribution chart: one curve per server.
pub struct Percentiles<'a> {
    /// The chart's title: the load and the unit.
    pub title: String,
    /// Each server's distribution, in the order of the legend.
    pub curves: Vec<(&'a str, Vec<Point>)>,
    /// How the curves were aggregated, for the footer.
    pub note: String,
}

/// Draws `percentiles` as an SVG document: latency (µs, on a log scale) against percentile
/// on the nines axis, labelled 0 %, 90 %, 99 %, 99.9 % ….
pub fn percentile_chart(percentiles: &Percentiles, provenance: &Provenance) -> Result<String> {
    let points = || percentiles.curves.iter().flat_map(|(_, c)| c.iter());
    let last_nine = points()
        .map(|p| latency::nines(p.percentile))
        .fold(1.0, f64::max);
    // The grid's percentiles are rounded, so 99.9 % may sit a hair past 3 nines.
    let last_nine = (last_nine - 1e-6).ceil();
    // A log scale of latency: the body (tens of µs) and the tail (up to milliseconds on a
    // busy machine) both readable.
    let top = nonzero(points().map(|p| p.us).fold(0.0, f64::max)) * 1.25;
    let bottom = points()
        .map(|p| p.us)
        .filter(|&us| us > 0.0)
        .fold(top, f64::min)
        * 0.8;
    page(&percentiles.title, &percentiles.note, provenance, |area| {
        let whole_nines: Vec<f64> = (0..=last_nine as u32).map(f64::from).collect();
        let x = Ticks::linear(0.0..last_nine, whole_nines);
        let mut chart = ChartBuilder::on(area)
            .caption(&percentiles.title, (FONT, 22))
            .margin(14)
            .margin_right(36)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(x, Ticks::log(bottom..top))
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| latency::nines_label(x.round().max(0.0) as u32))
            .x_desc("percentile of round trips (log scale of 1 / (1 − p))")
            .y_desc("round-trip latency (µs, log scale)")
            .y_label_formatter(&|v| si(*v))
            .light_line_style(LIGHT_LINE)
            .label_style((FONT, 14))
            .draw()
            .map_err(draw_error)?;
        for (server, curve) in &percentiles.curves {
            let color = server_color(server);
            chart
                .draw_series(LineSeries::new(
                    curve.iter().map(|p| (latency::nines(p.percentile), p.us)),
                    color.stroke_width(3),
                ))
                .map_err(draw_error)?
                .label(*server)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// One chart as an SVG document: a white page whose upper part `draw` fills, the footer
/// below it, and the `<desc>`.
fn page(
    title: &str,
    note: &str,
    provenance: &Provenance,
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let (area, footer) = root.split_vertically(SIZE.1 - FOOTER);
        draw(&area)?;
        draw_footer(&footer, note, provenance)?;
        root.present().map_err(draw_error)?;
    }
    Ok(with_description(svg, &description(title, note, provenance)))
}

/// Draws the legend of `chart`'s labelled series at `position`.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font((FONT, 15))
        .draw()
        .map_err(draw_error)
}

/// A range's upper end that is not zero, so that a chart of nothing still has an axis.
fn nonzero(top: f64) -> f64 {
    if top > 0.0 { top } else { 1.0 }
}

/// Draws the footer: `note` on what the chart shows, then the commit and the command.
fn draw_footer<DB: DrawingBackend>(
    footer: &DrawingArea<DB, Shift>,
    note: &str,
    provenance: &Provenance,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let style = TextStyle::from((FONT, 13).into_font())
        .color(&RGBColor(0x55, 0x55, 0x55))
        .pos(Pos::new(HPos::Left, VPos::Center));
    let line = FOOTER as i32 / 2;
    for (i, text) in [note.to_owned(), provenance.footer()].iter().enumerate() {
        footer
            .draw(&Text::new(
                text.as_str(),
                (14, line / 2 + i as i32 * line),
                style.clone(),
            ))
            .map_err(draw_error)?;
    }
    Ok(())
}

fn draw_error<E: std::error::Error + Send + Sync>(error: DrawingAreaErrorKind<E>) -> anyhow::Error {
    anyhow!("drawing a chart: {error}")
}

/// The text of a chart's `<desc>`.
fn description(title: &str, note: &str, provenance: &Provenance) -> String {
    format!(
        "{title}. {note}. Commit {}. Command: {}",
        provenance.commit, provenance.command
    )
}

/// `svg` with a `<desc>` holding `text` as the root element's first child.
fn with_description(svg: String, text: &str) -> String {
    let desc = format!("<desc>{}</desc>\n", escape_xml(text));
    match svg
        .find("<svg")
        .and_then(|at| svg[at..].find('>').map(|end| at + end + 1))
    {
        Some(after) => format!("{}\n{desc}{}", &svg[..after], svg[after..].trim_start()),
        None => svg,
    }
}

/// `text` safe inside an XML element.
fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A number in three significant figures with an SI suffix: `16.1 M`, `213 k`, `891`, `2.5`.
pub fn si(value: f64) -> String {
    let (scaled, suffix) = match value.abs() {
        v if v >= 1e6 => (value / 1e6, " M"),
        v if v >= 1e3 => (value / 1e3, " k"),
        _ => (value, ""),
    };
    let decimals = match scaled.abs() {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        _ => 2,
    };
    let text = format!("{scaled:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provenance() -> Provenance {
        Provenance {
            commit: "abc1234".to_owned(),
            command: "bench/compare.sh --plot 'a<b&c'".to_owned(),
        }
    }

    #[test]
    fn si_keeps_three_figures() {
        let cases = [
            (16_123_456.0, "16.1 M"),
            (213_400.0, "213 k"),
            (2_500_000.0, "2.5 M"),
            (1551.0, "1.55 k"),
            (891.0, "891"),
            (0.0, "0"),
            (12.0, "12"),
            (-2500.0, "-2.5 k"),
        ];
        for (value, text) in cases {
            assert_eq!(si(value), text, "{value}");
        }
    }

    #[test]
    fn log_ticks_step_one_two_five() {
        assert_eq!(
            one_two_five(7.0..1300.0),
            [10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]
        );
        assert_eq!(one_two_five(0.3..0.6), [0.5]);
        assert!(one_two_five(21.0..49.0).is_empty());
    }

    #[test]
    fn description_goes_first_and_escaped() {
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"2\" height=\"2\">\n<rect/>\n</svg>";
        let out = with_description(svg.to_owned(), "a < b & c");
        assert_eq!(
            out,
            "<?xml version=\"1.0\"?>\n<svg width=\"2\" height=\"2\">\n\
             <desc>a &lt; b &amp; c</desc>\n<rect/>\n</svg>"
        );
    }

    /// Whether `svg` draws `text` as a text element of its own.
    fn has_text(svg: &str, text: &str) -> bool {
        svg.contains(&format!(">\n{text}\n</text>"))
    }

    fn spread(median: f64) -> Option<Spread> {
        Some(Spread {
            median,
            min: median * 0.9,
            max: median * 1.1,
        })
    }

    #[test]
    fn bar_chart_names_servers_values_and_provenance() {
        let servers = ["chatecho", "tokio-lines", "seed"];
        let bars = Bars {
            title: "pipelined: lines/s".to_owned(),
            unit: "lines per second",
            servers: &servers,
            series: vec![(
                "lines/s".to_owned(),
                vec![spread(16_100_000.0), spread(11_100_000.0), None],
            )],
            format: si,
            note: "median of 3 rounds".to_owned(),
        };
        let svg = bar_chart(&bars, &provenance()).unwrap();
        for text in ["chatecho", "tokio-lines", "seed", "16.1 M", "11.1 M"] {
            assert!(has_text(&svg, text), "{text} missing");
        }
        assert!(svg.contains("<desc>pipelined: lines/s. median of 3 rounds. Commit abc1234."));
        assert!(svg.contains("a&lt;b&amp;c"));
        // The footer, visible in the picture, names the commit and the command.
        assert!(svg.contains("commit abc1234 · bench/compare.sh --plot"));
        // The two measured bars, in their servers' colours; nothing for the seed.
        assert!(svg.contains("#1F6FB4") && svg.contains("#E07B10"), "{svg}");
        assert!(!svg.contains("#2CA02C"));
    }

    #[test]
    fn percentile_chart_labels_nines() {
        let curve = |scale: f64| {
            (0..=60)
                .map(|step| {
                    let percentile = latency::percentile_at(f64::from(step) / 20.0);
                    Point {
                        percentile,
                        us: scale * (1.0 + f64::from(step)),
                    }
                })
                .collect::<Vec<_>>()
        };
        let percentiles = Percentiles {
            title: "lockstep: latency (µs)".to_owned(),
            curves: vec![("chatecho", curve(1.0)), ("tokio-lines", curve(2.0))],
            note: "median over rounds at each percentile".to_owned(),
        };
        let svg = percentile_chart(&percentiles, &provenance()).unwrap();
        for label in ["0%", "90%", "99%", "99.9%", "chatecho", "tokio-lines"] {
            assert!(has_text(&svg, label), "{label} missing");
        }
        // Three nines of data: no axis beyond 99.9 %.
        assert!(!has_text(&svg, "99.99%"));
        assert!(svg.contains("<polyline"));
    }
}
