//! Chrome/Perfetto trace of system runs: what ran on which thread, when, and what overlapped.
//!
//! The trace is built from [`Engine::take_system_runs`](crate::Engine::take_system_runs) in
//! the [Trace Event Format]: one complete event (`"ph": "X"`) per system run and one
//! `thread_name` metadata event per thread, so a viewer (`chrome://tracing`,
//! <https://ui.perfetto.dev>) draws one track per thread. The types are plain serde data;
//! the caller picks the writer (`serde_json`). The `tracing-chrome` crate was not used: it
//! needs `tracing` spans entered around every system inside the executors, where the engine
//! already times each run for its own stats.
//!
//! [Trace Event Format]: https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU
//!
//! ```
//! use tickbus::{ChromeTrace, prelude::*};
//!
//! let mut app = App::new();
//! app.add_systems((|| {}, || {}));
//! let mut engine = app.build().unwrap();
//! engine.set_system_tracing(true);
//! let origin = std::time::Instant::now();
//! let mut trace = ChromeTrace::default();
//! for _ in 0..3 {
//!     engine.tick().unwrap();
//!     trace.add_runs(engine.stats().tick, &engine.take_system_runs(origin));
//! }
//! assert_eq!(trace.complete_events().count(), 6); // 2 systems × 3 ticks
//! ```

use serde::{Deserialize, Serialize};

use crate::SystemRun;

/// The process id every event carries (one engine per trace).
const TRACE_PID: u32 = 1;

/// A Chrome trace: the JSON object format, `{"traceEvents": [...]}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChromeTrace {
    /// Every event, in the order added.
    #[serde(rename = "traceEvents")]
    pub trace_events: Vec<TraceEvent>,
    /// Threads that already have their `thread_name` event (a lookup, not part of the file).
    #[serde(skip)]
    named_threads: Vec<usize>,
}

/// One event of a [`ChromeTrace`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// The system's name, or `thread_name` for a metadata event.
    pub name: String,
    /// The phase: `X` (complete event) or `M` (metadata).
    pub ph: String,
    /// Start in microseconds since the trace's origin (complete events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<f64>,
    /// Duration in microseconds (complete events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dur: Option<f64>,
    /// The process: always 1.
    pub pid: u32,
    /// The thread: [`SystemRun::thread`], one track each.
    pub tid: usize,
    /// The tick of a run, or the name of a thread.
    #[serde(default)]
    pub args: TraceArgs,
}

/// The `args` of a [`TraceEvent`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceArgs {
    /// The tick a system run belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick: Option<u64>,
    /// A thread's name (`thread_name` metadata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ChromeTrace {
    /// Adds the runs of one tick: a complete event each, and a `thread_name` event for
    /// every thread not seen before.
    pub fn add_runs(&mut self, tick: u64, runs: &[SystemRun]) {
        for run in runs {
            self.name_thread(run.thread);
            self.trace_events.push(TraceEvent {
                name: run.name.clone(),
                ph: "X".to_owned(),
                ts: Some(micros(run.start)),
                dur: Some(micros(run.duration)),
                pid: TRACE_PID,
                tid: run.thread,
                args: TraceArgs {
                    tick: Some(tick),
                    name: None,
                },
            });
        }
    }

    /// The complete events: one per system run added.
    pub fn complete_events(&self) -> impl Iterator<Item = &TraceEvent> {
        self.trace_events.iter().filter(|event| event.ph == "X")
    }

    fn name_thread(&mut self, thread: usize) {
        if self.named_threads.contains(&thread) {
            return;
        }
        self.named_threads.push(thread);
        self.trace_events.push(TraceEvent {
            name: "thread_name".to_owned(),
            ph: "M".to_owned(),
            ts: None,
            dur: None,
            pid: TRACE_PID,
            tid: thread,
            args: TraceArgs {
                tick: None,
                name: Some(format!("thread {thread}")),
            },
        });
    }
}

fn micros(duration: std::time::Duration) -> f64 {
    duration.as_nanos() as f64 / 1000.0
}
