//! Small SVG charts drawn by ecotrace itself for the HTML reports: stacked areas (power over time),
//! grouped and stacked bars (by phase, by week), lines, and a scatter with a marked front.
//!
//! Every chart is a self-contained `<svg>` element with a `viewBox` (it scales to its container),
//! a `<title>`, axes with ticks and unit-bearing labels, and colours given as attributes (so a
//! screenshot or a printout shows them). Text is escaped here. This module must not decide what is
//! plotted or read records: callers pass plain numbers and labels. No scripts, no external
//! resources.

use std::fmt::Write as _;

use crate::html::esc;
use crate::text::num;

/// Chart size in SVG user units; the element scales to the width of its container.
pub(crate) const WIDTH: f64 = 520.0;
pub(crate) const HEIGHT: f64 = 280.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 46.0;
/// Most category labels written under an axis (every k-th one beyond), so that labels like
/// `2024-W18` never overlap.
const MAX_LABELS: usize = 7;

/// Colours (Okabe-Ito, readable by the colour-blind), by what they show.
pub(crate) mod colour {
    pub const CPU: &str = "#0072B2";
    pub const GPU: &str = "#E69F00";
    pub const RAM: &str = "#009E73";
    pub const OPERATIONAL: &str = "#D55E00";
    pub const EMBODIED: &str = "#CC79A7";
    pub const POINT: &str = "#56B4E9";
    pub const FRONT: &str = "#000000";
    pub const AXIS: &str = "#555555";
    pub const GRID: &str = "#dddddd";
}

/// One named series of values, drawn in `colour`.
pub(crate) struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    /// One value per x (or per category); `None` leaves a gap.
    pub values: Vec<Option<f64>>,
}

/// Round tick values covering `[lo, hi]`, about `target` of them, and the step between them.
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() && hi > lo {
        (lo, hi)
    } else if lo.is_finite() && lo != 0.0 {
        (lo.min(0.0), lo.max(0.0) + lo.abs() * 0.1)
    } else {
        (0.0, 1.0)
    };
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor() * step;
    let mut ticks = Vec::new();
    let mut v = first;
    while v <= hi + step * 1e-9 {
        ticks.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    if ticks.last().is_some_and(|t| *t < hi - step * 1e-9) {
        ticks.push(v);
    }
    (ticks, step)
}

/// A tick value written with just enough decimals for its step: `0.25`, `1200`, `3e-7`.
pub(crate) fn tick_label(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if step.abs() < 1e-4 || v.abs() >= 1e7 {
        return format!("{v:.1e}");
    }
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let decimals = if (step * 10f64.powi(decimals as i32)).fract().abs() > 1e-9 {
        decimals + 1
    } else {
        decimals
    };
    format!("{v:.decimals$}")
}

/// The plotting area and the data ranges it maps.
pub(crate) struct Plot {
    pub x0: f64,
    pub x1: f64,
    pub y0: f64,
    pub y1: f64,
}

impl Plot {
    pub fn x(&self, v: f64) -> f64 {
        let span = if self.x1 > self.x0 {
            self.x1 - self.x0
        } else {
            1.0
        };
        LEFT + (v - self.x0) / span * (WIDTH - LEFT - RIGHT)
    }
    pub fn y(&self, v: f64) -> f64 {
        let span = if self.y1 > self.y0 {
            self.y1 - self.y0
        } else {
            1.0
        };
        HEIGHT - BOTTOM - (v - self.y0) / span * (HEIGHT - TOP - BOTTOM)
    }
    fn inner_width(&self) -> f64 {
        WIDTH - LEFT - RIGHT
    }
}

fn open(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif\" \
         font-size=\"12\"><title>{}</title>",
        esc(title)
    );
}

/// Horizontal grid, y ticks and labels, the x axis line, and both axis titles.
fn y_axis(out: &mut String, p: &Plot, ticks: &[f64], step: f64, y_label: &str) {
    out.push_str(&format!(
        "<g stroke=\"{}\" stroke-width=\"1\">",
        colour::GRID
    ));
    for t in ticks {
        let y = p.y(*t);
        let _ = write!(
            out,
            "<line x1=\"{LEFT:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>",
            WIDTH - RIGHT
        );
    }
    out.push_str("</g>");
    let _ = write!(out, "<g fill=\"{}\" text-anchor=\"end\">", colour::AXIS);
    for t in ticks {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            LEFT - 6.0,
            p.y(*t) + 4.0,
            tick_label(*t, step)
        );
    }
    out.push_str("</g>");
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\"/>",
        WIDTH - RIGHT,
        HEIGHT - BOTTOM,
        HEIGHT - BOTTOM,
        colour::AXIS
    );
    let _ = write!(
        out,
        "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
        TOP + (HEIGHT - TOP - BOTTOM) / 2.0,
        colour::AXIS,
        esc(y_label)
    );
}

