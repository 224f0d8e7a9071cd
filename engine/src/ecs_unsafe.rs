//! The crate's only unsafe code, kept small and argued block by block:
//!
//! 1. the bevy_ecs [`SystemParam`] impls of [`EventReader`] and [`EventWriter`], which forward
//!    to bevy's own `Res` impl or touch only the system's private state;
//! 2. [`SharedWorld`], through which the parallel executor runs several systems on one world at
//!    the same time. It does not trust its caller: before a system runs it checks, with atomic
//!    in-flight bits, that no system whose access conflicts with it is running, and it refuses
//!    exclusive systems, non-`Send` systems off the owning thread and systems of another world.
//!    So a scheduling bug shows up as an error, never as a data race.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::ThreadId;

use bevy_ecs::{
    change_detection::Tick,
    component::ComponentId,
    system::{
        ReadOnlySystemParam, Res, SystemAccess, SystemMeta, SystemParam, SystemParamValidationError,
    },
    world::{World, unsafe_world_cell::UnsafeWorldCell},
};

use crate::{
    Event, EventQueue, EventReader, EventWriter,
    queue::registry::{ensure_queue, with_queue},
    schedule::{
        bitset::BitSet,
        node::{NodeFault, RunOutcome, SystemNode, catch_fault, system_result},
    },
};

// SAFETY: all access goes through `Res<EventQueue<T>>`'s own impl: `init_access` registers a
// shared read of the queue resource and `get_param` only reads it, through that impl.
unsafe impl<T: Event> SystemParam for EventReader<'_, T> {
    type State = ComponentId;
    type Item<'w, 's> = EventReader<'w, T>;

    fn init_state(world: &mut World) -> Self::State {
        ensure_queue::<T>(world);
        <Res<EventQueue<T>> as SystemParam>::init_state(world)
    }

    fn init_access(
        state: &Self::State,
        system_meta: &mut SystemMeta,
        system_access: &mut SystemAccess,
        world: &mut World,
    ) {
        <Res<EventQueue<T>> as SystemParam>::init_access(state, system_meta, system_access, world);
    }

    unsafe fn get_param<'w, 's>(
        state: &'s mut Self::State,
        system_meta: &SystemMeta,
        world: UnsafeWorldCell<'w>,
        change_tick: Tick,
    ) -> Result<Self::Item<'w, 's>, SystemParamValidationError> {
        // SAFETY: our caller upholds `get_param`'s contract for this param, whose access is
        // exactly that of `Res<EventQueue<T>>` with the same state.
        let queue = unsafe {
            <Res<EventQueue<T>> as SystemParam>::get_param(state, system_meta, world, change_tick)
        }?
        .into_inner();
        queue.mark_consumed();
        Ok(EventReader { queue })
    }
}

// SAFETY: `EventReader` only reads the queue resource (`mark_consumed` is an atomic flag).
unsafe impl<T: Event> ReadOnlySystemParam for EventReader<'_, T> {}

// SAFETY: `get_param` touches no world data, only the system's own state, so registering no
// access is correct; the world is written only in `apply`, which holds `&mut World`.
unsafe impl<T: Event> SystemParam for EventWriter<'_, T> {
    type State = Vec<T>;
    type Item<'w, 's> = EventWriter<'s, T>;

    fn init_state(world: &mut World) -> Self::State {
        ensure_queue::<T>(world);
        Vec::new()
    }

    fn init_access(
        _state: &Self::State,
        _system_meta: &mut SystemMeta,
        _system_access: &mut SystemAccess,
        _world: &mut World,
    ) {
    }

    fn apply(state: &mut Self::State, _system_meta: &SystemMeta, world: &mut World) {
        if state.is_empty() {
            return;
        }
        with_queue::<T, _>(world, |queue| queue.merge_written(state));
    }

    unsafe fn get_param<'w, 's>(
        state: &'s mut Self::State,
        _system_meta: &SystemMeta,
        _world: UnsafeWorldCell<'w>,
        _change_tick: Tick,
    ) -> Result<Self::Item<'w, 's>, SystemParamValidationError> {
        Ok(EventWriter { buffer: state })
    }
}

