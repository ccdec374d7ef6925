//! SVG figures drawn by hand: a grouped bar chart (one group per kind) and line charts (scaling
//! curves, history). Every figure has a `<title>`, two axes, and axis labels that name the unit.

use std::fmt::Write as _;

/// One bar series (for example "unshare") with one value per category (kind).
#[derive(Debug, Clone)]
pub struct BarSeries {
    /// Legend label.
    pub label: String,
    /// Per category: (median, lower, upper) in the chart's unit, or `None` when not measured.
    pub values: Vec<Option<(f64, f64, f64)>>,
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct LineSeries {
    /// Legend label.
    pub label: String,
    /// Points: (x, median, lower, upper).
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

const W: f64 = 860.0;
const H: f64 = 540.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 140.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

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

/// The frame of a figure; `x_label_low` puts the x label below rotated tick labels.
fn header(title: &str, x_label: &str, y_label: &str, x_label_low: bool) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<title>{t}</title>
<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>
<text x="{cx}" y="24" text-anchor="middle" font-size="16">{t}</text>
<text class="x-label" x="{cx}" y="{xl}" text-anchor="middle">{x}</text>
<text class="y-label" x="20" y="{cy}" text-anchor="middle" transform="rotate(-90 20 {cy})">{y}</text>
"#,
        t = escape(title),
        cx = LEFT + (W - LEFT - RIGHT) / 2.0,
        xl = if x_label_low { H - 12.0 } else { H - BOTTOM + 45.0 },
        cy = TOP + (H - TOP - BOTTOM) / 2.0,
        x = escape(x_label),
        y = escape(y_label),
    );
    let _ = writeln!(
        s,
        r#"<line class="x-axis" x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}" stroke="black"/>
<line class="y-axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}" stroke="black"/>"#,
        b = H - BOTTOM,
        r = W - RIGHT,
    );
    s
}

/// A value axis (y): linear from 0 or log10, mapping values to pixels.
struct YScale {
    log: bool,
    lo: f64,
    hi: f64,
}

impl YScale {
    fn new(values: impl Iterator<Item = f64>, log: bool) -> YScale {
        let vals: Vec<f64> = values.filter(|v| v.is_finite() && (!log || *v > 0.0)).collect();
        let max = vals.iter().cloned().fold(f64::MIN, f64::max);
        let min = vals.iter().cloned().fold(f64::MAX, f64::min);
        if vals.is_empty() {
            return YScale {
                log,
                lo: if log { 1.0 } else { 0.0 },
                hi: if log { 10.0 } else { 1.0 },
            };
        }
        if log {
            let lo = 10f64.powf(min.log10().floor());
            let mut hi = 10f64.powf(max.log10().ceil());
            if hi <= lo {
                hi = lo * 10.0;
            }
            YScale { log, lo, hi }
        } else {
            let lo = min.min(0.0);
            let hi = nice_ceil(max.max(lo + 1e-9));
            YScale { log, lo, hi }
        }
    }

    fn px(&self, v: f64) -> f64 {
        let b = H - BOTTOM;
        let span = b - TOP;
        let f = if self.log {
            let v = v.max(self.lo);
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        b - f.clamp(0.0, 1.0) * span
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let mut t = Vec::new();
            let mut v = self.lo;
            while v <= self.hi * 1.0001 {
                t.push(v);
                v *= 10.0;
            }
            t
        } else {
            let step = (self.hi - self.lo) / 5.0;
            (0..=5).map(|i| self.lo + step * i as f64).collect()
        }
    }

    fn draw(&self, s: &mut String) {
        for t in self.ticks() {
            let y = self.px(t);
            let _ = writeln!(
                s,
                r##"<line x1="{a}" y1="{y:.1}" x2="{LEFT}" y2="{y:.1}" stroke="black"/><line x1="{LEFT}" y1="{y:.1}" x2="{r}" y2="{y:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{l}</text>"##,
                a = LEFT - 5.0,
                r = W - RIGHT,
                tx = LEFT - 8.0,
                ty = y + 4.0,
                l = escape(&fmt_tick(t)),
            );
        }
    }
}

fn nice_ceil(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1e6 || v.abs() < 0.01 {
        format!("{v:.0e}")
    } else if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn legend(s: &mut String, labels: &[String]) {
    for (i, l) in labels.iter().enumerate() {
        let y = TOP + 10.0 + i as f64 * 20.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{ry}" width="12" height="12" fill="{c}"/><text x="{tx}" y="{ty}">{l}</text>"#,
            x = W - RIGHT + 15.0,
            ry = y - 10.0,
            c = COLORS[i % COLORS.len()],
            tx = W - RIGHT + 32.0,
            ty = y,
            l = escape(l),
        );
    }
}

