//! The SVG plot of a sweep: million events per second against events per frame (log scale),
//! one line per contender and event size. SVG only: no font or system library is needed.

use plotters::prelude::*;

use super::{report::Report, stats::Throughput};

/// Failure to draw the plot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// Nothing to draw: the report has no point that can be drawn (every point, if any, is at
    /// 0 events per frame or has no measured rate).
    #[error("the report has no point to plot")]
    Empty,
    /// The plotting library could not draw the chart.
    #[error("cannot draw the plot: {0}")]
    Render(String),
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
        let outline = Marker::of_line(index).outline();
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), style))
            .map_err(|e| e.to_string())?;
        let marker = |point| EmptyElement::at(point) + PathElement::new(outline.clone(), style);
        let legend_marker: Vec<(i32, i32)> = outline.iter().map(|&(x, y)| (x + 9, y)).collect();
        chart
            .draw_series(line.points.iter().map(|&point| marker(point)))
            .map_err(|e| e.to_string())?
            .label(line.label.clone())
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new([(0, 0), (18, 0)], style)
                    + PathElement::new(legend_marker.clone(), style)
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

/// The marker of a line's points, drawn as an outline around the point: octagons (near
/// circles) for the first ten lines (one per colour), then triangles, squares, diamonds,
/// crosses and plus signs, so that lines sharing a colour (more than ten: `--roofline` draws
/// 32) still differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    Octagon,
    Triangle,
    Square,
    Diamond,
    Cross,
    Plus,
}

impl Marker {
    const ALL: [Marker; 6] = [
        Marker::Octagon,
        Marker::Triangle,
        Marker::Square,
        Marker::Diamond,
        Marker::Cross,
        Marker::Plus,
    ];

    fn of_line(index: usize) -> Self {
        Self::ALL[index / LINE_COLOURS.len() % Self::ALL.len()]
    }

    /// The outline, in pixels around the point (one path: a cross and a plus pass through
    /// the centre).
    fn outline(self) -> Vec<(i32, i32)> {
        match self {
            Marker::Octagon => vec![
                (-2, -5),
                (2, -5),
                (5, -2),
                (5, 2),
                (2, 5),
                (-2, 5),
                (-5, 2),
                (-5, -2),
                (-2, -5),
            ],
            Marker::Triangle => vec![(0, -5), (5, 4), (-5, 4), (0, -5)],
            Marker::Square => vec![(-4, -4), (4, -4), (4, 4), (-4, 4), (-4, -4)],
            Marker::Diamond => vec![(0, -5), (5, 0), (0, 5), (-5, 0), (0, -5)],
            Marker::Cross => vec![(-4, -4), (4, 4), (0, 0), (-4, 4), (4, -4)],
            Marker::Plus => vec![(-5, 0), (5, 0), (0, 0), (0, -5), (0, 5)],
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
    fn the_svg_has_every_line() {
        let svg = render_svg(&sample_report()).unwrap();
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
        for index in 0..lines {
            let RGBColor(r, g, b) = line_colour(index);
            let stroke = format!("stroke=\"#{r:02X}{g:02X}{b:02X}\"");
            let drawn = svg
                .lines()
                .filter(|element| element.contains("<polyline") && element.contains(&stroke))
                .count();
            // The line, a marker at its point, and the legend's line and marker.
            assert_eq!(drawn, 4, "line {index} ({stroke}): {svg}");
        }
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
        let looks: Vec<(RGBColor, Marker)> = (0..LINE_COLOURS.len() * Marker::ALL.len())
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
    fn an_empty_report_is_an_error() {
        let mut report = sample_report();
        report.points.clear();
        assert!(matches!(render_svg(&report), Err(PlotError::Empty)));
    }
}
