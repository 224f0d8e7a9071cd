//! One scheduled system: the bevy system, its run conditions, what it accesses, and timings.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bevy_ecs::{
    change_detection::CheckChangeTicks,
    schedule::BoxedCondition,
    system::{RunSystemError, ScheduleSystem, SystemAccess},
    world::{World, WorldId},
};

use super::{
    flatten::{FlatSystem, SetGate},
    shared_world::ScheduleId,
};
use crate::BuildError;

/// Systems whose average run time is below this are timed only on sampling ticks: reading
/// the clock costs about as much as running them.
pub(crate) const ALWAYS_TIMED: Duration = Duration::from_micros(1);

/// Every this many ticks, every system is timed.
pub(crate) const SAMPLE_EVERY: u64 = 16;

/// Run-time figures of one system, for the stats module and the parallel executor's choices.
///
/// Systems that take at least 1 µs on average are timed on every run; cheaper ones on every
/// 16th tick (and on their first run), because reading the clock costs about as much as
/// running them. A single timing is capped at 4× the running average before it enters the
/// average, so one preemption does not make a trivial system look heavy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemTiming {
    /// How long the system took the last time it was timed (`None`: not yet timed, or it
    /// was skipped last tick).
    pub last: Option<Duration>,
    /// Moving average of its timed runs (weight 1/8 per run).
    pub average: Duration,
    /// Ticks in which it ran.
    pub runs: u64,
    /// Runs that were timed.
    pub timed: u64,
    /// Ticks in which a run condition (or a parameter) skipped it.
    pub skipped: u64,
}

/// When and where one traced run of a system happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RunSpan {
    pub(crate) start: Instant,
    pub(crate) end: Instant,
    pub(crate) thread: usize,
}

/// A small number for the calling thread, the same for its whole life (trace tracks).
pub(crate) fn thread_number() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NUMBER.with(|number| *number)
}

impl SystemTiming {
    /// Whether this run should be timed.
    pub(crate) fn wants_timing(&self, sampling_tick: bool) -> bool {
        sampling_tick || self.timed == 0 || self.average >= ALWAYS_TIMED
    }

    pub(crate) fn record_run(&mut self, elapsed: Duration) {
        self.average = if self.timed == 0 {
            elapsed
        } else {
            let capped = elapsed.min((self.average * 4).max(ALWAYS_TIMED));
            (self.average * 7 + capped) / 8
        };
        self.last = Some(elapsed);
        self.runs += 1;
        self.timed += 1;
    }

    pub(crate) fn record_untimed_run(&mut self) {
        self.runs += 1;
    }

    pub(crate) fn record_skip(&mut self) {
        self.last = None;
        self.skipped += 1;
    }
}

/// What happened when a node was asked to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunOutcome {
    Ran,
    Skipped,
}

/// Why a node did not finish normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NodeFault {
    Panicked(String),
    Failed(String),
    /// It allocated entity ids while it may have run at the same time as another system
    /// with `Commands` (see [`EdgeReason::SpawnOrder`](super::EdgeReason::SpawnOrder)).
    UndeclaredSpawn {
        entities: u32,
    },
    /// Its step allocated ids that no system may take, and applying the step's deferred work
    /// did not show whose they were; `suspects` (registration order) are the systems of the
    /// step that could have allocated them.
    UnattributedSpawn {
        entities: u32,
        suspects: Vec<usize>,
    },
}

