//! A small SVG line chart: panels side by side, the x axis in powers of ten, each series a line
//! with its points marked and labelled. Written by hand (no plotting crate) because the charts are
//! few and simple, and the file stays readable and diffable.

use std::fmt::Write;

/// One line of a panel.
pub struct Series {
    pub name: String,
    /// An SVG colour.
    pub color: &'static str,
    /// (x, y) points; x must be positive (the x axis is logarithmic).
    pub points: Vec<(f64, f64)>,
    /// The label written beside each point, from its y.
    pub label: fn(f64) -> String,
}

/// One chart.
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// A logarithmic y axis (the values must be positive) instead of a linear one from zero.
    pub log_y: bool,
    pub series: Vec<Series>,
}

const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 70.0;
const BOTTOM: f64 = 56.0;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// 1000 → "1k", 1000000 → "1M": the counts of the x axis.
pub fn count_label(value: f64) -> String {
    let (scaled, suffix) = if value >= 1e6 {
        (value / 1e6, "M")
    } else if value >= 1e3 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    if (scaled - scaled.round()).abs() < 1e-9 {
        format!("{}{suffix}", scaled.round())
    } else {
        format!("{scaled:.1}{suffix}")
    }
}

fn number_label(value: f64) -> String {
    if value >= 100.0 || value == 0.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.1}").trim_end_matches(".0").to_string()
    } else {
        format!("{value}")
    }
}

/// The powers of ten spanning `low..=high` (both positive).
fn decades(low: f64, high: f64) -> Vec<f64> {
    let first = low.log10().floor() as i32;
    let last = high.log10().ceil().max(first as f64 + 1.0) as i32;
    (first..=last).map(|power| 10f64.powi(power)).collect()
}

/// Ticks from zero past `high` at a round step (1, 2 or 5 times a power of ten).
fn linear_ticks(high: f64) -> Vec<f64> {
    let high = if high > 0.0 { high } else { 1.0 };
    let rough = high / 5.0;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * power)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * power);
    let count = (high / step).ceil() as usize;
    (0..=count).map(|index| index as f64 * step).collect()
}

/// The chart as an SVG document.
pub fn svg(title: &str, note: &str, panels: &[Panel]) -> String {
    let width = WIDTH * panels.len().max(1) as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{HEIGHT}\" viewBox=\"0 0 {width} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(
        out,
        "<rect width=\"{width}\" height=\"{HEIGHT}\" fill=\"white\"/>\n<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{}</text>\n<text x=\"{}\" y=\"38\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
        width / 2.0,
        escape(title),
        width / 2.0,
        escape(note)
    );
    for (index, panel) in panels.iter().enumerate() {
        draw_panel(&mut out, panel, index as f64 * WIDTH);
    }
    out.push_str("</svg>\n");
    out
}

