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
    /// The plotting library could not draw the chart.
    #[error("cannot draw the plot: {0}")]
    Render(String),
    /// The SVG file could not be written.
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
/// Points that cannot be drawn on the logarithmic axis (0 events per frame) or were not
/// measured (no finite rate) are left out.
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
            if point.events_per_frame == 0 || !xy.1.is_finite() {
                continue;
            }
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
    let svg = render_svg(report)?;
    std::fs::write(path, svg).map_err(|error| PlotError::Draw {
        path: path.display().to_string(),
        message: error.to_string(),
    })
}

/// Draws the report's lines as an SVG document.
///
/// Points at 0 events per frame (or an unmeasured time) have no place on the logarithmic
/// axes and are left out; a report with no other point is [`PlotError::Empty`]. Every point
/// also gets a marker, so a line of one point (a sweep of one frame size) shows.
pub fn render_svg(report: &Report) -> Result<String, PlotError> {
    let lines = series(report);
    if lines.is_empty() {
        return Err(PlotError::Empty);
    }
    let mut svg = String::new();
    draw(
        &lines,
        &report.sweep,
        SVGBackend::with_string(&mut svg, (900, 560)),
    )
    .map_err(PlotError::Render)?;
    Ok(svg)
}

fn draw(lines: &[Series], sweep: &str, backend: SVGBackend<'_>) -> Result<(), String> {
    let (x_min, x_max, y_max) = bounds(lines);
    let root = backend.into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{sweep}: million events per second"),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x_min..x_max).log_scale(), 0.0..y_max * 1.1)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("events per frame")
        .y_desc("M events/s")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()
        .map_err(|e| e.to_string())?;
    for (index, line) in lines.iter().enumerate() {
        let style = line_colour(index).to_rgba().stroke_width(2);
        let marker = Marker::of_line(index);
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), style))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(line.points.iter().map(|&point| marker.at(point, style)))
            .map_err(|e| e.to_string())?
            .label(line.label.clone())
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new([(0, 0), (18, 0)], style)
                    + marker.at((9, 0), style)
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// The marker of a line's points: circles for the first ten lines, then triangles, then
/// crosses, so lines that share a colour (more than ten) still differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    Circle,
    Triangle,
    Cross,
}

impl Marker {
    fn of_line(index: usize) -> Self {
        match index / LINE_COLOURS.len() % 3 {
            0 => Marker::Circle,
            1 => Marker::Triangle,
            _ => Marker::Cross,
        }
    }

    fn at<C, DB: DrawingBackend>(self, point: C, style: ShapeStyle) -> DynElement<'static, DB, C>
    where
        C: Clone + 'static,
    {
        match self {
            Marker::Circle => Circle::new(point, 4, style.filled()).into_dyn(),
            Marker::Triangle => TriangleMarker::new(point, 5, style.filled()).into_dyn(),
            Marker::Cross => Cross::new(point, 4, style).into_dyn(),
        }
    }
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
    fn every_point_has_a_marker_so_that_a_line_of_one_point_shows() {
        // Every line of the sample report has one point: a polyline of one point draws nothing.
        let svg = render_svg(&sample_report()).unwrap();
        let lines = series(&sample_report()).len();
        // One marker per point and one in each legend entry.
        assert_eq!(svg.matches("<circle").count(), 2 * lines, "{svg}");
    }

    #[test]
    fn a_point_of_zero_events_is_left_out_and_the_rest_is_drawn() {
        let mut report = sample_report();
        let mut empty_frame = report.points[0].clone();
        empty_frame.events_per_frame = 0;
        report.points.push(empty_frame);
        assert!(
            series(&report)
                .iter()
                .all(|line| line.points.iter().all(|&(x, _)| x > 0.0))
        );
        // Drawn on another thread: a logarithmic axis down to 0 never finishes its ticks.
        let (done, drawn) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(render_svg(&report).map(|svg| svg.len()));
        });
        let drawn = drawn
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the plot is drawn in time");
        assert!(drawn.unwrap() > 0);

        let mut only_empty = sample_report();
        only_empty.points.truncate(1);
        only_empty.points[0].events_per_frame = 0;
        assert!(matches!(render_svg(&only_empty), Err(PlotError::Empty)));
    }

    #[test]
    fn lines_that_share_a_colour_differ_by_marker() {
        let looks: Vec<(RGBColor, Marker)> = (0..30)
            .map(|index| (line_colour(index), Marker::of_line(index)))
            .collect();
        for (i, look) in looks.iter().enumerate() {
            assert!(
                !looks[..i].contains(look),
                "line {i} looks like an earlier one"
            );
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
