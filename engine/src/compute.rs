//! Data-parallel work inside systems, on the engine's own worker threads.

use std::{
    any::Any,
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use bevy_ecs::resource::Resource;

use crate::schedule::{
    node::drop_panic,
    workers::{Help, Ticket, WorkerPool},
};

/// The engine's worker threads, as a resource systems can use for data-parallel loops.
///
/// Work is cut into chunks whose boundaries depend only on the chunk length, never on the
/// thread count, so per-chunk results combined in index order are identical for any number
/// of threads (the determinism rule for parallel float reductions). The thread that calls it
/// works too, so `threads = N` means N threads on the loop. The workers are the parallel
/// executor's: a loop in a system that runs on a worker is shared with the other workers and
/// with the driving thread, each joining when it is free; the driving thread joins only while
/// it spins waiting for its step ([`ParallelConfig::spin`](crate::ParallelConfig::spin)),
/// not once it sleeps.
///
/// If `f` panics on a chunk, every other chunk is still processed, and then the panic of the
/// lowest chunk index is resumed on the calling thread: which chunks were done does not
/// depend on the threads either.
///
/// Do not spawn entities from inside a loop (`ParallelCommands`, or `Commands` moved into
/// the chunks): ids are handed out in the order the chunks happen to run, and the spawn check
/// cannot tell. Return what to spawn from [`map_chunks`](Self::map_chunks) and spawn it in
/// chunk order afterwards (see [`schedule`](crate::schedule#spawning)).
///
/// ```
/// use tickbus::prelude::*;
/// use tickbus::ComputePool;
///
/// #[derive(Resource)]
/// struct Positions(Vec<f32>);
///
/// fn drift(pool: Res<ComputePool>, mut positions: ResMut<Positions>) {
///     pool.for_each_chunk_mut(&mut positions.0, 1024, |_, chunk| {
///         chunk.iter_mut().for_each(|x| *x += 0.5);
///     });
/// }
/// # let mut app = App::new();
/// # app.insert_resource(Positions(vec![0.0; 5000])).add_systems(drift);
/// # let mut engine = app.build().unwrap();
/// # engine.run_ticks(2).unwrap();
/// # assert!(engine.world().resource::<Positions>().0.iter().all(|&x| x == 1.0));
/// ```
#[derive(Resource, Clone, Default)]
pub struct ComputePool {
    pool: Option<Arc<WorkerPool>>,
    /// Offer every loop of two or more chunks to the workers, measured or not: set under
    /// [`OffloadPolicy::Always`](crate::OffloadPolicy::Always), for tests that must see
    /// loops shared whatever the machine's load.
    share_every_loop: bool,
}

/// A chunk's panic: its index and payload.
type ChunkPanic = (usize, Box<dyn Any + Send>);

impl std::fmt::Debug for ComputePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputePool")
            .field("threads", &self.threads())
            .finish()
    }
}

impl ComputePool {
    pub(crate) fn new(pool: Option<Arc<WorkerPool>>, share_every_loop: bool) -> Self {
        Self {
            pool,
            share_every_loop,
        }
    }

    /// The worker threads, if there are any.
    pub(crate) fn workers(&self) -> Option<&Arc<WorkerPool>> {
        self.pool.as_ref()
    }

    /// Threads that work on a loop: the pool's workers and the calling thread.
    pub fn threads(&self) -> usize {
        self.pool.as_ref().map_or(1, |pool| pool.workers() + 1)
    }

    /// Calls `f(chunk_index, chunk)` for every `chunk_len`-long chunk of `data` (the last may
    /// be shorter), spread over the engine's threads when that pays.
    ///
    /// The first chunk always runs on the calling thread and is timed: when the rest would
    /// take less than [`PARALLEL_MIN_WORK`] (or than a few wake-ups of a worker, as measured)
    /// at that pace, it runs there too, since waking other threads would cost more than it
    /// saves. One timing can be a preemption, so a loop that looks worth sharing and has two
    /// chunks per thread or more runs its second chunk there too, timed, and is shared only if
    /// the faster of the two still says so. A loop of fewer than three chunks is never shared.
    /// Under [`OffloadPolicy::Always`](crate::OffloadPolicy::Always) every loop of two chunks
    /// or more is offered to the workers, unmeasured. Which thread runs a chunk never changes
    /// what the chunk is.
    pub fn for_each_chunk_mut<T: Send>(
        &self,
        data: &mut [T],
        chunk_len: usize,
        f: impl Fn(usize, &mut [T]) + Sync,
    ) {
        let chunk_len = chunk_len.max(1);
        let (first, rest) = data.split_at_mut(chunk_len.min(data.len()));
        if first.is_empty() {
            return;
        }
        let rest_chunks = rest.len().div_ceil(chunk_len);
        self.run_chunks(first, rest.chunks_mut(chunk_len), rest_chunks, &f);
    }

