//! Making overlap certain in tests that must see systems run at the same time, even on a
//! busy machine where the operating system may leave one thread waiting for milliseconds.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tickbus::{ExecutorKind, OffloadPolicy, ParallelConfig, prelude::*};

/// How long a system waits for company before it gives up.
const PATIENCE: Duration = Duration::from_millis(5);

/// True for executors that offload every system on more than one thread: there, systems
/// must overlap.
pub fn must_overlap(executor: ExecutorKind) -> bool {
    matches!(
        executor,
        ExecutorKind::Parallel(ParallelConfig {
            threads: 2..,
            policy: OffloadPolicy::Always,
            ..
        })
    )
}

/// A meeting point: systems that call [`meet`](Self::meet) wait (a little, and only where
/// the executor must overlap) until another such system runs at the same time.
#[derive(Resource, Clone, Default)]
pub struct Rendezvous {
    running: Arc<AtomicUsize>,
    meetings: Arc<AtomicU64>,
    met: Arc<AtomicUsize>,
    wait: bool,
}

impl Rendezvous {
    /// A meeting point for systems run by `executor`.
    pub fn new(executor: ExecutorKind) -> Self {
        Self {
            wait: must_overlap(executor),
            ..Self::default()
        }
    }

    /// Counts the caller as running until it returns; where waiting is on, returns once
    /// another caller runs at the same time (or after 5 ms). True if it met one.
    pub fn meet(&self) -> bool {
        self.running.fetch_add(1, Ordering::SeqCst);
        // Read after counting in: a meeting announced from now on included this caller.
        let meetings = self.meetings.load(Ordering::SeqCst);
        let until = Instant::now() + PATIENCE;
        let mut met = false;
        loop {
            if self.running.load(Ordering::SeqCst) > 1 {
                // Tell a partner who might look only after this one has left.
                self.meetings.fetch_add(1, Ordering::SeqCst);
                met = true;
            }
            met |= self.meetings.load(Ordering::SeqCst) != meetings;
            if met || !self.wait || Instant::now() >= until {
                break;
            }
            std::hint::spin_loop();
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.met.fetch_add(usize::from(met), Ordering::SeqCst);
        met
    }

    /// Calls of [`meet`](Self::meet) that met another system.
    pub fn met(&self) -> usize {
        self.met.load(Ordering::SeqCst)
    }
}

/// A system that meets any other.
pub fn meet(rendezvous: Res<Rendezvous>) {
    rendezvous.meet();
}

/// The same as [`meet`], as a second system type (to add two of them).
pub fn meet_too(rendezvous: Res<Rendezvous>) {
    rendezvous.meet();
}
