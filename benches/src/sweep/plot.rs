//! The SVG plot of a sweep: million events per second against events per frame (log scale),
//! one line per contender and event size. SVG only: no font or system library is needed.

use std::path::Path;

use plotters::prelude::*;

use super::{report::Report, stats::Throughput};

/// Failure to draw the plot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// Nothing to draw: the report has no point.
    #[error("the report has no point to plot")]
    Empty,
    /// The SVG backend failed (usually: the file could not be written).
    #[error("{path}: {message}")]
    Draw {
        /// The file.
        path: String,
        /// The backend's description of the failure.
        message: String,
    },
}

/// One line of the plot: (events per frame, million events per second) in frame-size order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend: the contender, and the event size when the sweep has several.
    pub label: String,
    /// The points of the line.
    pub points: Vec<(f64, f64)>,
}

/// The lines of a report: one per contender and event size, at the median frame time.
pub fn series(report: &Report) -> Vec<Series> {
    let several_sizes = report
        .points
        .iter()
        .any(|point| point.event_bytes != report.points[0].event_bytes);
    let mut lines: Vec<Series> = Vec::new();
    for point in &report.points {
        for samples in &point.samples {
            let mut label = samples.name.clone();
            if several_sizes {
                label = format!("{label} {} B", point.event_bytes);
            }
            if let Some(producers) = point.producers {
                label = format!("{label} ×{producers}");
            }
            let figures = Throughput::of(point.events_per_frame, &samples.ns_per_frame);
            let xy = (point.events_per_frame as f64, figures.million_events_per_s);
            match lines.iter_mut().find(|line| line.label == label) {
                Some(line) => line.points.push(xy),
                None => lines.push(Series {
                    label,
                    points: vec![xy],
                }),
            }
        }
    }
    for line in &mut lines {
        line.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    lines
}

/// Draws the report's lines into an SVG file.
pub fn write_svg(report: &Report, path: &Path) -> Result<(), PlotError> {
    let lines = series(report);
    if lines.is_empty() {
        return Err(PlotError::Empty);
    }
    let (x_min, x_max, y_max) = bounds(&lines);
    let draw_error = |error: &dyn std::fmt::Display| PlotError::Draw {
        path: path.display().to_string(),
        message: error.to_string(),
    };
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw_error(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{}: million events per second", report.sweep),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x_min..x_max).log_scale(), 0.0..y_max * 1.1)
        .map_err(|e| draw_error(&e))?;
    chart
        .configure_mesh()
        .x_desc("events per frame")
        .y_desc("M events/s")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()
        .map_err(|e| draw_error(&e))?;
    for (index, line) in lines.iter().enumerate() {
        let color = line_colour(index).to_rgba();
        chart
            .draw_series(LineSeries::new(
                line.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| draw_error(&e))?
            .label(line.label.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| draw_error(&e))?;
    root.present().map_err(|e| draw_error(&e))
}

/// Line colours, in the order of the lines: plotters' `Palette99` without its light
/// colours (yellow, cyan, lime, pink...), which are hard to see on white; a sweep of both
/// event sizes has ten lines.
const LINE_COLOURS: [RGBColor; 10] = [
    RGBColor(230, 25, 75),
    RGBColor(60, 180, 75),
    RGBColor(0, 130, 200),
    RGBColor(245, 130, 48),
    RGBColor(145, 30, 180),
    RGBColor(240, 50, 230),
    RGBColor(0, 128, 128),
    RGBColor(170, 110, 40),
    RGBColor(128, 0, 0),
    RGBColor(0, 0, 128),
];

/// The colour of line `index` (the colours repeat after ten lines).
fn line_colour(index: usize) -> RGBColor {
    LINE_COLOURS[index % LINE_COLOURS.len()]
}

/// The x range (widened a little around the sizes) and the highest y.
fn bounds(lines: &[Series]) -> (f64, f64, f64) {
    let all = || lines.iter().flat_map(|line| line.points.iter());
    let x_min = all().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_max = all().map(|p| p.0).fold(0.0, f64::max);
    let y_max = all()
        .map(|p| p.1)
        .filter(|y| y.is_finite())
        .fold(1.0, f64::max);
    (x_min / 1.5, (x_max * 1.5).max(x_min * 2.0), y_max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::report::tests::sample_report;

    #[test]
    fn lines_follow_contenders_and_sizes() {
        let lines = series(&sample_report());
        let labels: Vec<&str> = lines.iter().map(|line| line.label.as_str()).collect();
        assert_eq!(
            labels,
            ["tickbus 16 B", "bevy 16 B", "raw 16 B", "tickbus 64 B"]
        );
        assert_eq!(lines[0].points, [(1000.0, 500.0)]);
    }

    #[test]
    fn the_svg_is_written_with_every_line() {
        let path = std::env::temp_dir().join(format!("tickbus-bench-{}.svg", std::process::id()));
        write_svg(&sample_report(), &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
        assert!(svg.contains("tickbus 64 B") && svg.contains("raw 16 B"));
        assert!(svg.matches("<polyline").count() >= 4, "one line per series");
    }

    #[test]
    fn ten_lines_get_ten_colours_that_show_on_white() {
        let colours: Vec<RGBColor> = (0..10).map(line_colour).collect();
        for (i, colour) in colours.iter().enumerate() {
            assert!(!colours[..i].contains(colour), "line {i} repeats a colour");
            // Rec. 601 luma: white is 255; yellow (255, 225, 25) is about 211.
            let RGBColor(r, g, b) = *colour;
            let luma = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
            assert!(luma < 170.0, "line {i}: {colour:?} is too light for white");
        }
    }

    #[test]
    fn an_empty_report_is_an_error_not_an_empty_file() {
        let mut report = sample_report();
        report.points.clear();
        let path = std::env::temp_dir().join("tickbus-bench-never-written.svg");
        assert!(matches!(write_svg(&report, &path), Err(PlotError::Empty)));
        assert!(!path.exists());
    }
}