    /// Calls `f(chunk_index, chunk)` for every `chunk_len`-long chunk of `data` (the last may
    /// be shorter), spread over the engine's threads when that pays: the shared-slice form of
    /// [`for_each_chunk_mut`](Self::for_each_chunk_mut), with the same rules, for loops that
    /// only read `data` (their results go wherever `f` puts them).
    pub fn for_each_chunk<T: Sync>(
        &self,
        data: &[T],
        chunk_len: usize,
        f: impl Fn(usize, &[T]) + Sync,
    ) {
        let chunk_len = chunk_len.max(1);
        let (first, rest) = data.split_at(chunk_len.min(data.len()));
        if first.is_empty() {
            return;
        }
        let rest_chunks = rest.len().div_ceil(chunk_len);
        self.run_chunks(first, rest.chunks(chunk_len), rest_chunks, &f);
    }

    /// Runs chunk 0 (`first`) here, timed, then the `rest_chunks` chunks of `rest` (indices
    /// from 1) here or shared with the workers, as [`for_each_chunk_mut`](Self::for_each_chunk_mut)
    /// describes; resumes the lowest chunk's panic, if any.
    fn run_chunks<C: Send>(
        &self,
        first: C,
        rest: impl Iterator<Item = C> + Send,
        rest_chunks: usize,
        f: &(impl Fn(usize, C) + Sync),
    ) {
        if rest_chunks == 0 {
            // Nothing to share: no timing, no task.
            f(0, first);
            return;
        }
        let start = Instant::now();
        let first_panic = catch_unwind(AssertUnwindSafe(|| f(0, first)))
            .err()
            .map(|payload| (0, payload));
        let first_took = start.elapsed();
        let task = ChunkTask {
            chunks: Mutex::new(rest.enumerate()),
            f,
            panic: Mutex::new(first_panic),
        };
        match self.pool.as_deref() {
            Some(pool) if self.share_every_loop && rest_chunks > 0 => {
                let helpers = pool.workers().min(rest_chunks);
                pool.with_helpers(&task, helpers, |_| task.help(Ticket::UNPOSTED));
            }
            Some(pool) if rest_chunks > 1 && worth_sharing(first_took, rest_chunks, pool) => {
                let (per_chunk, left) = task.confirm_pace(first_took, rest_chunks, self.threads());
                if left > 1 && worth_sharing(per_chunk, left, pool) {
                    // Busy workers are asked too: a loop started by a system on a worker is
                    // then shared with the driving thread, which helps while it spins waiting.
                    let helpers = pool.workers().min(left - 1);
                    pool.with_helpers(&task, helpers, |_| task.help(Ticket::UNPOSTED));
                } else {
                    task.help(Ticket::UNPOSTED);
                }
            }
            _ => task.help(Ticket::UNPOSTED),
        }
        let panic = task
            .panic
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, payload)) = panic {
            resume_unwind(payload);
        }
    }

    /// `f(chunk_index, chunk)` for every chunk of `data`; the results in chunk order.
    pub fn map_chunks<T: Sync, R: Send>(
        &self,
        data: &[T],
        chunk_len: usize,
        f: impl Fn(usize, &[T]) -> R + Sync,
    ) -> Vec<R> {
        let chunk_len = chunk_len.max(1);
        let mut results: Vec<Option<R>> =
            (0..data.len().div_ceil(chunk_len)).map(|_| None).collect();
        let mut pairs: Vec<(&[T], &mut Option<R>)> =
            data.chunks(chunk_len).zip(results.iter_mut()).collect();
        self.for_each_chunk_mut(&mut pairs, 1, |index, pair| {
            let (chunk, slot) = &mut pair[0];
            **slot = Some(f(index, chunk));
        });
        results.into_iter().flatten().collect()
    }
}

/// Below this much estimated work, a data-parallel loop stays on the calling thread (unless
/// the executor's policy is [`OffloadPolicy::Always`](crate::OffloadPolicy::Always)).
pub const PARALLEL_MIN_WORK: Duration = Duration::from_micros(20);

