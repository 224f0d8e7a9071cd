//! What a sweep found: every sample of every contender at every point, the table printed
//! from it and the JSON file that keeps it.

use std::{fmt::Write as _, path::Path};

use serde::{Deserialize, Serialize};

use super::{
    measure::{ExecutorShare, Samples, Sampling},
    stats::{Summary, Throughput, round_ratios},
};

/// One point of a sweep and every sample taken there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Events per frame.
    pub events_per_frame: usize,
    /// Size of one event in bytes.
    pub event_bytes: usize,
    /// Writer systems (throughput sweep; 0 for ingestion).
    pub writers: usize,
    /// Reader systems.
    pub readers: usize,
    /// Producer threads (ingestion sweep only).
    pub producers: Option<usize>,
    /// Every contender's samples.
    pub samples: Vec<Samples>,
}

impl Point {
    /// The samples of the contender named `name`.
    pub fn contender(&self, name: &str) -> Option<&Samples> {
        self.samples.iter().find(|samples| samples.name == name)
    }

    /// The ratio `spec` over the rounds of this point (`None` if a contender is missing).
    pub fn ratio(&self, spec: &RatioSpec) -> Option<Summary> {
        let numerator = self.fastest_of(&spec.numerator)?;
        let denominator = self.fastest_of(&spec.denominator)?;
        Some(round_ratios(&numerator, &denominator))
    }

    /// Round by round, the fastest frame time of the contenders named in `names`
    /// (`|`-separated; one name: that contender's times).
    fn fastest_of(&self, names: &str) -> Option<Vec<f64>> {
        let mut fastest: Option<Vec<f64>> = None;
        for name in names.split('|') {
            let times = &self.contender(name)?.ns_per_frame;
            fastest = Some(match fastest {
                None => times.clone(),
                Some(so_far) => so_far.iter().zip(times).map(|(a, b)| a.min(*b)).collect(),
            });
        }
        fastest
    }
}

/// A ratio of the table: the numerator contender's frame time over the denominator's, taken
/// round by round. A side may name several contenders separated by `|`: the fastest of them
/// in each round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatioSpec {
    /// The column header.
    pub label: String,
    /// The contender whose time is divided.
    pub numerator: String,
    /// The contender whose time divides.
    pub denominator: String,
}

impl RatioSpec {
    /// `numerator`'s time over `denominator`'s, headed `label`.
    pub fn new(label: &str, numerator: &str, denominator: &str) -> Self {
        Self {
            label: label.to_owned(),
            numerator: numerator.to_owned(),
            denominator: denominator.to_owned(),
        }
    }
}

/// A whole sweep: what was asked and every sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `"throughput"`, `"roofline"` or `"ingest"`.
    pub sweep: String,
    /// The command line that produced it.
    pub command: String,
    /// Seconds since the Unix epoch when the sweep finished.
    pub unix_time: u64,
    /// How tickbus ran (executor, threads).
    pub tickbus: String,
    /// Rounds and sample length.
    pub sampling: Sampling,
    /// The ratios the table shows.
    pub ratios: Vec<RatioSpec>,
    /// Every point, in the order measured.
    pub points: Vec<Point>,
}

/// Failure to write or read a report file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportFileError {
    /// The file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a report.
    #[error("{path}: line {line}, column {column}: {source}")]
    Json {
        /// The file.
        path: String,
        /// Where.
        line: usize,
        /// Where.
        column: usize,
        /// Why.
        source: serde_json::Error,
    },
}

