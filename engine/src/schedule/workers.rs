//! The engine's worker threads, shared by parallel steps and [`ComputePool`] loops.
//!
//! A thread with work that others may share *posts* it: a task ([`Help`]) and how many
//! helpers it wants. Idle workers join the newest posting that still wants help, call its
//! [`Help::help`] and leave when that returns. The poster always works on its own task too, so
//! a posting nobody joins still finishes, only slower.
//!
//! No thread ever waits for a task to be picked up. A poster waits for one thing only: that
//! the helpers already inside its task have left, before the task's borrowed data goes out of
//! scope. A helper never blocks inside a task (it takes what is ready and leaves when nothing
//! is), so that wait always ends, whatever the nesting: a system on a worker may post a
//! data-parallel loop that the driving thread or another worker joins.
//!
//! Workers spin for [`WorkerPool::spin`] after their last task before they sleep, so the next
//! step of the same tick (or the next tick of a headless run) finds them awake (only as many
//! as there are cores besides the driving thread's: more would spin on a core another thread
//! needs). The pool
//! measures how long a posting waits for its first helper ([`WorkerPool::wake_latency`]); the
//! executor weighs that against the work it would hand over.
//!
//! [`ComputePool`]: crate::ComputePool

use super::node::drop_panic;
use std::{
    sync::{
        Arc, Condvar, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// Work that several threads can share.
pub(crate) trait Help: Sync {
    /// Works on the task until nothing is left for this thread right now, then returns. Must
    /// never block waiting for another thread (a wait bounded to microseconds for work that is
    /// on its way is allowed), and must not unwind (catch what it runs).
    fn help(&self, ticket: Ticket);
}

/// Names a posting, for [`WorkerPool::want`] from inside its task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket(Option<usize>);

impl Ticket {
    /// A ticket for work that was not posted (the board was full): asking for helpers with it
    /// does nothing.
    pub(crate) const UNPOSTED: Ticket = Ticket(None);
}

/// Postings open at once: every thread can post a few nested tasks. More are run without
/// helpers.
const POSTINGS_PER_THREAD: usize = 4;

/// Wake-up latency assumed until one has been measured.
const INITIAL_WAKE_LATENCY: Duration = Duration::from_micros(20);

/// A task's address with its lifetime erased; see [`WorkerPool::with_helpers`] for why it is
/// never used after the task is gone.
#[derive(Clone, Copy)]
struct TaskRef(*const (dyn Help + 'static));

// SAFETY: a `TaskRef` is only dereferenced as `&dyn Help`, and `Help: Sync`, so sharing the
// address with other threads shares a `&(dyn Help + Sync)`, which is `Send`.
unsafe impl Send for TaskRef {}

struct Posting {
    task: TaskRef,
    /// Helpers still wanted (workers that join decrement it).
    wanted: usize,
    /// Helpers inside the task right now.
    inside: usize,
    /// Order of posting: workers join the newest first (a nested loop its poster waits on).
    sequence: u64,
    /// When `wanted` last went from zero to more, to measure wake-up latency.
    wanted_since: Option<Instant>,
    /// The poster sleeps until the helpers inside have left (they wake it).
    poster_sleeping: bool,
}

struct Board {
    postings: Vec<Option<Posting>>,
    sequence: u64,
    sleeping: usize,
    shutdown: bool,
}

impl Board {
    /// The newest posting that wants a helper.
    fn wanting(&self) -> Option<usize> {
        self.postings
            .iter()
            .enumerate()
            .filter_map(|(slot, p)| p.as_ref().filter(|p| p.wanted > 0).map(|p| (slot, p)))
            .max_by_key(|(_, p)| p.sequence)
            .map(|(slot, _)| slot)
    }

    fn posting(&mut self, slot: usize) -> &mut Posting {
        self.postings[slot]
            .as_mut()
            .expect("a ticket names an open posting")
    }
}

/// A posting's counts, readable without the board's lock (written under it): threads that
/// spin must not take the lock over and over, or the thread they wait for may sleep on it.
#[derive(Default)]
struct SlotCounts {
    wanted: AtomicUsize,
    inside: AtomicUsize,
}

struct PoolShared {
    board: Mutex<Board>,
    counts: Box<[SlotCounts]>,
    /// Sleeping workers wait here for a posting.
    work: Condvar,
    /// Posters wait here for their helpers to leave.
    left: Condvar,
    /// Bumped whenever help is wanted, so spinning workers notice without the lock.
    wanted_epoch: AtomicU64,
    /// Workers not inside a task.
    idle: AtomicUsize,
    /// Workers started and not yet finished.
    alive: AtomicUsize,
    /// Moving average of the wait for a first helper, in nanoseconds.
    wake_nanos: AtomicU64,
    /// When `wake_nanos` last took a sample, in nanoseconds since `started`.
    sampled_at: AtomicU64,
    started: Instant,
    spin: Duration,
}

impl PoolShared {
    fn lock(&self) -> MutexGuard<'_, Board> {
        // Nothing panics while the board is locked; a poisoned lock still holds valid data.
        self.board.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes posting `slot`'s counts to [`SlotCounts`] (call with the board locked).
    fn publish(&self, board: &Board, slot: usize) {
        let (wanted, inside) = board.postings[slot]
            .as_ref()
            .map_or((0, 0), |p| (p.wanted, p.inside));
        self.counts[slot].wanted.store(wanted, Ordering::Release);
        self.counts[slot].inside.store(inside, Ordering::Release);
    }

    fn record_wake(&self, waited: Duration) {
        let sample = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        let old = self.wake_nanos.load(Ordering::Relaxed);
        let capped = sample.min(old.saturating_mul(4).max(1_000));
        self.wake_nanos
            .store((old.saturating_mul(7) + capped) / 8, Ordering::Relaxed);
        self.sampled_at.store(
            nanos_between(self.started, Instant::now()),
            Ordering::Relaxed,
        );
    }

    /// A posting was withdrawn after waiting `waited` for a helper that never came: the
    /// wake-up takes longer than that. Only joins are sampled otherwise, which sees only
    /// wake-ups quicker than the work, so this keeps the estimate from staying too low; a
    /// wait below the estimate says nothing new.
    fn record_unjoined(&self, waited: Duration) {
        if waited > self.wake_latency_at(Instant::now()) {
            self.record_wake(waited);
        }
    }

    /// The wake-up latency estimate as of `now`. Work is posted only where it could beat
    /// the estimate, and only postings take samples, so a high estimate could keep itself
    /// from ever coming down: unsampled for [`STALE_AFTER`], it counts as at most
    /// [`INITIAL_WAKE_LATENCY`] until a new sample comes in.
    fn wake_latency_at(&self, now: Instant) -> Duration {
        let estimate = Duration::from_nanos(self.wake_nanos.load(Ordering::Relaxed));
        if estimate <= INITIAL_WAKE_LATENCY {
            return estimate;
        }
        let sampled_at =
            self.started + Duration::from_nanos(self.sampled_at.load(Ordering::Relaxed));
        if now.saturating_duration_since(sampled_at) > STALE_AFTER {
            INITIAL_WAKE_LATENCY
        } else {
            estimate
        }
    }
}

/// How long the wake-up estimate holds without a new sample (see
/// [`PoolShared::wake_latency_at`]).
const STALE_AFTER: Duration = Duration::from_secs(1);

fn nanos_between(earlier: Instant, later: Instant) -> u64 {
    u64::try_from(later.saturating_duration_since(earlier).as_nanos()).unwrap_or(u64::MAX)
}

/// Threads that help with posted work (see the module docs).
pub(crate) struct WorkerPool {
    shared: Arc<PoolShared>,
    handles: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    /// Starts `workers` threads; `pin` pins worker `i` to core `i + 1`.
    pub(crate) fn new(workers: usize, spin: Duration, pin: bool) -> std::io::Result<Self> {
        // Saturating: the executor refuses thread counts this large before it gets here.
        let postings = workers
            .saturating_add(1)
            .saturating_mul(POSTINGS_PER_THREAD);
        let shared = Arc::new(PoolShared {
            board: Mutex::new(Board {
                postings: (0..postings).map(|_| None).collect(),
                sequence: 0,
                sleeping: 0,
                shutdown: false,
            }),
            counts: (0..postings).map(|_| SlotCounts::default()).collect(),
            work: Condvar::new(),
            left: Condvar::new(),
            wanted_epoch: AtomicU64::new(0),
            idle: AtomicUsize::new(workers),
            alive: AtomicUsize::new(0),
            wake_nanos: AtomicU64::new(INITIAL_WAKE_LATENCY.as_nanos() as u64),
            sampled_at: AtomicU64::new(0),
            started: Instant::now(),
            spin,
        });
        let mut pool = Self {
            shared,
            handles: Vec::with_capacity(workers),
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        for index in 0..workers {
            let shared = Arc::clone(&pool.shared);
            // Threads beyond the cores would spin on a core another thread needs.
            let spin = if index + 1 < cores {
                spin
            } else {
                Duration::ZERO
            };
            let handle = std::thread::Builder::new()
                .name(format!("tickbus-worker-{index}"))
                .spawn(move || {
                    if pin {
                        pin_to_core(index + 1);
                    }
                    let _life = WorkerLife::begin(&shared);
                    work(&shared, spin);
                })?;
            pool.handles.push(handle);
        }
        // A thread's start-up allocates (its name, its signal stack): let that happen now,
        // not during the first ticks.
        wait_until(|| pool.shared.alive.load(Ordering::Acquire) == workers);
        Ok(pool)
    }

    /// Worker threads (the threads that post work are not counted).
    pub(crate) fn workers(&self) -> usize {
        self.handles.len()
    }

    /// Workers not inside any task right now (they may be spinning or asleep).
    pub(crate) fn idle(&self) -> usize {
        self.shared.idle.load(Ordering::Relaxed)
    }

    /// How long a posting has recently waited for its first helper (a moving average).
    pub(crate) fn wake_latency(&self) -> Duration {
        self.shared.wake_latency_at(Instant::now())
    }

    /// Postings made so far (tests: whether work was offered to the workers at all).
    #[cfg(test)]
    pub(crate) fn postings(&self) -> u64 {
        self.shared.lock().sequence
    }

    /// How long workers spin for new work before they sleep.
    pub(crate) fn spin(&self) -> Duration {
        self.shared.spin
    }

    /// Runs `drive` on this thread while up to `helpers` idle workers (more or fewer later,
    /// through [`want`](Self::want)) run `task.help()`. Returns once `drive` returned and every
    /// helper has left `task`, also when `drive` unwinds.
    pub(crate) fn with_helpers<R>(
        &self,
        task: &dyn Help,
        helpers: usize,
        drive: impl FnOnce(Ticket) -> R,
    ) -> R {
        let Some(slot) = self.post(task, helpers) else {
            return drive(Ticket::UNPOSTED);
        };
        // Withdrawing waits for the helpers inside to leave: until then they may use `task`.
        let _withdraw = Withdraw {
            shared: &self.shared,
            slot,
        };
        drive(Ticket(Some(slot)))
    }

    /// Asks for `helpers` helpers in total beyond those already inside (0 stops new ones from
    /// joining). Cheap when nothing changes.
    pub(crate) fn want(&self, ticket: Ticket, helpers: usize) {
        let Some(slot) = ticket.0 else {
            return;
        };
        let mut board = self.shared.lock();
        let posting = board.posting(slot);
        if posting.wanted == helpers {
            return;
        }
        if posting.wanted == 0 && self.idle() > 0 {
            posting.wanted_since = Some(Instant::now());
        }
        posting.wanted = helpers;
        self.shared.publish(&board, slot);
        if helpers > 0 {
            self.wake(board, helpers);
        }
    }

    /// Helpers asked for with `ticket` that idle workers could still bring (0 once every
    /// idle worker that was asked for has joined).
    pub(crate) fn on_their_way(&self, ticket: Ticket) -> usize {
        let Some(slot) = ticket.0 else {
            return 0;
        };
        let wanted = self.shared.counts[slot].wanted.load(Ordering::Acquire);
        wanted.min(self.idle())
    }

    /// Joins one posting of another thread that wants help, if there is one (a thread that
    /// would otherwise wait). True when it helped.
    pub(crate) fn help_elsewhere(&self, own: Ticket) -> bool {
        let mut board = self.shared.lock();
        let Some(slot) = board.wanting().filter(|&slot| Some(slot) != own.0) else {
            return false;
        };
        let task = join(&self.shared, &mut board, slot);
        drop(board);
        run_inside(&self.shared, slot, task, false);
        true
    }

    fn post(&self, task: &dyn Help, helpers: usize) -> Option<usize> {
        // SAFETY: only the lifetime is erased (same fat pointer). The posting that holds this
        // address is withdrawn by `Withdraw` before `with_helpers` returns or unwinds, and the
        // withdrawal waits until no helper is inside, so the address is never dereferenced
        // after `task`'s borrow ends. Workers only reach it through the posting.
        let erased: *const (dyn Help + 'static) = unsafe {
            std::mem::transmute::<*const (dyn Help + '_), *const (dyn Help + 'static)>(task)
        };
        let mut board = self.shared.lock();
        let slot = board.postings.iter().position(Option::is_none)?;
        board.sequence += 1;
        board.postings[slot] = Some(Posting {
            task: TaskRef(erased),
            wanted: helpers,
            inside: 0,
            sequence: board.sequence,
            wanted_since: (helpers > 0 && self.idle() > 0).then(Instant::now),
            poster_sleeping: false,
        });
        self.shared.publish(&board, slot);
        if helpers > 0 {
            self.wake(board, helpers);
        }
        Some(slot)
    }

    /// Lets spinning workers see new work and wakes as many sleeping ones as the spinning
    /// ones cannot cover (waking a thread is a system call on the caller's time).
    fn wake(&self, board: MutexGuard<'_, Board>, helpers: usize) {
        self.shared.wanted_epoch.fetch_add(1, Ordering::Release);
        let sleeping = board.sleeping;
        let awake = self.idle().saturating_sub(sleeping);
        drop(board);
        for _ in 0..helpers.saturating_sub(awake).min(sleeping) {
            self.shared.work.notify_one();
        }
    }

    /// A number that changes whenever some posting asks for help (to look for work to help
    /// with only when there may be some).
    pub(crate) fn help_wanted_epoch(&self) -> u64 {
        self.shared.wanted_epoch.load(Ordering::Acquire)
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wanted_epoch.fetch_add(1, Ordering::Release);
        self.shared.work.notify_all();
        let current = std::thread::current().id();
        // The last handle to the pool may be dropped on one of its own workers (a system that
        // kept a `ComputePool`): that worker is still alive, running this.
        let on_a_worker = self.handles.iter().any(|h| h.thread().id() == current);
        let still_running = usize::from(on_a_worker);
        // Every worker counts itself out when its thread ends, also by a panic
        // (`WorkerLife`), so this wait ends once they have seen the shutdown.
        wait_until(|| self.shared.alive.load(Ordering::Acquire) == still_running);
        for handle in self.handles.drain(..) {
            if handle.thread().id() != current {
                let _ = handle.join();
            }
        }
    }
}

/// Closes a posting and waits for its helpers to leave (see [`WorkerPool::with_helpers`]).
struct Withdraw<'p> {
    shared: &'p PoolShared,
    slot: usize,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        let mut board = self.shared.lock();
        let posting = board.posting(self.slot);
        posting.wanted = 0;
        let unjoined = posting.wanted_since.take().map(|since| since.elapsed());
        self.shared.publish(&board, self.slot);
        drop(board);
        if let Some(waited) = unjoined {
            self.shared.record_unjoined(waited);
        }
        // Helpers leave within moments of the task running dry: spin briefly (on the
        // published count, not the lock they need to leave) before sleeping.
        let inside = &self.shared.counts[self.slot].inside;
        let deadline = Deadline::after(self.shared.spin);
        while inside.load(Ordering::Acquire) > 0 && !deadline.passed() {
            spin_a_little();
        }
        let mut board = self.shared.lock();
        while board.posting(self.slot).inside > 0 {
            board.posting(self.slot).poster_sleeping = true;
            board = self
                .shared
                .left
                .wait(board)
                .unwrap_or_else(PoisonError::into_inner);
        }
        board.postings[self.slot] = None;
        self.shared.publish(&board, self.slot);
    }
}

/// Takes a helper's place in posting `slot`.
fn join(shared: &PoolShared, board: &mut Board, slot: usize) -> TaskRef {
    let posting = board.posting(slot);
    posting.wanted -= 1;
    posting.inside += 1;
    let waited = posting.wanted_since.take().map(|since| since.elapsed());
    let task = posting.task;
    shared.publish(board, slot);
    if let Some(waited) = waited {
        shared.record_wake(waited);
    }
    task
}

/// Runs a joined task and leaves it, also if it unwinds (a worker counts as idle again
/// before its poster can see it gone).
fn run_inside(shared: &PoolShared, slot: usize, task: TaskRef, worker: bool) {
    let _leave = Leave {
        shared,
        slot,
        worker,
    };
    // SAFETY: this thread joined posting `slot` and has not left it (`_leave` leaves on drop),
    // and a posting stays open, its task alive, while a helper is inside (`Withdraw`).
    let task = unsafe { &*task.0 };
    task.help(Ticket(Some(slot)));
}

struct Leave<'p> {
    shared: &'p PoolShared,
    slot: usize,
    worker: bool,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut board = self.shared.lock();
        if self.worker {
            self.shared.idle.fetch_add(1, Ordering::Relaxed);
        }
        let posting = board.posting(self.slot);
        posting.inside -= 1;
        let last_out = posting.inside == 0 && posting.poster_sleeping;
        self.shared.publish(&board, self.slot);
        if last_out {
            drop(board);
            self.shared.left.notify_all();
        }
    }
}

/// Counts a worker thread as alive from its start until its thread ends, however it ends: a
/// worker that died uncounted would make [`WorkerPool`]'s drop wait for it forever.
struct WorkerLife<'p> {
    shared: &'p PoolShared,
}