/// Whether `chunks` more chunks at `per_chunk` each are worth sharing: at least
/// [`PARALLEL_MIN_WORK`] and four recent wake-ups of a worker (that estimate reads the clock,
/// so it is asked only of loops above the first bound).
fn worth_sharing(per_chunk: Duration, chunks: usize, pool: &WorkerPool) -> bool {
    let estimate = per_chunk.saturating_mul(u32::try_from(chunks).unwrap_or(u32::MAX));
    estimate >= PARALLEL_MIN_WORK && estimate >= pool.wake_latency().saturating_mul(4)
}

/// The chunks of one loop: whoever helps takes the next chunk until none is left. No thread
/// ever waits for another, so nothing can deadlock on busy workers.
struct ChunkTask<I, F> {
    chunks: Mutex<I>,
    f: F,
    panic: Mutex<Option<ChunkPanic>>,
}

impl<C, I, F> Help for ChunkTask<I, &F>
where
    I: Iterator<Item = (usize, C)> + Send,
    F: Fn(usize, C) + Sync,
{
    fn help(&self, _ticket: Ticket) {
        while self.run_next() {}
    }
}

impl<C, I, F> ChunkTask<I, &F>
where
    I: Iterator<Item = (usize, C)> + Send,
    F: Fn(usize, C) + Sync,
{
    /// The pace of a loop that looks worth sharing, and the chunks left: one timing can be a
    /// preemption, so with chunks to spare (two per thread or more) the next chunk runs on
    /// this thread too, timed, and the faster of the two counts. With fewer, confirming would
    /// cost a large share of the loop, so the first timing stands.
    fn confirm_pace(
        &self,
        first_took: Duration,
        rest_chunks: usize,
        threads: usize,
    ) -> (Duration, usize) {
        if rest_chunks < 2 * threads {
            return (first_took, rest_chunks);
        }
        let second = Instant::now();
        self.run_next();
        (first_took.min(second.elapsed()), rest_chunks - 1)
    }

    /// Runs the next chunk, if one is left (false: none was).
    fn run_next(&self) -> bool {
        let next = self
            .chunks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next();
        let Some((index, chunk)) = next else {
            return false;
        };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| (self.f)(index + 1, chunk))) {
            self.keep_lowest_panic(index + 1, payload);
        }
        true
    }
}

