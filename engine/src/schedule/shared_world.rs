//! How the parallel executor lends one world and one list of systems to several threads at
//! once. The executor's unsafe code besides the worker threads' (`workers.rs`), and it checks
//! what it relies on rather than trusting its caller:
//!
//! * [`NodeSlots`] hands out each system of a schedule at most once per step (an atomic claim
//!   flag per system), so no two threads ever hold the same system;
//! * [`SharedWorld::run_node`] checks before every run that the system belongs to this world
//!   and to the schedule whose conflicts the [`AccessGuard`] holds (a node of another schedule
//!   has indices that mean other systems there), is not exclusive, may run on this thread
//!   (non-`Send` systems only on the world's owner) and that no system whose data access
//!   conflicts with it is running (atomic in-flight bits, [`AccessGuard`]).
//!
//! So a scheduling bug shows up as a [`NodeFault`], never as a data race. What it does take on
//! trust is bevy's own contract: that a system's `initialize` reported all of the access its
//! `run_unsafe` uses.

use std::{
    marker::PhantomData,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    thread::ThreadId,
};

use bevy_ecs::{
    entity::EntityAllocator,
    world::{World, unsafe_world_cell::UnsafeWorldCell},
};

use super::{
    bitset::BitSet,
    node::{NodeFault, RunOutcome, SystemNode, catch_fault, system_result},
};

/// Names one schedule, so that its access guard refuses the systems of any other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScheduleId(u64);

impl ScheduleId {
    /// An id no other schedule of this process has.
    pub(crate) fn unique() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Which systems are running right now, one bit each, and which pairs may not overlap.
pub(crate) struct AccessGuard {
    schedule: ScheduleId,
    in_flight: Vec<AtomicU64>,
    conflicts: Vec<BitSet>,
}

impl AccessGuard {
    /// `conflicts[a]` lists the systems of `schedule` whose data access conflicts with system
    /// `a`'s.
    pub(crate) fn new(schedule: ScheduleId, conflicts: Vec<BitSet>) -> Self {
        let words = conflicts.len().div_ceil(64);
        Self {
            schedule,
            in_flight: (0..words).map(|_| AtomicU64::new(0)).collect(),
            conflicts,
        }
    }

    /// Marks `index` as running unless a conflicting system is. Both threads of a racing
    /// pair set their bit before they look at the other's (SeqCst), so at least one sees the
    /// other and backs off.
    fn try_enter(&self, index: usize) -> Option<InFlight<'_>> {
        let conflicting = self.conflicts.get(index)?;
        let bit = 1u64 << (index % 64);
        self.in_flight[index / 64].fetch_or(bit, Ordering::SeqCst);
        let entered = InFlight { guard: self, index };
        let clash = self
            .in_flight
            .iter()
            .zip(conflicting.words())
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

    /// The world's entity allocator (it allocates through `&self`, atomically).
    pub(crate) fn entity_allocator(&self) -> &'w EntityAllocator {
        self.cell.entity_allocator()
    }