/// A system as the schedule holds it.
pub(crate) struct SystemNode {
    pub(crate) system: ScheduleSystem,
    pub(crate) conditions: Vec<BoxedCondition>,
    pub(crate) name: String,
    /// Names of the named sets it belongs to (for the plan).
    pub(crate) sets: Vec<String>,
    /// The run conditions of its sets, shared with the other systems of each set.
    pub(crate) gates: Vec<Arc<SetGate>>,
    /// The system's access first, then each condition's, then each set condition's.
    pub(crate) access: Vec<SystemAccess>,
    pub(crate) is_exclusive: bool,
    pub(crate) is_send: bool,
    pub(crate) has_deferred: bool,
    pub(crate) world_id: WorldId,
    /// The schedule it belongs to (set once the schedule is built).
    pub(crate) schedule: Option<ScheduleId>,
    pub(crate) timing: SystemTiming,
    /// System tracing is on: every run is timed and kept in `span`.
    pub(crate) traced: bool,
    /// The last traced run, until the engine takes it.
    pub(crate) span: Option<RunSpan>,
    /// Registration index (what the access guard and the failure order speak of).
    pub(crate) index: usize,
    /// In [`Spawners`](super::config::Spawners): allocates entity ids while it runs.
    pub(crate) declared_spawner: bool,
    /// May allocate entity ids while it runs: declared, or ordered against every other
    /// system with deferred buffers of its step anyway (set by the graph).
    pub(crate) may_spawn: bool,
    /// Count its allocations this tick (a may-spawn system of a step that checks spawns).
    pub(crate) count_spawns: bool,
    /// Entity ids it allocated this tick, when counted.
    pub(crate) allocated: u32,
    /// Its step allocated ids nobody may have: look at what its commands spawn (set for the
    /// systems of such a step until their deferred work is applied).
    pub(crate) suspect: bool,
}

impl SystemNode {
    /// Initializes the system (registered as number `index`) and its conditions on `world`
    /// (bevy's `System::initialize`). `gates` are the (initialized) run conditions of all sets
    /// with their access; the node takes those of its own sets.
    ///
    /// bevy refuses a system whose own parameters conflict (`Query<&mut A>` twice, say) by
    /// panicking in `initialize`; that panic is caught and becomes
    /// [`BuildError::InvalidSystem`] naming the system.
    pub(crate) fn initialize(
        flat: FlatSystem,
        index: usize,
        gates: &[(Arc<SetGate>, Vec<SystemAccess>, bool)],
        world: &mut World,
    ) -> Result<Self, BuildError> {
        let FlatSystem {
            mut system,
            mut conditions,
            sets,
            gates: own_gates,
            spawns,
        } = flat;
        let initialized = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut access = vec![system.initialize(world)];
            access.extend(conditions.iter_mut().map(|c| c.initialize(world)));
            access
        }));
        let mut access = initialized.map_err(|payload| {
            let message = panic_message(payload.as_ref());
            drop_panic(payload);
            BuildError::InvalidSystem {
                system: system.name().shortname().to_string(),
                message,
            }
        })?;
        let name = system.name().shortname().to_string();
        refuse_deferred_conditions(&conditions, || format!("system {name}"))?;
        let mut gates_send = true;
        for &gate in &own_gates {
            access.extend(gates[gate].1.iter().cloned());
            gates_send &= gates[gate].2;
        }
        let is_exclusive = access.iter().any(SystemAccess::is_exclusive);
        Ok(Self {
            name,
            is_send: system.is_send() && conditions.iter().all(|c| c.is_send()) && gates_send,
            has_deferred: system.has_deferred(),
            conditions,
            sets,
            gates: own_gates
                .iter()
                .map(|&gate| gates[gate].0.clone())
                .collect(),
            access,
            is_exclusive,
            world_id: world.id(),
            schedule: None,
            timing: SystemTiming::default(),
            traced: false,
            span: None,
            system,
            index,
            declared_spawner: spawns,
            may_spawn: spawns,
            count_spawns: false,
            allocated: 0,
            suspect: false,
        })
    }

    /// Runs conditions and system with exclusive access to the world (sequential paths and
    /// exclusive systems). Deferred buffers are not applied here (conditions have none: see
    /// [`refuse_deferred_conditions`]), exactly as on the parallel path.
    pub(crate) fn run_with_world(&mut self, world: &mut World) -> Result<RunOutcome, NodeFault> {
        catch_fault(|| {
            if !self.should_run(|condition| condition.run_without_applying_deferred((), world))? {
                return Ok(RunOutcome::Skipped);
            }
            system_result(self.system.run_without_applying_deferred((), world))
        })
    }

    /// Whether the system runs this tick, as bevy decides it: the conditions of its sets not
    /// yet evaluated this tick (each set at most once per tick, see [`SetGate`]), then its
    /// own conditions. Every condition is evaluated, without short-circuit, as bevy does, so
    /// conditions that track changes see every tick. `run` runs one condition.
    pub(crate) fn should_run(
        &mut self,
        mut run: impl FnMut(&mut BoxedCondition) -> Result<bool, RunSystemError>,
    ) -> Result<bool, NodeFault> {
        let mut should_run = true;
        for gate in &self.gates {
            should_run &= gate.verdict(&mut run)?;
        }
        for condition in &mut self.conditions {
            should_run &= condition_result(run(condition))?;
        }
        Ok(should_run)
    }

    pub(crate) fn check_change_ticks(&mut self, check: CheckChangeTicks) {
        self.system.check_change_tick(check);
        for condition in &mut self.conditions {
            condition.check_change_tick(check);
        }
    }
}