impl<'p> WorkerLife<'p> {
    fn begin(shared: &'p PoolShared) -> Self {
        shared.alive.fetch_add(1, Ordering::AcqRel);
        Self { shared }
    }
}

impl Drop for WorkerLife<'_> {
    fn drop(&mut self) {
        // Outside a task a worker counts as idle (`Leave` restores that when a task unwinds):
        // a dead one must not be asked for help.
        self.shared.idle.fetch_sub(1, Ordering::Relaxed);
        self.shared.alive.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The end of a spin-wait `spin` from now; a spin too long to add to the clock never ends
/// (the executor refuses such settings; this keeps the arithmetic from panicking anyway).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    pub(crate) fn after(spin: Duration) -> Self {
        Self(Instant::now().checked_add(spin))
    }

    pub(crate) fn passed(&self) -> bool {
        self.0.is_some_and(|deadline| Instant::now() >= deadline)
    }
}

/// A worker thread's life: join wanted postings, spin a little when there are none, sleep.
fn work(shared: &PoolShared, spin: Duration) {
    let mut board = shared.lock();
    loop {
        if board.shutdown {
            return;
        }
        if let Some(slot) = board.wanting() {
            shared.idle.fetch_sub(1, Ordering::Relaxed);
            let task = join(shared, &mut board, slot);
            drop(board);
            // A task that unwinds despite its contract must not take the worker with it, nor
            // may its panic's payload, whose `Drop` could panic again.
            if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_inside(shared, slot, task, true)
            })) {
                drop_panic(payload);
            }
            board = shared.lock();
            continue;
        }
        let epoch = shared.wanted_epoch.load(Ordering::Acquire);
        drop(board);
        let deadline = Deadline::after(spin);
        while shared.wanted_epoch.load(Ordering::Acquire) == epoch && !deadline.passed() {
            spin_a_little();
        }
        board = shared.lock();
        if board.wanting().is_some() || board.shutdown {
            continue;
        }
        board.sleeping += 1;
        board = shared
            .work
            .wait(board)
            .unwrap_or_else(PoisonError::into_inner);
        board.sleeping -= 1;
    }
}