fn x_title(out: &mut String, x_label: &str) {
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        HEIGHT - 6.0,
        colour::AXIS,
        esc(x_label)
    );
}

fn x_ticks(out: &mut String, p: &Plot, ticks: &[(f64, String)]) {
    let _ = write!(out, "<g fill=\"{}\" text-anchor=\"middle\">", colour::AXIS);
    for (v, label) in ticks {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            p.x(*v),
            HEIGHT - BOTTOM + 16.0,
            esc(label)
        );
    }
    out.push_str("</g>");
}

fn max_of(values: impl Iterator<Item = f64>) -> f64 {
    values.filter(|v| v.is_finite()).fold(0.0, f64::max)
}

/// Areas stacked bottom to top in the order of `series` over the x values `xs` (e.g. seconds),
/// for power by component over time. `x_ticks` are (x value, label) pairs.
pub(crate) fn stacked_area(
    title: &str,
    xs: &[f64],
    series: &[Series],
    x_ticks_at: &[(f64, String)],
    x_label: &str,
    y_label: &str,
) -> String {
    let n = xs.len();
    let mut cum = vec![0.0; n];
    let mut layers: Vec<Vec<(f64, f64)>> = Vec::new();
    for s in series {
        let lower = cum.clone();
        for (i, c) in cum.iter_mut().enumerate() {
            *c += s.values.get(i).copied().flatten().unwrap_or(0.0).max(0.0);
        }
        layers.push(lower.into_iter().zip(cum.iter().copied()).collect());
    }
    let top = max_of(cum.iter().copied());
    let (ticks, step) = nice_ticks(0.0, if top > 0.0 { top } else { 1.0 }, 5);
    let p = Plot {
        x0: xs.first().copied().unwrap_or(0.0).min(0.0),
        x1: xs.last().copied().unwrap_or(1.0),
        y0: 0.0,
        y1: *ticks.last().unwrap_or(&1.0),
    };
    let mut out = String::new();
    open(&mut out, title);
    y_axis(&mut out, &p, &ticks, step, y_label);
    for (s, layer) in series.iter().zip(&layers) {
        if layer.iter().all(|(lo, hi)| hi - lo <= 0.0) {
            continue;
        }
        let mut d = String::with_capacity(n * 24);
        // Each sample covers the interval since the previous one: draw it as a step.
        let mut prev_x = p.x0;
        for (i, &x) in xs.iter().enumerate() {
            let hi = layer[i].1;
            let _ = write!(
                d,
                "{}{:.1} {:.1}L{:.1} {:.1}",
                if i == 0 { "M" } else { "L" },
                p.x(prev_x),
                p.y(hi),
                p.x(x),
                p.y(hi)
            );
            prev_x = x;
        }
        let mut next_x = xs.last().copied().unwrap_or(0.0);
        for i in (0..n).rev() {
            let lo = layer[i].0;
            let start = if i == 0 { p.x0 } else { xs[i - 1] };
            let _ = write!(
                d,
                "L{:.1} {:.1}L{:.1} {:.1}",
                p.x(next_x),
                p.y(lo),
                p.x(start),
                p.y(lo)
            );
            next_x = start;
        }
        d.push('Z');
        let _ = write!(
            out,
            "<path d=\"{d}\" fill=\"{}\" stroke=\"none\"><title>{}</title></path>",
            s.colour,
            esc(s.name)
        );
    }
    x_ticks(&mut out, &p, x_ticks_at);
    x_title(&mut out, x_label);
    out.push_str("</svg>");
    out
}