impl<I, F> ChunkTask<I, F> {
    fn keep_lowest_panic(&self, index: usize, payload: Box<dyn Any + Send>) {
        let mut panic = self.panic.lock().unwrap_or_else(PoisonError::into_inner);
        let dropped = if panic.as_ref().is_none_or(|(first, _)| index < *first) {
            panic
                .replace((index, payload))
                .map(|(_, replaced)| replaced)
        } else {
            Some(payload)
        };
        drop(panic);
        // A payload's drop may panic; this runs on helpers, which must not unwind.
        if let Some(payload) = dropped {
            drop_panic(payload);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Busy-waits for `micros` microseconds: a chunk of known cost.
    fn spin_for(micros: u64) {
        let until = Instant::now() + Duration::from_micros(micros);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }

    fn pool(workers: usize) -> ComputePool {
        let pool = WorkerPool::new(workers, Duration::from_micros(50), false).unwrap();
        ComputePool::new(Some(Arc::new(pool)), false)
    }

    #[test]
    fn every_chunk_is_visited_once_with_its_index() {
        for compute in [ComputePool::default(), pool(1), pool(3)] {
            let mut data: Vec<usize> = vec![0; 1000];
            compute.for_each_chunk_mut(&mut data, 7, |index, chunk| {
                chunk.iter_mut().for_each(|x| *x += index + 1);
            });
            let expected: Vec<usize> = (0..1000).map(|i| i / 7 + 1).collect();
            assert_eq!(data, expected);
        }
    }

    #[test]
    fn slow_chunks_are_spread_and_still_visited_once() {
        let slow = |index: usize, chunk: &mut [usize]| {
            spin_for(20);
            chunk.iter_mut().for_each(|x| *x += index + 1);
        };
        for compute in [ComputePool::default(), pool(1), pool(3)] {
            let mut data: Vec<usize> = vec![0; 640];
            compute.for_each_chunk_mut(&mut data, 16, slow);
            let expected: Vec<usize> = (0..640).map(|i| i / 16 + 1).collect();
            assert_eq!(data, expected);
        }
    }

    #[test]
    fn a_loop_whose_first_chunk_was_slowed_once_is_not_shared() {
        let compute = pool(1);
        let postings = || compute.pool.as_ref().expect("a pool").postings();
        let mut data = vec![0u32; 8];
        let mut offered_cheap_loop = || {
            let before = postings();
            compute.for_each_chunk_mut(&mut data, 1, |index, chunk| {
                if index == 0 {
                    // As if the thread had been preempted in the middle of a cheap chunk.
                    std::thread::sleep(Duration::from_millis(2));
                }
                chunk[0] += 1;
            });
            postings() > before
        };
        // A real preemption of the second chunk as well would share the loop, as it should:
        // one loop of three not offered shows the rule without depending on the machine.
        let runs = (1..=3).find(|_| !offered_cheap_loop());
        assert!(runs.is_some(), "cheap chunks were offered to the workers");
        let runs = runs.unwrap_or_default();
        assert!(data.iter().all(|&x| x == runs));
        let before = postings();
        compute.for_each_chunk_mut(&mut data, 1, |_, chunk| {
            spin_for(50);
            chunk[0] += 1;
        });
        assert_eq!(postings(), before + 1, "a loop of 400 µs is shared");
        assert!(data.iter().all(|&x| x == runs + 1));
    }

    #[test]
    fn a_pool_that_shares_every_loop_gives_even_a_trivial_one_to_a_worker() {
        let worker = WorkerPool::new(1, Duration::from_micros(50), false).unwrap();
        let compute = ComputePool::new(Some(Arc::new(worker)), true);
        let caller = std::thread::current().id();
        let elsewhere = AtomicUsize::new(0);
        // The caller's later chunks wait (bounded) for the worker to take one.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut data = vec![0u32; 8];
        compute.for_each_chunk_mut(&mut data, 1, |index, chunk| {
            chunk[0] += 1;
            if std::thread::current().id() != caller {
                elsewhere.fetch_add(1, Ordering::Relaxed);
            }
            while index > 0 && elsewhere.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
                std::hint::spin_loop();
            }
        });
        assert!(elsewhere.into_inner() > 0, "a worker ran a chunk");
        assert!(data.iter().all(|&x| x == 1));
    }

    #[test]
    fn a_loop_of_three_heavy_chunks_is_shared() {
        let compute = pool(1);
        let workers = compute.pool.as_ref().expect("a pool");
        let before = workers.postings();
        let mut data = vec![0u32; 3];
        compute.for_each_chunk_mut(&mut data, 1, |_, chunk| {
            spin_for(300);
            chunk[0] += 1;
        });
        assert_eq!(
            workers.postings(),
            before + 1,
            "900 µs in three chunks was offered"
        );
        assert!(data.iter().all(|&x| x == 1));
    }

    #[test]
    fn a_panicking_chunk_stops_only_itself_and_the_lowest_panic_is_resumed() {
        for compute in [ComputePool::default(), pool(1), pool(3)] {
            let mut data: Vec<u32> = vec![0; 64 * 40];
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                compute.for_each_chunk_mut(&mut data, 64, |index, chunk| {
                    spin_for(5);
                    if index % 10 == 7 {
                        panic!("chunk {index}");
                    }
                    chunk.iter_mut().for_each(|x| *x = 1);
                });
            }));
            let payload = result.expect_err("a chunk panicked");
            assert_eq!(payload.downcast_ref::<String>().unwrap(), "chunk 7");
            for (index, chunk) in data.chunks(64).enumerate() {
                let expected = u32::from(index % 10 != 7);
                assert!(chunk.iter().all(|&x| x == expected), "chunk {index}");
            }
        }
    }

    #[test]
    fn chunked_float_sums_do_not_depend_on_threads() {
        let data: Vec<f64> = (0..10_000).map(|i| (i as f64).sin() * 1e-3 + 1e7).collect();
        let sum = |compute: &ComputePool| -> f64 {
            compute
                .map_chunks(&data, 64, |_, c| c.iter().sum::<f64>())
                .iter()
                .sum()
        };
        let reference = sum(&ComputePool::default());
        for workers in [1, 2, 4, 7] {
            assert_eq!(sum(&pool(workers)).to_bits(), reference.to_bits());
        }
    }
}
