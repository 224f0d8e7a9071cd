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
/// executor's: a loop in a system that runs on a worker is shared with the threads that are
/// idle at that moment, the driving thread included.
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
    /// saves. One timing can be a preemption, so a loop that looks worth sharing runs its
    /// second chunk there too, timed, and is shared only if the faster of the two still says
    /// so. Which thread runs a chunk never changes what the chunk is.
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
        let start = Instant::now();
        let first_panic = catch_unwind(AssertUnwindSafe(|| f(0, first)))
            .err()
            .map(|payload| (0, payload));
        let first_took = start.elapsed();
        let rest_chunks = rest.len().div_ceil(chunk_len);
        let task = ChunkTask {
            chunks: Mutex::new(rest.chunks_mut(chunk_len).enumerate()),
            f: &f,
            panic: Mutex::new(first_panic),
        };
        match self.pool.as_deref() {
            Some(pool) if self.share_every_loop && rest_chunks > 0 => {
                let helpers = pool.idle().min(rest_chunks);
                pool.with_helpers(&task, helpers, |_| task.help(Ticket::UNPOSTED));
            }
            Some(pool) if rest_chunks > 1 && worth_sharing(first_took, rest_chunks, pool) => {
                // Confirm with the next chunk before waking anyone.
                let second = Instant::now();
                task.run_next();
                let per_chunk = first_took.min(second.elapsed());
                let left = rest_chunks - 1;
                if left > 1 && worth_sharing(per_chunk, left, pool) {
                    let helpers = pool.idle().min(left - 1);
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

/// Below this much estimated work, a data-parallel loop stays on the calling thread.
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

impl<'a, T: Send + 'a, I, F> Help for ChunkTask<I, F>
where
    I: Iterator<Item = (usize, &'a mut [T])> + Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    fn help(&self, _ticket: Ticket) {
        while self.run_next() {}
    }
}

impl<'a, T: Send + 'a, I, F> ChunkTask<I, F>
where
    I: Iterator<Item = (usize, &'a mut [T])> + Send,
    F: Fn(usize, &mut [T]) + Sync,
{
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
    use super::*;

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
            let until = Instant::now() + Duration::from_micros(20);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
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
            let until = Instant::now() + Duration::from_micros(50);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            chunk[0] += 1;
        });
        assert_eq!(postings(), before + 1, "a loop of 400 µs is shared");
        assert!(data.iter().all(|&x| x == runs + 1));
    }

    #[test]
    fn a_pool_that_shares_every_loop_offers_even_a_trivial_one() {
        let worker = WorkerPool::new(1, Duration::from_micros(50), false).unwrap();
        let compute = ComputePool::new(Some(Arc::new(worker)), true);
        let workers = compute.pool.as_ref().expect("a pool");
        // Only idle workers are asked: wait (bounded) until the new worker got there.
        let deadline = Instant::now() + Duration::from_secs(5);
        while workers.idle() == 0 && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let before = workers.postings();
        let mut data = vec![0u32; 8];
        compute.for_each_chunk_mut(&mut data, 1, |_, chunk| chunk[0] += 1);
        assert_eq!(workers.postings(), before + 1, "a trivial loop was offered");
        assert!(data.iter().all(|&x| x == 1));
    }

    #[test]
    fn a_panicking_chunk_stops_only_itself_and_the_lowest_panic_is_resumed() {
        for compute in [ComputePool::default(), pool(1), pool(3)] {
            let mut data: Vec<u32> = vec![0; 64 * 40];
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                compute.for_each_chunk_mut(&mut data, 64, |index, chunk| {
                    let until = Instant::now() + Duration::from_micros(5);
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
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