/// Bars per category: `stacked` puts the series on top of each other, otherwise side by side.
/// Category labels are written under the axis (at most [`MAX_LABELS`] of them, evenly spaced).
pub(crate) fn bars(
    title: &str,
    categories: &[String],
    series: &[Series],
    stacked: bool,
    x_label: &str,
    y_label: &str,
) -> String {
    let n = categories.len().max(1);
    let top = if stacked {
        max_of((0..n).map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().flatten().unwrap_or(0.0).max(0.0))
                .sum::<f64>()
        }))
    } else {
        max_of(
            series
                .iter()
                .flat_map(|s| s.values.iter().flatten().copied()),
        )
    };
    let (ticks, step) = nice_ticks(0.0, if top > 0.0 { top } else { 1.0 }, 5);
    let p = Plot {
        x0: 0.0,
        x1: n as f64,
        y0: 0.0,
        y1: *ticks.last().unwrap_or(&1.0),
    };
    let mut out = String::new();
    open(&mut out, title);
    y_axis(&mut out, &p, &ticks, step, y_label);
    let slot = p.inner_width() / n as f64;
    let group = slot * 0.8;
    let k = if stacked { 1 } else { series.len().max(1) };
    let bar_w = group / k as f64;
    for (si, s) in series.iter().enumerate() {
        let _ = write!(out, "<g fill=\"{}\">", s.colour);
        for (i, category) in categories.iter().enumerate() {
            let Some(v) = s.values.get(i).copied().flatten() else {
                continue;
            };
            if !(v.is_finite() && v > 0.0) {
                continue;
            }
            let base: f64 = if stacked {
                series[..si]
                    .iter()
                    .map(|o| o.values.get(i).copied().flatten().unwrap_or(0.0).max(0.0))
                    .sum()
            } else {
                0.0
            };
            let x = p.x(i as f64)
                + (slot - group) / 2.0
                + if stacked { 0.0 } else { si as f64 * bar_w };
            let (y_top, y_bottom) = (p.y(base + v), p.y(base));
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y_top:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}: {} {}</title></rect>",
                bar_w.max(0.5),
                (y_bottom - y_top).max(0.5),
                esc(category),
                esc(s.name),
                num(v)
            );
        }
        out.push_str("</g>");
    }
    let every = categories.len().div_ceil(MAX_LABELS).max(1);
    let labels: Vec<(f64, String)> = categories
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, c)| (i as f64 + 0.5, c.clone()))
        .collect();
    x_ticks(&mut out, &p, &labels);
    x_title(&mut out, x_label);
    out.push_str("</svg>");
    out
}

/// Lines over categories (one point per category, gaps where a value is `None`), with a dot at
/// each point.
pub(crate) fn lines(
    title: &str,
    categories: &[String],
    series: &[Series],
    x_label: &str,
    y_label: &str,
) -> String {
    let n = categories.len().max(1);
    let top = max_of(
        series
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied()),
    );
    let (ticks, step) = nice_ticks(0.0, if top > 0.0 { top } else { 1.0 }, 5);
    let p = Plot {
        x0: 0.0,
        x1: n as f64,
        y0: 0.0,
        y1: *ticks.last().unwrap_or(&1.0),
    };
    let mut out = String::new();
    open(&mut out, title);
    y_axis(&mut out, &p, &ticks, step, y_label);
    for s in series {
        let mut d = String::new();
        let mut pen_down = false;
        let mut dots = String::new();
        for (i, v) in s.values.iter().enumerate() {
            match v {
                Some(v) if v.is_finite() => {
                    let (x, y) = (p.x(i as f64 + 0.5), p.y(*v));
                    let _ = write!(d, "{}{x:.1} {y:.1}", if pen_down { "L" } else { "M" });
                    pen_down = true;
                    let _ = write!(
                        dots,
                        "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\"><title>{}: {} {}</title></circle>",
                        esc(&categories[i]),
                        esc(s.name),
                        num(*v)
                    );
                }
                _ => pen_down = false,
            }
        }
        if !d.is_empty() {
            let _ = write!(
                out,
                "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/><g fill=\"{}\">{dots}</g>",
                s.colour, s.colour
            );
        }
    }
    let every = categories.len().div_ceil(MAX_LABELS).max(1);
    let labels: Vec<(f64, String)> = categories
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, c)| (i as f64 + 0.5, c.clone()))
        .collect();
    x_ticks(&mut out, &p, &labels);
    x_title(&mut out, x_label);
    out.push_str("</svg>");
    out
}

/// A point of [`scatter`]: x, y, whether it is on the front, and its tooltip.
pub(crate) struct Dot {
    pub x: f64,
    pub y: f64,
    pub front: bool,
    pub tip: String,
}

