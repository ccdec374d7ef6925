//! SVG figures: a grouped bar chart (one group per kind) and line charts (scaling curves,
//! history), with confidence-interval whiskers. Values are nanoseconds, shown in human units:
//! a linear time axis in one unit named in its label (`time per operation (ms)`), a log axis
//! with the unit on every tick (`100 ns`, `1 µs`, ...).
//!
//! Drawn with `plotters` (already in the tree: criterion draws its own plots with it), not by
//! hand as until the y axes read `2e6, 2e6, 2e6, 1e6` in raw nanoseconds above an empty band.
//! Rendered side by side on the same results, plotters reads better (round ticks, the minor
//! grid of a log axis, the plot area fitted to its labels), and it is less code than the
//! hand-made SVG would be with the fixes: this file is about as long as that one was without
//! them, as it carried its own scales, tick placement and layout. What plotters lacks, a
//! `<title>` for screen readers and downward category names that start at their tick, is
//! added here.

use std::fmt::Display;
use std::ops::Range;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Error, Result};

/// One bar series (for example "unshare") with one value per category (kind).
#[derive(Debug, Clone)]
pub struct BarSeries {
    /// Legend label.
    pub label: String,
    /// Per category: (median, lower, upper) in ns, or `None` when not measured.
    pub values: Vec<Option<(f64, f64, f64)>>,
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct LineSeries {
    /// Legend label.
    pub label: String,
    /// Points: (x, median, lower, upper), the last three in ns.
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// How the x axis of a line chart is laid out.
#[derive(Debug, Clone)]
pub enum XAxis {
    /// Numeric values; logarithmic when `log` is true.
    Numeric {
        /// Use a log10 scale.
        log: bool,
    },
    /// Categories at x = 0, 1, 2, ... with these tick labels.
    Categories(Vec<String>),
}

/// Figure width, and height of the plot area (the figure grows by what the x labels need).
const W: u32 = 860;
const PLOT_H: u32 = 400;
/// Room on the right for the legend.
const LEGEND_W: u32 = 160;
const FONT: &str = "sans-serif";

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn draw_err(e: impl Display) -> Error {
    Error(format!("cannot draw a figure: {e}"))
}

/// The unit in which to show `ns`: (nanoseconds per unit, name).
fn unit_of(ns: f64) -> (f64, &'static str) {
    match ns.abs() {
        a if a >= 1e9 => (1e9, "s"),
        a if a >= 1e6 => (1e6, "ms"),
        a if a >= 1e3 => (1e3, "µs"),
        _ => (1.0, "ns"),
    }
}

/// `v` with the decimals it needs (at most six): the round tick values plotters picks stay
/// distinct, and `2.50` reads `2.5`.
fn number(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0" } else { s }.to_string()
}

/// The time (y) axis: log10 between whole decades, or linear from zero in one unit.
struct TimeAxis {
    log: bool,
    range: Range<f64>,
    unit: (f64, &'static str),
}

impl TimeAxis {
    fn new(values: impl Iterator<Item = f64>, log: bool) -> TimeAxis {
        let vals: Vec<f64> = values.filter(|v| v.is_finite() && (!log || *v > 0.0)).collect();
        let max = vals.iter().copied().fold(f64::MIN, f64::max);
        let min = vals.iter().copied().fold(f64::MAX, f64::min);
        let range = if vals.is_empty() {
            if log {
                1.0..10.0
            } else {
                0.0..1.0
            }
        } else if log {
            let lo = 10f64.powf(min.log10().floor());
            lo..(10f64.powf(max.log10().ceil())).max(lo * 10.0)
        } else {
            let lo = min.min(0.0);
            lo..(max * 1.05).max(lo + 1e-9)
        };
        let unit = unit_of(range.end);
        TimeAxis { log, range, unit }
    }

    fn label(&self, what: &str) -> String {
        if self.log {
            format!("{what} (log scale)")
        } else {
            format!("{what} ({})", self.unit.1)
        }
    }

    fn tick(&self, ns: f64) -> String {
        if self.log {
            let (per, name) = unit_of(ns);
            format!("{} {name}", number(ns / per))
        } else {
            number(ns / self.unit.0)
        }
    }
}

/// Renders a figure `extra_h` pixels taller than the plot area; `<title>` is added after the
/// opening `<svg>` tag.
fn render(title: &str, extra_h: u32, draw: impl FnOnce(&Area<'_>) -> Result<()>) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, PLOT_H + extra_h)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    let at = out.find("<svg").and_then(|i| out[i..].find('>').map(|j| i + j + 1));
    if let Some(at) = at {
        out.insert_str(at, &format!("\n<title>{}</title>", escape(title)));
    }
    Ok(out)
}

/// The legend in the right margin: a colour box and a label per series.
fn legend(root: &Area<'_>, labels: &[String]) -> Result<()> {
    let x = (W - LEGEND_W + 15) as i32;
    for (i, l) in labels.iter().enumerate() {
        let y = 50 + 22 * i as i32;
        root.draw(&Rectangle::new([(x, y), (x + 12, y + 12)], color(i).filled()))
            .map_err(draw_err)?;
        let style = TextStyle::from((FONT, 14)).pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new(l.clone(), (x + 18, y + 6), style))
            .map_err(draw_err)?;
    }
    Ok(())
}

/// The colour of series `i` (matplotlib's category10, as before).
fn color(i: usize) -> RGBColor {
    const RGB: [u32; 8] = [
        0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f,
    ];
    let c = RGB[i % RGB.len()];
    RGBColor((c >> 16) as u8, (c >> 8) as u8, c as u8)
}

/// Escapes text for XML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A grouped bar chart on a log time axis: one group per category, one bar per series, with
/// CI whiskers. `y_label` names the quantity; the axis adds its scale.
pub fn bar_chart(
    title: &str,
    categories: &[String],
    series: &[BarSeries],
    x_label: &str,
    y_label: &str,
) -> Result<String> {
    let values = series
        .iter()
        .flat_map(|se| se.values.iter().flatten().flat_map(|(m, l, u)| [*m, *l, *u]));
    let y = TimeAxis::new(values, true);
    render(title, 80, |root| {
        let n = categories.len().max(1);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(10)
            .margin_right(LEGEND_W)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..n as f64, y.range.clone().log_scale())
            .map_err(draw_err)?;
        // Ticks every half category: the group boundaries unlabelled, the names at the centres.
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * n + 1)
            .x_label_formatter(&|x| {
                let i = x - 0.5;
                let name = (i.fract() == 0.0 && i >= 0.0).then(|| categories.get(i as usize));
                name.flatten().cloned().unwrap_or_default()
            })
            .y_label_formatter(&|v| y.tick(*v))
            .x_desc(x_label)
            .y_desc(y.label(y_label))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(draw_err)?;
        let w = 0.8 / series.len().max(1) as f64;
        for (si, se) in series.iter().enumerate() {
            let c = color(si);
            let bars: Vec<(f64, (f64, f64, f64))> = (se.values.iter().enumerate())
                .filter_map(|(ci, v)| v.map(|v| (ci as f64 + 0.1 + w * si as f64, v)))
                .collect();
            let bottom = y.range.start;
            let rects = bars
                .iter()
                .map(|(x, (m, ..))| Rectangle::new([(*x, bottom), (x + w * 0.9, *m)], c.filled()));
            chart.draw_series(rects).map_err(draw_err)?;
            let whiskers = bars
                .iter()
                .map(|(x, (m, l, u))| ErrorBar::new_vertical(x + w * 0.45, *l, *m, *u, BLACK, 6));
            chart.draw_series(whiskers).map_err(draw_err)?;
        }
        legend(root, &series.iter().map(|s| s.label.clone()).collect::<Vec<_>>())
    })
}

/// A line chart: one line per series, with CI whiskers at each point; the time axis is
/// logarithmic when the figures span more than two orders of magnitude. `y_label` names the
/// quantity; the axis adds its unit or scale.
pub fn line_chart(title: &str, x_axis: &XAxis, series: &[LineSeries], x_label: &str, y_label: &str) -> Result<String> {
    let ys = || {
        series
            .iter()
            .flat_map(|se| se.points.iter().flat_map(|p| [p.1, p.2, p.3]))
    };
    let (mn, mx) = (ys().filter(|v| *v > 0.0)).fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let y = TimeAxis::new(ys(), mx > 0.0 && ys().all(|v| v > 0.0) && mx / mn > 100.0);
    let xs = series.iter().flat_map(|se| se.points.iter().map(|p| p.0));
    let (lo, hi) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 1.0) };
    let names = match x_axis {
        XAxis::Categories(c) => &c[..],
        XAxis::Numeric { .. } => &[],
    };
    // Category names are written downwards: the figure grows by the longest one. Numeric
    // ticks: at most one per unit, so that counts are labelled by whole numbers.
    let label_h = names.iter().map(|n| n.chars().count() as u32 * 6).max().unwrap_or(15);
    let x_log = matches!(x_axis, XAxis::Numeric { log: true }) && lo > 0.0;
    let x_labels = match x_axis {
        XAxis::Categories(c) => c.len().clamp(2, 40),
        _ if x_log => (hi / lo).log10().ceil() as usize + 1,
        XAxis::Numeric { .. } => ((hi - lo).floor() as usize + 1).clamp(2, 10),
    };
    let plot = Plot {
        title,
        series,
        x_label,
        y_label,
        y: &y,
        label_h,
        names,
        x_labels,
    };
    let pad = ((hi - lo) * 0.05).max(0.5);
    render(title, label_h + 80, |root| match x_axis {
        XAxis::Categories(c) => plot.with_y(root, -0.5..c.len().max(1) as f64 - 0.5),
        _ if x_log => plot.with_y(root, (lo / 1.3..hi * 1.3).log_scale()),
        XAxis::Numeric { .. } => plot.with_y(root, lo - pad..hi + pad),
    })
}