/// Waits for `done` without sleeping for the first millisecond: a thread that sleeps may
/// wake up on another core, and the thread that builds or drops an engine is the one that
/// drives its ticks. Yields after that.
fn wait_until(done: impl Fn() -> bool) {
    let spin_until = Instant::now() + Duration::from_millis(1);
    while !done() {
        if Instant::now() < spin_until {
            spin_a_little();
        } else {
            std::thread::yield_now();
        }
    }
}

/// A short pause in a spin-wait (spin waits here are bounded by a deadline). No yield: on a
/// busy machine a yielding thread can lose the rest of its time slice, milliseconds, which is
/// what the spin was meant to save.
pub(crate) fn spin_a_little() {
    for _ in 0..64 {
        std::hint::spin_loop();
    }
}

/// Pins the calling thread to core `core` (modulo the core count). A speed hint: where the
/// platform refuses, the thread floats.
fn pin_to_core(core: usize) {
    if let Some(cores) = core_affinity::get_core_ids().filter(|cores| !cores.is_empty()) {
        core_affinity::set_for_current(cores[core % cores.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// Counts helpers and, while it is open, lets them in once each.
    struct Counter {
        helped: AtomicUsize,
        inside_now: AtomicUsize,
        peak: AtomicUsize,
        hold: AtomicBool,
    }

    impl Help for Counter {
        fn help(&self, _ticket: Ticket) {
            let now = self.inside_now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            self.helped.fetch_add(1, Ordering::SeqCst);
            let until = Instant::now() + Duration::from_secs(5);
            while self.hold.load(Ordering::SeqCst) && Instant::now() < until {
                std::hint::spin_loop();
            }
            self.inside_now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn counter() -> Counter {
        Counter {
            helped: AtomicUsize::new(0),
            inside_now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            hold: AtomicBool::new(true),
        }
    }

    #[test]
    fn helpers_join_and_the_poster_waits_until_they_left() {
        let pool = WorkerPool::new(3, Duration::from_micros(50), false).unwrap();
        let task = counter();
        pool.with_helpers(&task, 3, |_| {
            let until = Instant::now() + Duration::from_secs(5);
            while task.helped.load(Ordering::SeqCst) < 3 && Instant::now() < until {
                std::hint::spin_loop();
            }
            task.hold.store(false, Ordering::SeqCst);
        });
        assert_eq!(task.helped.load(Ordering::SeqCst), 3);
        assert_eq!(
            task.inside_now.load(Ordering::SeqCst),
            0,
            "nobody left inside"
        );
        assert_eq!(
            task.peak.load(Ordering::SeqCst),
            3,
            "they really overlapped"
        );
        assert_eq!(pool.idle(), 3);
    }

    #[test]
    fn a_high_wake_up_estimate_does_not_outlive_its_samples() {
        let pool = WorkerPool::new(1, Duration::ZERO, false).unwrap();
        let shared = &pool.shared;
        for _ in 0..50 {
            shared.record_wake(Duration::from_millis(2));
        }
        let now = Instant::now();
        assert!(shared.wake_latency_at(now) > Duration::from_millis(1));
        assert_eq!(
            shared.wake_latency_at(now + STALE_AFTER * 2),
            INITIAL_WAKE_LATENCY,
            "unsampled for long, the estimate is the initial one again"
        );
    }

    #[test]
    fn a_posting_nobody_joined_raises_a_lower_estimate_only() {
        let pool = WorkerPool::new(1, Duration::ZERO, false).unwrap();
        let shared = &pool.shared;
        shared.record_unjoined(Duration::from_micros(1));
        assert_eq!(
            pool.wake_latency(),
            INITIAL_WAKE_LATENCY,
            "says nothing new"
        );
        shared.record_unjoined(Duration::from_millis(1));
        assert!(pool.wake_latency() > INITIAL_WAKE_LATENCY, "waited longer");
    }

    #[test]
    fn a_spin_too_long_for_the_clock_neither_panics_nor_hangs() {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let pool = WorkerPool::new(2, Duration::MAX, false).unwrap();
            let task = counter();
            task.hold.store(false, Ordering::SeqCst);
            pool.with_helpers(&task, 2, |_| task.help(Ticket::UNPOSTED));
            drop(pool);
            done.send(()).unwrap();
        });
        finished
            .recv_timeout(Duration::from_secs(60))
            .expect("the pool worked and was dropped");
    }

    #[test]
    fn a_worker_that_dies_is_counted_out() {
        let pool = WorkerPool::new(1, Duration::ZERO, false).unwrap();
        let shared = Arc::clone(&pool.shared);
        let died = std::thread::spawn(move || {
            let _life = WorkerLife::begin(&shared);
            panic!("a worker dies outside any task");
        })
        .join();
        assert!(died.is_err());
        assert_eq!(
            pool.shared.alive.load(Ordering::Acquire),
            1,
            "only the real worker is left"
        );
    }

    #[test]
    fn a_full_board_runs_the_work_without_helpers() {
        let pool = WorkerPool::new(1, Duration::ZERO, false).unwrap();
        let tasks: Vec<Counter> = (0..20).map(|_| counter()).collect();
        fn nest(pool: &WorkerPool, tasks: &[Counter], depth: usize) -> usize {
            match tasks.split_first() {
                None => depth,
                Some((first, rest)) => {
                    first.hold.store(false, Ordering::SeqCst);
                    pool.with_helpers(first, 0, |_| nest(pool, rest, depth + 1))
                }
            }
        }
        assert_eq!(nest(&pool, &tasks, 0), 20, "every level ran");
    }

    #[test]
    fn a_poster_that_unwinds_still_waits_for_its_helpers() {
        let pool = WorkerPool::new(1, Duration::from_micros(50), false).unwrap();
        let task = counter();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.with_helpers(&task, 1, |_| {
                let until = Instant::now() + Duration::from_secs(5);
                while task.helped.load(Ordering::SeqCst) < 1 && Instant::now() < until {
                    std::hint::spin_loop();
                }
                task.hold.store(false, Ordering::SeqCst);
                panic!("the poster fails");
            })
        }));
        assert!(result.is_err());
        assert_eq!(task.inside_now.load(Ordering::SeqCst), 0);
    }
}
