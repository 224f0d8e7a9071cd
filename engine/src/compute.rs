//! Data-parallel work inside systems, on the engine's own rayon pool.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bevy_ecs::resource::Resource;
use rayon::prelude::*;

/// The engine's rayon pool, as a resource systems can use for data-parallel loops.
///
/// Work is cut into chunks whose boundaries depend only on the chunk length, never on the
/// thread count, so per-chunk results combined in index order are identical for any number
/// of threads (the determinism rule for parallel float reductions). The thread that calls it
/// works too, so `threads = N` means N threads on the loop.
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
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl std::fmt::Debug for ComputePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputePool")
            .field("threads", &self.threads())
            .finish()
    }
}

impl ComputePool {
    pub(crate) fn new(pool: Option<Arc<rayon::ThreadPool>>) -> Self {
        Self { pool }
    }

    /// Threads that work on a loop: the pool's workers and the calling thread.
    pub fn threads(&self) -> usize {
        self.pool
            .as_ref()
            .map_or(1, |pool| pool.current_num_threads() + 1)
    }

    /// Calls `f(chunk_index, chunk)` for every `chunk_len`-long chunk of `data` (the last may
    /// be shorter), spread over the engine's threads when that pays.
    ///
    /// The first chunk always runs on the calling thread and is timed: when the rest would
    /// take less than [`PARALLEL_MIN_WORK`] at that pace, it runs there too, since waking
    /// other threads would cost more than it saves. Which thread runs a chunk never changes
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
        let start = Instant::now();
        f(0, first);
        let rest_chunks = rest.len().div_ceil(chunk_len);
        let estimate = start.elapsed().saturating_mul(rest_chunks as u32);
        match self.pool.as_ref() {
            Some(pool) if rest_chunks > 1 && estimate >= PARALLEL_MIN_WORK => {
                spread(pool, rest, chunk_len, |i, c| f(i + 1, c));
            }
            _ => rest
                .chunks_mut(chunk_len)
                .enumerate()
                .for_each(|(i, c)| f(i + 1, c)),
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

/// Runs every chunk of `data` on `pool`'s threads and the calling thread.
fn spread<T: Send>(
    pool: &rayon::ThreadPool,
    data: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    if pool.current_thread_index().is_some() {
        data.par_chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
        return;
    }
    // From outside the pool: the workers and this thread take chunks from one queue. No task
    // ever waits for another, so nothing can deadlock on a busy pool.
    let chunks = Mutex::new(data.chunks_mut(chunk_len).enumerate());
    let work = || {
        loop {
            let next = chunks.lock().map(|mut chunks| chunks.next());
            match next {
                Ok(Some((index, chunk))) => f(index, chunk),
                _ => return,
            }
        }
    };
    pool.in_place_scope(|scope| {
        for _ in 0..pool.current_num_threads() {
            scope.spawn(|_| work());
        }
        work();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(workers: usize) -> ComputePool {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .build()
            .unwrap();
        ComputePool::new(Some(Arc::new(pool)))
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