fn draw_panel(out: &mut String, panel: &Panel, offset: f64) {
    let points = || panel.series.iter().flat_map(|series| series.points.iter());
    let (x_low, x_high) = points().fold((f64::MAX, f64::MIN), |(low, high), (x, _)| {
        (low.min(*x), high.max(*x))
    });
    let y_high = points().fold(f64::MIN, |high, (_, y)| high.max(*y));
    let y_low = points().fold(f64::MAX, |low, (_, y)| low.min(*y));
    if x_low > x_high {
        return; // no points
    }
    let x_ticks = decades(x_low, x_high);
    let y_ticks = if panel.log_y {
        decades(y_low.max(1e-9), y_high.max(1e-9))
    } else {
        linear_ticks(y_high)
    };
    let (x_first, x_last) = (x_ticks[0].log10(), x_ticks[x_ticks.len() - 1].log10());
    let (y_first, y_last) = (y_ticks[0], y_ticks[y_ticks.len() - 1]);
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let x_at = |x: f64| offset + LEFT + (x.log10() - x_first) / (x_last - x_first) * plot_width;
    let y_at = |y: f64| {
        let fraction = if panel.log_y {
            (y.max(1e-9).log10() - y_first.log10()) / (y_last.log10() - y_first.log10())
        } else {
            (y - y_first) / (y_last - y_first)
        };
        TOP + plot_height * (1.0 - fraction)
    };
    let _ = writeln!(
        out,
        "<g><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        offset + LEFT + plot_width / 2.0,
        TOP - 12.0,
        escape(&panel.title)
    );
    for tick in &x_ticks {
        let x = x_at(*tick);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + plot_height,
            TOP + plot_height + 16.0,
            count_label(*tick)
        );
    }
    for tick in &y_ticks {
        let y = y_at(*tick);
        let _ = writeln!(
            out,
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            offset + LEFT,
            offset + LEFT + plot_width,
            offset + LEFT - 6.0,
            y + 4.0,
            number_label(*tick)
        );
    }
    let _ = writeln!(
        out,
        "<rect x=\"{:.1}\" y=\"{TOP}\" width=\"{plot_width:.1}\" height=\"{plot_height:.1}\" fill=\"none\" stroke=\"#333\"/>",
        offset + LEFT
    );
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        offset + LEFT + plot_width / 2.0,
        HEIGHT - 14.0,
        escape(&panel.x_label)
    );
    let _ = writeln!(
        out,
        "<text transform=\"translate({:.1} {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        offset + 16.0,
        TOP + plot_height / 2.0,
        escape(&panel.y_label)
    );
    for (number, series) in panel.series.iter().enumerate() {
        let path: Vec<String> = series
            .points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", x_at(*x), y_at(*y)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
            path.join(" "),
            series.color
        );
        for (x, y) in &series.points {
            let (px, py) = (x_at(*x), y_at(*y));
            // At each x, the highest point is labelled above, the others below; labels lean
            // inwards at the edges so they meet neither the axis labels nor the frame.
            let highest = panel
                .series
                .iter()
                .flat_map(|other| other.points.iter())
                .filter(|(other_x, _)| other_x == x)
                .all(|(_, other_y)| other_y <= y);
            let label_y = if highest { py - 8.0 } else { py + 16.0 };
            let (label_x, anchor) = if px > offset + WIDTH - RIGHT - 40.0 {
                (px - 6.0, "end")
            } else if px < offset + LEFT + 40.0 {
                (px + 6.0, "start")
            } else {
                (px, "middle")
            };
            let _ = writeln!(
                out,
                "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3.5\" fill=\"{}\"/><text x=\"{label_x:.1}\" y=\"{label_y:.1}\" text-anchor=\"{anchor}\" font-size=\"10\" fill=\"{}\">{}</text>",
                series.color,
                series.color,
                escape(&(series.label)(*y))
            );
        }
        let legend_y = TOP + 16.0 + number as f64 * 16.0;
        let _ = writeln!(
            out,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            offset + LEFT + 10.0,
            legend_y - 4.0,
            offset + LEFT + 30.0,
            legend_y - 4.0,
            series.color,
            offset + LEFT + 36.0,
            legend_y,
            escape(&series.name)
        );
    }
    out.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_counts_and_ticks() {
        assert_eq!(count_label(1_000.0), "1k");
        assert_eq!(count_label(100_000.0), "100k");
        assert_eq!(count_label(1_000_000.0), "1M");
        assert_eq!(count_label(2_500.0), "2.5k");
        assert_eq!(decades(1_000.0, 100_000.0), vec![1e3, 1e4, 1e5]);
        assert_eq!(decades(2.0, 2.0), vec![1.0, 10.0]);
        assert_eq!(
            linear_ticks(430.0),
            vec![0.0, 100.0, 200.0, 300.0, 400.0, 500.0]
        );
    }

    #[test]
    fn draws_every_series_and_escapes_text() {
        let panel = Panel {
            title: "time <s>".into(),
            x_label: "items".into(),
            y_label: "seconds".into(),
            log_y: true,
            series: vec![
                Series {
                    name: "a & b".into(),
                    color: "#1f77b4",
                    points: vec![(1e3, 1.5), (1e4, 12.0)],
                    label: |y| format!("{y:.1} s"),
                },
                Series {
                    name: "c".into(),
                    color: "#d62728",
                    points: vec![(1e3, 3.0)],
                    label: |y| format!("{y:.1} s"),
                },
            ],
        };
        let svg = svg("t", "n", &[panel]);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("a &amp; b") && svg.contains("time &lt;s&gt;"));
        assert!(!svg.contains("NaN"));
    }
}