impl Report {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        // Plain data with string keys (non-finite numbers become `null`): nothing can fail.
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }

    /// Writes the report as pretty JSON.
    pub fn write_json(&self, path: &Path) -> Result<(), ReportFileError> {
        std::fs::write(path, self.to_json()).map_err(|source| ReportFileError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads a report written by [`write_json`](Self::write_json).
    pub fn read_json(path: &Path) -> Result<Self, ReportFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReportFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ReportFileError::Json {
            path: path.display().to_string(),
            line: source.line(),
            column: source.column(),
            source,
        })
    }

    /// The Markdown tables: figures per contender, then the ratios per point.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let producers = self.points.iter().any(|point| point.producers.is_some());
        let key_header = if producers {
            "| events/frame | bytes | producers |"
        } else {
            "| events/frame | bytes |"
        };
        let key_rule = if producers {
            "|---|---|---|"
        } else {
            "|---|---|"
        };
        let key = |point: &Point| match point.producers {
            Some(producers) => format!(
                "| {} | {} | {producers} |",
                point.events_per_frame, point.event_bytes
            ),
            None => format!("| {} | {} |", point.events_per_frame, point.event_bytes),
        };
        writeln!(
            out,
            "{key_header} contender | ns/event | M events/s | ms/frame median | ms/frame p10–p90 |"
        )
        .unwrap();
        writeln!(out, "{key_rule}---|---|---|---|---|").unwrap();
        for point in &self.points {
            for samples in &point.samples {
                let figures = Throughput::of(point.events_per_frame, &samples.ns_per_frame);
                writeln!(
                    out,
                    "{} {} | {:.2} | {:.1} | {:.4} | {:.4}–{:.4} |",
                    key(point),
                    samples.name,
                    figures.ns_per_event,
                    figures.million_events_per_s,
                    figures.ms_per_frame.median,
                    figures.ms_per_frame.p10,
                    figures.ms_per_frame.p90,
                )
                .unwrap();
            }
        }
        writeln!(out).unwrap();
        write!(out, "{key_header}").unwrap();
        for spec in &self.ratios {
            write!(out, " {} |", spec.label).unwrap();
        }
        writeln!(out).unwrap();
        writeln!(out, "{key_rule}{}", "---|".repeat(self.ratios.len())).unwrap();
        for point in &self.points {
            write!(out, "{}", key(point)).unwrap();
            for spec in &self.ratios {
                match point.ratio(spec) {
                    Some(ratio) => write!(
                        out,
                        " {:.2} ({:.2}–{:.2}) |",
                        ratio.median, ratio.p10, ratio.p90
                    )
                    .unwrap(),
                    None => write!(out, " – |").unwrap(),
                }
            }
            writeln!(out).unwrap();
        }
        self.write_executor_table(&mut out, key_header, key_rule, &key);
        out
    }

    /// How much of the sampled ticks each tickbus contender ran in parallel (nothing when no
    /// sample has the figures).
    fn write_executor_table(
        &self,
        out: &mut String,
        key_header: &str,
        key_rule: &str,
        key: &dyn Fn(&Point) -> String,
    ) {
        let rows: Vec<(&Point, &Samples, ExecutorShare)> = self
            .points
            .iter()
            .flat_map(|point| {
                point
                    .samples
                    .iter()
                    .filter_map(move |samples| Some((point, samples, samples.executor?)))
            })
            .collect();
        if rows.is_empty() {
            return;
        }
        writeln!(out).unwrap();
        writeln!(
            out,
            "{key_header} contender | ticks sampled | ticks with systems overlapping | systems on workers per tick |"
        )
        .unwrap();
        writeln!(out, "{key_rule}---|---|---|---|").unwrap();
        for (point, samples, share) in rows {
            writeln!(
                out,
                "{} {} | {} | {:.0}% | {:.2} |",
                key(point),
                samples.name,
                share.ticks,
                share.overlapped_percent(),
                share.on_workers_per_tick(),
            )
            .unwrap();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    pub(crate) fn sample_report() -> Report {
        let samples = |name: &str, ns: [f64; 3]| Samples {
            name: name.to_owned(),
            frames_per_sample: 4,
            ns_per_frame: ns.to_vec(),
            executor: None,
        };
        Report {
            sweep: "throughput".to_owned(),
            command: "tickbus-bench --rounds 3".to_owned(),
            unix_time: 1_700_000_000,
            tickbus: "sequential executor".to_owned(),
            sampling: Sampling {
                rounds: 3,
                frames: Some(4),
                sample_time: Duration::from_millis(10),
            },
            ratios: vec![
                RatioSpec::new("bevy ÷ tickbus", "bevy", "tickbus"),
                RatioSpec::new("tickbus ÷ raw", "tickbus", "raw"),
            ],
            points: vec![
                Point {
                    events_per_frame: 1000,
                    event_bytes: 16,
                    writers: 1,
                    readers: 4,
                    producers: None,
                    samples: vec![
                        samples("tickbus", [2000.0, 1000.0, 3000.0]),
                        samples("bevy", [6000.0, 4000.0, 6000.0]),
                        samples("raw", [1000.0, 1000.0, 2000.0]),
                    ],
                },
                Point {
                    events_per_frame: 1_000_000,
                    event_bytes: 64,
                    writers: 1,
                    readers: 4,
                    producers: None,
                    samples: vec![samples("tickbus", [1e6, 2e6, 3e6])],
                },
            ],
        }
    }

    #[test]
    fn the_table_shows_every_contender_and_round_by_round_ratios() {
        let table = sample_report().table();
        // tickbus at 1000 events: median 2000 ns/frame = 2 ns/event, 500 M events/s.
        assert!(
            table.contains("| 1000 | 16 | tickbus | 2.00 | 500.0 | 0.0020 | 0.0010–0.0030 |"),
            "{table}"
        );
        assert!(
            table.contains("| 1000 | 16 | raw | 1.00 | 1000.0 |"),
            "{table}"
        );
        // bevy/tickbus per round: 3, 4, 2 → median 3; tickbus/raw: 2, 1, 1.5 → median 1.5.
        assert!(
            table.contains("| 1000 | 16 | 3.00 (2.00–4.00) | 1.50 (1.00–2.00) |"),
            "{table}"
        );
        assert!(
            !table.contains("overlapping"),
            "no executor figures, no table"
        );
        // A point without bevy shows no ratio rather than a made-up one.
        assert!(table.contains("| 1000000 | 64 | – | – |"), "{table}");
        assert!(table.contains("| 1000000 | 64 | tickbus | 2.00 | 500.0 | 2.0000 |"));
    }

    #[test]
    fn the_executor_table_shows_the_share_of_overlapping_ticks() {
        let mut report = sample_report();
        report.points[0].samples[0].executor = Some(ExecutorShare {
            ticks: 40,
            ticks_with_overlap: 30,
            systems_on_workers: 90,
        });
        let table = report.table();
        assert!(
            table.contains("| 1000 | 16 | tickbus | 40 | 75% | 2.25 |"),
            "{table}"
        );
        assert!(!table.contains("| 1000 | 16 | bevy | 40"), "{table}");
        let path =
            std::env::temp_dir().join(format!("tickbus-bench-exec-{}.json", std::process::id()));
        report.write_json(&path).unwrap();
        let back = Report::read_json(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn a_side_naming_several_contenders_takes_the_fastest_of_each_round() {
        let report = sample_report();
        let spec = RatioSpec::new("best ÷ tickbus", "bevy|raw", "tickbus");
        // min(bevy, raw) per round: 1000, 1000, 2000; over tickbus: 0.5, 1, 0.67.
        let ratio = report.points[0].ratio(&spec).unwrap();
        assert_eq!(ratio.median, 2000.0 / 3000.0);
        assert_eq!((ratio.p10, ratio.p90), (0.5, 1.0));
        assert_eq!(
            report.points[0].ratio(&RatioSpec::new("x", "bevy|nobody", "tickbus")),
            None
        );
    }

    #[test]
    fn json_round_trip_keeps_every_sample() {
        let report = sample_report();
        let path = std::env::temp_dir().join(format!("tickbus-bench-{}.json", std::process::id()));
        report.write_json(&path).unwrap();
        let back = Report::read_json(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn a_broken_json_file_is_reported_with_its_position() {
        let path =
            std::env::temp_dir().join(format!("tickbus-bench-bad-{}.json", std::process::id()));
        std::fs::write(&path, "{\n  \"sweep\": 3\n}").unwrap();
        let error = Report::read_json(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(error.contains("line 2"), "{error}");
    }
}