/// What a line chart draws, whatever its coordinates.
struct Plot<'a> {
    title: &'a str,
    series: &'a [LineSeries],
    x_label: &'a str,
    y_label: &'a str,
    y: &'a TimeAxis,
    label_h: u32,
    /// Category names, one per x = 0, 1, 2, ... (empty on a numeric axis).
    names: &'a [String],
    x_labels: usize,
}

impl Plot<'_> {
    /// Draws on `x` and the time axis, log or linear (two coordinate types in plotters).
    fn with_y<X>(&self, root: &Area<'_>, x: impl AsRangedCoord<CoordDescType = X, Value = f64>) -> Result<()>
    where
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let range = self.y.range.clone();
        if self.y.log {
            self.draw(root, x, range.log_scale())
        } else {
            self.draw(root, x, range)
        }
    }

    fn draw<X, Y>(
        &self,
        root: &Area<'_>,
        x: impl AsRangedCoord<CoordDescType = X, Value = f64>,
        y: impl AsRangedCoord<CoordDescType = Y, Value = f64>,
    ) -> Result<()>
    where
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (FONT, 18))
            .margin(10)
            .margin_right(LEGEND_W)
            .x_label_area_size(self.label_h + 30)
            .y_label_area_size(80)
            .build_cartesian_2d(x, y)
            .map_err(draw_err)?;
        let categories = !self.names.is_empty();
        let mut mesh = chart.configure_mesh();
        mesh.x_labels(self.x_labels)
            // No minor grid between categories: there is nothing in between.
            .x_max_light_lines(if categories { 0 } else { 4 })
            .y_max_light_lines(4)
            // Category names are drawn below, downwards from their ticks.
            .x_label_formatter(&|v| if categories { String::new() } else { number(*v) })
            .y_label_formatter(&|v| self.y.tick(*v))
            .x_desc(self.x_label)
            .y_desc(self.y.label(self.y_label))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(draw_err)?;
        // plotters centres a rotated tick label on its tick, across the plot: these start
        // below it. Every `step`-th when they would not fit side by side.
        let style = TextStyle::from((FONT, 12))
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Left, VPos::Center));
        let bottom = chart.y_range().start;
        for (i, name) in self
            .names
            .iter()
            .enumerate()
            .step_by(self.names.len().div_ceil(36).max(1))
        {
            let (x, y) = chart.backend_coord(&(i as f64, bottom));
            root.draw(&Text::new(name.clone(), (x, y + 8), style.clone()))
                .map_err(draw_err)?;
        }
        for (si, se) in self.series.iter().enumerate() {
            let c = color(si);
            let line = plotters::series::LineSeries::new(se.points.iter().map(|p| (p.0, p.1)), c.stroke_width(2));
            chart.draw_series(line).map_err(draw_err)?;
            let whiskers = (se.points.iter()).map(|p| ErrorBar::new_vertical(p.0, p.2, p.1, p.3, c.filled(), 6));
            chart.draw_series(whiskers).map_err(draw_err)?;
        }
        legend(root, &self.series.iter().map(|s| s.label.clone()).collect::<Vec<_>>())
    }
}