    /// Runs `node` with its run conditions and those of its sets, if that is sound right now;
    /// a refusal is a scheduling bug reported as a fault, never undefined behaviour.
    pub(crate) fn run_node(&self, node: &mut SystemNode) -> Result<RunOutcome, NodeFault> {
        self.check_runnable(node)?;
        let Some(_in_flight) = self.guard.try_enter(node.index) else {
            return Err(refused(node, "a system with conflicting access is running"));
        };
        let cell = self.cell;
        catch_fault(|| {
            let should_run = node.should_run(|condition| {
                // SAFETY: `check_runnable` passed for the node, whose flags cover its
                // conditions and those of its sets: they were initialized on this world
                // (`SystemNode::initialize`), none is exclusive (their access is part of the
                // node's, which is not) and, if one is not `Send`, the node is not either and
                // this is the world's thread. The node's access includes all of theirs, so
                // `try_enter` proved that no system whose access conflicts with any of them is
                // in flight, until `_in_flight` drops. A set's conditions are shared by the
                // set's members, which may be in flight together: each condition runs only
                // under its set gate's lock (one thread at a time), and since the conditions'
                // access is part of every member's access, two members that may be in flight
                // together do not conflict with each other's conditions either. `'w` keeps
                // every other user of the world away.
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
        if node.schedule != Some(self.guard.schedule) {
            return Err(refused(node, "it belongs to another schedule"));
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

/// The systems of a schedule, lent to the threads of one step: each can be claimed once.
pub(crate) struct NodeSlots<'a> {
    nodes: *mut SystemNode,
    claimed: &'a [AtomicBool],
    _nodes: PhantomData<&'a mut [SystemNode]>,
}

// SAFETY: a `NodeSlots` hands out `&mut SystemNode` to whichever thread claims it, at most
// once per node (`claim`); `SystemNode` is `Send` (bevy systems are `Send + Sync`), so
// moving those exclusive borrows between threads is sound.
unsafe impl Send for NodeSlots<'_> {}
// SAFETY: shared use only reaches `claim`, which is synchronized by the atomic claim flags.
unsafe impl Sync for NodeSlots<'_> {}

impl<'a> NodeSlots<'a> {
    /// Lends `nodes` for `'a`, with `claimed` (one flag per node) as the claim record.
    pub(crate) fn new(nodes: &'a mut [SystemNode], claimed: &'a mut [AtomicBool]) -> Self {
        assert_eq!(nodes.len(), claimed.len(), "one claim flag per system");
        for flag in claimed.iter_mut() {
            *flag.get_mut() = false;
        }
        Self {
            nodes: nodes.as_mut_ptr(),
            claimed,
            _nodes: PhantomData,
        }
    }

    /// System `index`, unless it was claimed before (or does not exist).
    pub(crate) fn claim(&self, index: usize) -> Option<&'a mut SystemNode> {
        let flag = self.claimed.get(index)?;
        if flag.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: `index` is in bounds (it has a flag, and there is one flag per node); the
        // flag was false and is now true, so this is the only reference to that node handed
        // out during `'a`; `new` borrowed the whole slice mutably for `'a`, so nothing else
        // reaches it meanwhile.
        Some(unsafe { &mut *self.nodes.add(index) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Schedule;

    fn nodes(world: &mut World, count: usize) -> Vec<SystemNode> {
        Schedule::of_trivial(count, world).nodes
    }

    #[test]
    fn each_system_is_lent_once() {
        let mut world = World::new();
        let mut nodes = nodes(&mut world, 3);
        let mut flags: Vec<AtomicBool> = (0..3).map(|_| AtomicBool::new(true)).collect();
        let slots = NodeSlots::new(&mut nodes, &mut flags);
        assert!(slots.claim(1).is_some());
        assert!(slots.claim(1).is_none(), "claimed twice");
        assert!(slots.claim(0).is_some(), "flags start cleared");
        assert!(slots.claim(3).is_none(), "out of range");
    }

    #[test]
    fn a_system_of_another_schedule_on_the_same_world_is_refused() {
        let mut world = World::new();
        let mut foreign = nodes(&mut world, 1);
        let guard = AccessGuard::new(ScheduleId::unique(), vec![BitSet::with_len(1)]);
        let shared = SharedWorld::new(&mut world, &guard);
        let fault = shared.run_node(&mut foreign[0]).unwrap_err();
        assert!(matches!(fault, NodeFault::Failed(m) if m.contains("another schedule")));
    }

    #[test]
    fn a_system_of_another_world_is_refused() {
        let mut world = World::new();
        let mut other = World::new();
        let mut foreign = nodes(&mut other, 1);
        let guard = AccessGuard::new(ScheduleId::unique(), vec![BitSet::with_len(1)]);
        let shared = SharedWorld::new(&mut world, &guard);
        let fault = shared.run_node(&mut foreign[0]).unwrap_err();
        assert!(matches!(fault, NodeFault::Failed(m) if m.contains("another world")));
    }

    #[test]
    fn conflicting_systems_cannot_enter_together() {
        let mut row = BitSet::with_len(2);
        row.insert(1);
        let mut other = BitSet::with_len(2);
        other.insert(0);
        let guard = AccessGuard::new(ScheduleId::unique(), vec![row, other]);
        let first = guard.try_enter(0).expect("nothing runs yet");
        assert!(guard.try_enter(1).is_none(), "0 is running");
        drop(first);
        assert!(guard.try_enter(1).is_some(), "0 left");
        assert!(guard.try_enter(7).is_none(), "no such system");
    }
}