/// A scatter of `dots`; the front points are drawn larger, in black, joined by a step line in the
/// order given (callers pass them sorted by x). Front points carry their tip as a tooltip; the
/// others only with `tip_all` (a page of thousands of runs stays small without).
pub(crate) fn scatter(
    title: &str,
    dots: &[Dot],
    x_label: &str,
    y_label: &str,
    tip_all: bool,
) -> String {
    let xmax = max_of(dots.iter().map(|d| d.x));
    let (ymin, ymax) = dots
        .iter()
        .filter(|d| d.y.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), d| {
            (a.min(d.y), b.max(d.y))
        });
    let (ymin, ymax) = if ymin.is_finite() {
        let pad = ((ymax - ymin) * 0.05).max(ymax.abs() * 1e-3).max(1e-12);
        (ymin - pad, ymax + pad)
    } else {
        (0.0, 1.0)
    };
    let (xt, xstep) = nice_ticks(0.0, if xmax > 0.0 { xmax } else { 1.0 }, 5);
    let (yt, ystep) = nice_ticks(ymin, ymax, 5);
    let p = Plot {
        x0: 0.0,
        x1: *xt.last().unwrap_or(&1.0),
        y0: *yt.first().unwrap_or(&0.0),
        y1: *yt.last().unwrap_or(&1.0),
    };
    let mut out = String::new();
    open(&mut out, title);
    y_axis(&mut out, &p, &yt, ystep, y_label);
    let _ = write!(
        out,
        "<g fill=\"{}\" stroke=\"#ffffff\" stroke-width=\"0.6\">",
        colour::POINT
    );
    for d in dots.iter().filter(|d| !d.front) {
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"",
            p.x(d.x),
            p.y(d.y)
        );
        if tip_all {
            let _ = write!(out, "><title>{}</title></circle>", esc(&d.tip));
        } else {
            out.push_str("/>");
        }
    }
    out.push_str("</g>");
    let front: Vec<&Dot> = dots.iter().filter(|d| d.front).collect();
    if !front.is_empty() {
        let mut path = String::new();
        for (i, d) in front.iter().enumerate() {
            let (x, y) = (p.x(d.x), p.y(d.y));
            if i == 0 {
                let _ = write!(path, "M{x:.1} {y:.1}");
            } else {
                let _ = write!(path, "H{x:.1}V{y:.1}");
            }
        }
        let _ = write!(
            out,
            "<path d=\"{path}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>",
            colour::FRONT
        );
        let _ = write!(out, "<g fill=\"{}\">", colour::FRONT);
        for d in &front {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4.5\"><title>{}</title></circle>",
                p.x(d.x),
                p.y(d.y),
                esc(&d.tip)
            );
        }
        out.push_str("</g>");
    }
    let xl: Vec<(f64, String)> = xt.iter().map(|v| (*v, tick_label(*v, xstep))).collect();
    x_ticks(&mut out, &p, &xl);
    x_title(&mut out, x_label);
    out.push_str("</svg>");
    out
}

/// Ticks for a time axis in seconds, labelled in s, min or h to suit the span; the unit for the
/// axis title comes back too.
pub(crate) fn time_ticks(span_s: f64) -> (Vec<(f64, String)>, &'static str) {
    let (scale, unit) = if span_s >= 3.0 * 3600.0 {
        (3600.0, "h")
    } else if span_s >= 180.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    };
    let (t, step) = nice_ticks(0.0, (span_s / scale).max(1e-9), 6);
    let ticks = t
        .into_iter()
        .filter(|v| *v * scale <= span_s * (1.0 + 1e-9))
        .map(|v| (v * scale, tick_label(v, step)))
        .collect();
    (ticks, unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (t, s) = nice_ticks(0.0, 0.87, 5);
        assert_eq!(s, 0.2);
        assert_eq!(t.first(), Some(&0.0));
        assert!(*t.last().unwrap() >= 0.87);
        let labels: Vec<String> = t.iter().map(|v| tick_label(*v, s)).collect();
        assert_eq!(labels, ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let (t, s) = nice_ticks(0.0, 1234.0, 5);
        assert_eq!(s, 250.0);
        assert_eq!(tick_label(t[1], s), "250");
        assert_eq!(tick_label(0.25, 0.25), "0.25");
        // Degenerate ranges still give an axis.
        assert!(!nice_ticks(0.0, 0.0, 5).0.is_empty());
        assert!(!nice_ticks(f64::NAN, f64::NAN, 5).0.is_empty());
        assert!(!nice_ticks(0.9, 0.9, 5).0.is_empty());
    }

    #[test]
    fn time_axis_units() {
        assert_eq!(time_ticks(90.0).1, "s");
        assert_eq!(time_ticks(3723.0).1, "min");
        assert_eq!(time_ticks(36_000.0).1, "h");
        let (t, _) = time_ticks(3723.0);
        assert!(t.iter().all(|(v, _)| *v <= 3723.0));
    }
}