/// Refuses run conditions with deferred buffers (`Commands` is a read-only parameter to bevy,
/// so `fn cond(mut commands: Commands) -> bool` is a valid condition). Where would their work
/// go? Applied at once on a thread that has the world to itself, it would land in the middle
/// of a step; left in the condition on a worker, it would wait for some later inline run. The
/// world would then depend on which thread evaluated the condition, so such a condition is a
/// build error naming it and `owner` (what it gates).
pub(crate) fn refuse_deferred_conditions(
    conditions: &[BoxedCondition],
    owner: impl Fn() -> String,
) -> Result<(), BuildError> {
    match conditions.iter().find(|condition| condition.has_deferred()) {
        Some(condition) => Err(BuildError::DeferredCondition {
            condition: condition.name().shortname().to_string(),
            owner: owner(),
        }),
        None => Ok(()),
    }
}

/// Turns a condition's result into "run or not", or a fault.
pub(crate) fn condition_result(
    result: Result<bool, bevy_ecs::system::RunSystemError>,
) -> Result<bool, NodeFault> {
    use bevy_ecs::system::RunSystemError;
    match result {
        Ok(run) => Ok(run),
        Err(RunSystemError::Skipped(_)) => Ok(false),
        Err(RunSystemError::Failed(error)) => {
            Err(NodeFault::Failed(format!("run condition failed: {error}")))
        }
    }
}

/// Turns a system's result into an outcome, or a fault.
pub(crate) fn system_result(
    result: Result<(), bevy_ecs::system::RunSystemError>,
) -> Result<RunOutcome, NodeFault> {
    use bevy_ecs::system::RunSystemError;
    match result {
        Ok(()) => Ok(RunOutcome::Ran),
        Err(RunSystemError::Skipped(_)) => Ok(RunOutcome::Skipped),
        Err(RunSystemError::Failed(error)) => Err(NodeFault::Failed(error.to_string())),
    }
}

/// Runs `f`, turning a panic into [`NodeFault::Panicked`] with the panic's message.
pub(crate) fn catch_fault<T>(f: impl FnOnce() -> Result<T, NodeFault>) -> Result<T, NodeFault> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            drop_panic(payload);
            Err(NodeFault::Panicked(message))
        }
    }
}

/// Drops a caught panic's payload without letting it unwind: a payload is any value, and its
/// `Drop` may panic in turn, which would escape the catcher (out of a tick, or out of a worker
/// thread). A payload whose drop panicked is dropped no further: its own payload is leaked.
pub(crate) fn drop_panic(payload: Box<dyn std::any::Any + Send>) {
    if let Err(again) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(payload))) {
        std::mem::forget(again);
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}