/// A grouped bar chart: one group per category, one bar per series, with CI whiskers.
pub fn bar_chart(
    title: &str,
    categories: &[String],
    series: &[BarSeries],
    x_label: &str,
    y_label: &str,
    log: bool,
) -> String {
    let mut s = header(title, x_label, y_label, false);
    let ys = YScale::new(
        series
            .iter()
            .flat_map(|se| se.values.iter().flatten().flat_map(|(m, l, u)| [*m, *l, *u])),
        log,
    );
    ys.draw(&mut s);
    let plot_w = W - LEFT - RIGHT;
    let group_w = plot_w / categories.len().max(1) as f64;
    let bar_w = (group_w * 0.8) / series.len().max(1) as f64;
    let base = H - BOTTOM;
    for (ci, cat) in categories.iter().enumerate() {
        let gx = LEFT + group_w * ci as f64;
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{y}" text-anchor="middle">{c}</text>"#,
            x = gx + group_w / 2.0,
            y = base + 18.0,
            c = escape(cat),
        );
        for (si, se) in series.iter().enumerate() {
            let Some(Some((m, l, u))) = se.values.get(ci) else {
                continue;
            };
            let x = gx + group_w * 0.1 + bar_w * si as f64;
            let y = ys.px(*m);
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{c}"><title>{t}: {m:.0} ns [{l:.0}, {u:.0}]</title></rect>"#,
                w = bar_w * 0.9,
                h = (base - y).max(0.0),
                c = COLORS[si % COLORS.len()],
                t = escape(&format!("{}/{}", se.label, cat)),
            );
            let cx = x + bar_w * 0.45;
            let _ = writeln!(
                s,
                r#"<line x1="{cx:.1}" y1="{a:.1}" x2="{cx:.1}" y2="{b:.1}" stroke="black"/>"#,
                a = ys.px(*l),
                b = ys.px(*u),
            );
        }
    }
    legend(&mut s, &series.iter().map(|x| x.label.clone()).collect::<Vec<_>>());
    s.push_str("</svg>\n");
    s
}

/// A line chart: one polyline per series, with CI whiskers at each point.
pub fn line_chart(title: &str, x_axis: &XAxis, series: &[LineSeries], x_label: &str, y_label: &str) -> String {
    let ys_vals = || {
        series
            .iter()
            .flat_map(|se| se.points.iter().flat_map(|p| [p.1, p.2, p.3]))
    };
    let (mn, mx) = ys_vals()
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    // A log axis when the figures span more than two orders of magnitude.
    let log = mx > 0.0 && ys_vals().all(|v| v > 0.0) && mx / mn > 100.0;
    let y_label = if log {
        format!("{y_label}, log scale")
    } else {
        y_label.to_string()
    };
    let mut s = header(title, x_label, &y_label, matches!(x_axis, XAxis::Categories(_)));
    let ys = YScale::new(ys_vals(), log);
    ys.draw(&mut s);
    let xs: Vec<f64> = series.iter().flat_map(|se| se.points.iter().map(|p| p.0)).collect();
    let (xlog, xmin, xmax) = match x_axis {
        XAxis::Numeric { log } => {
            let f = |v: f64| if *log { v.max(1e-12).log10() } else { v };
            let mn = xs.iter().cloned().map(f).fold(f64::MAX, f64::min);
            let mx = xs.iter().cloned().map(f).fold(f64::MIN, f64::max);
            (*log, mn, mx)
        }
        XAxis::Categories(c) => (false, -0.5, c.len() as f64 - 0.5),
    };
    let (xmin, xmax) = if !(xmin.is_finite() && xmax.is_finite()) || xmax <= xmin {
        (xmin.min(0.0) - 0.5, xmin.max(0.0) + 0.5)
    } else {
        (xmin, xmax)
    };
    let plot_w = W - LEFT - RIGHT;
    let xpx = |v: f64| {
        let v = if xlog { v.max(1e-12).log10() } else { v };
        LEFT + 20.0 + (v - xmin) / (xmax - xmin) * (plot_w - 40.0)
    };
    let base = H - BOTTOM;
    match x_axis {
        XAxis::Categories(c) => {
            for (i, l) in c.iter().enumerate() {
                let x = xpx(i as f64);
                let _ = writeln!(
                    s,
                    r#"<line x1="{x:.1}" y1="{base}" x2="{x:.1}" y2="{b2}" stroke="black"/><text x="{x:.1}" y="{ty}" text-anchor="end" transform="rotate(-30 {x:.1} {ty})">{l}</text>"#,
                    b2 = base + 5.0,
                    ty = base + 18.0,
                    l = escape(l),
                );
            }
        }
        XAxis::Numeric { .. } => {
            let mut ticks: Vec<f64> = xs.clone();
            ticks.sort_by(|a, b| a.total_cmp(b));
            ticks.dedup();
            for t in ticks {
                let x = xpx(t);
                let _ = writeln!(
                    s,
                    r#"<line x1="{x:.1}" y1="{base}" x2="{x:.1}" y2="{b2}" stroke="black"/><text x="{x:.1}" y="{ty}" text-anchor="middle">{l}</text>"#,
                    b2 = base + 5.0,
                    ty = base + 18.0,
                    l = escape(&fmt_tick(t)),
                );
            }
        }
    }
    for (si, se) in series.iter().enumerate() {
        let c = COLORS[si % COLORS.len()];
        let pts: Vec<String> = se
            .points
            .iter()
            .map(|p| format!("{:.1},{:.1}", xpx(p.0), ys.px(p.1)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
            pts.join(" "),
            escape(&se.label)
        );
        for p in &se.points {
            let x = xpx(p.0);
            let _ = writeln!(
                s,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{c}"/><line x1="{x:.1}" y1="{a:.1}" x2="{x:.1}" y2="{b:.1}" stroke="{c}"/>"#,
                y = ys.px(p.1),
                a = ys.px(p.2),
                b = ys.px(p.3),
            );
        }
    }
    legend(&mut s, &series.iter().map(|x| x.label.clone()).collect::<Vec<_>>());
    s.push_str("</svg>\n");
    s
}