/// Which systems are running right now, one bit each, and which pairs may not overlap.
pub(crate) struct AccessGuard {
    in_flight: Vec<AtomicU64>,
    conflicts: Vec<BitSet>,
}

impl AccessGuard {
    /// `conflicts[a]` lists the systems whose data access conflicts with system `a`'s.
    pub(crate) fn new(conflicts: Vec<BitSet>) -> Self {
        let words = conflicts.len().div_ceil(64);
        Self {
            in_flight: (0..words).map(|_| AtomicU64::new(0)).collect(),
            conflicts,
        }
    }

    /// Marks `index` as running unless a conflicting system is. Both threads of a racing
    /// pair set their bit before they look at the other's (SeqCst), so at least one sees the
    /// other and backs off.
    fn try_enter(&self, index: usize) -> Option<InFlight<'_>> {
        let bit = 1u64 << (index % 64);
        self.in_flight[index / 64].fetch_or(bit, Ordering::SeqCst);
        let entered = InFlight { guard: self, index };
        let clash = self
            .in_flight
            .iter()
            .zip(self.conflicts[index].words())
            .any(|(running, conflicting)| running.load(Ordering::SeqCst) & conflicting != 0);
        (!clash).then_some(entered)
    }
}

/// Clears a system's in-flight bit when it finishes, even by panic.
struct InFlight<'g> {
    guard: &'g AccessGuard,
    index: usize,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let bit = 1u64 << (self.index % 64);
        self.guard.in_flight[self.index / 64].fetch_and(!bit, Ordering::SeqCst);
    }
}

/// A world lent to several systems at once for one step of a tick.
#[derive(Clone, Copy)]
pub(crate) struct SharedWorld<'w> {
    cell: UnsafeWorldCell<'w>,
    guard: &'w AccessGuard,
    owner: ThreadId,
}

impl<'w> SharedWorld<'w> {
    /// Borrows the world mutably for `'w`: nothing else can touch it while systems share it.
    pub(crate) fn new(world: &'w mut World, guard: &'w AccessGuard) -> Self {
        Self {
            cell: world.as_unsafe_world_cell(),
            guard,
            owner: std::thread::current().id(),
        }
    }

    /// Runs `node` (registered as system `index`) and its run conditions, if that is sound
    /// right now; a refusal is a scheduling bug reported as a fault, never undefined behaviour.
    pub(crate) fn run_node(
        &self,
        index: usize,
        node: &mut SystemNode,
    ) -> Result<RunOutcome, NodeFault> {
        self.check_runnable(node)?;
        let Some(_in_flight) = self.guard.try_enter(index) else {
            return Err(refused(node, "a system with conflicting access is running"));
        };
        let cell = self.cell;
        catch_fault(|| {
            let should_run = node.should_run(|condition| {
                // SAFETY: `check_runnable` passed, so the conditions (the node's own and those
                // of its sets) belong to this world, none is exclusive and they run on a
                // thread they may run on; the node's access includes all of theirs, so
                // `try_enter` proved that no system whose access conflicts with any of them is
                // running; and `'w` keeps every other user of the world away. Two systems of
                // one set may be in flight together, but a set's conditions only read, and
                // run under the set's lock.
                unsafe { condition.run_unsafe((), cell) }
            })?;
            if !should_run {
                return Ok(RunOutcome::Skipped);
            }
            // SAFETY: as for the conditions above: same world, not exclusive, a permitted
            // thread, and no conflicting system in flight until `_in_flight` drops.
            system_result(unsafe { node.system.run_unsafe((), cell) })
        })
    }

    fn check_runnable(&self, node: &SystemNode) -> Result<(), NodeFault> {
        if node.world_id != self.cell.id() {
            return Err(refused(node, "it was initialized on another world"));
        }
        if node.is_exclusive {
            return Err(refused(node, "it is exclusive and needs the world alone"));
        }
        if !node.is_send && std::thread::current().id() != self.owner {
            return Err(refused(
                node,
                "it is not Send and this is not the world's thread",
            ));
        }
        Ok(())
    }
}

fn refused(node: &SystemNode, why: &str) -> NodeFault {
    NodeFault::Failed(format!(
        "internal scheduling error: refused to run {} because {why}",
        node.name
    ))
}
