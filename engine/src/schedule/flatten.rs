//! Reads the bevy graph collected by [`SystemsConfig`] into what tickbus schedules: systems in
//! registration order with their own run conditions, the set memberships shown in the plan,
//! the run conditions of sets ([`SetGate`]s), membership of [`Spawners`], and every explicit
//! order as a pair of systems.
//!
//! bevy keeps the configuration of `ScheduleConfigs` private, but its `ScheduleGraph` is
//! public: `systems` and `system_sets` (with their conditions), `hierarchy()` (set → member)
//! and `dependency()` (before → after, between systems and sets). An order between two sets
//! becomes an order between every system of the first and every system of the second.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use bevy_ecs::{
    schedule::{
        BoxedCondition, NodeId, ScheduleGraph, SystemKey, SystemSet, SystemSetKey,
        SystemWithAccess, graph::Direction,
    },
    system::{IntoSystem, RunSystemError, ScheduleSystem},
};

use super::{
    config::{Spawners, SystemsConfig},
    node::{NodeFault, catch_fault, condition_result},
};
use crate::BuildError;

/// One system, out of the bevy graph.
pub(crate) struct FlatSystem {
    pub(crate) system: ScheduleSystem,
    pub(crate) conditions: Vec<BoxedCondition>,
    /// Names of the named sets it belongs to, directly or through other sets.
    pub(crate) sets: Vec<String>,
    /// Indices into [`FlatSchedule::gates`]: the sets with run conditions it belongs to.
    pub(crate) gates: Vec<usize>,
    /// In [`Spawners`] (directly or through other sets): declared to allocate entity ids.
    pub(crate) spawns: bool,
}

/// An explicit order between two systems (registration indices), with the nodes it was
/// configured between (a system or a set each, as bevy names them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FlatOrder {
    pub(crate) first: usize,
    pub(crate) then: usize,
    pub(crate) configured_before: String,
    pub(crate) configured_after: String,
}

/// The bevy graph, flattened.
pub(crate) struct FlatSchedule {
    pub(crate) systems: Vec<FlatSystem>,
    pub(crate) orders: Vec<FlatOrder>,
    pub(crate) gates: Vec<SetGate>,
}

/// The run conditions of one set, evaluated at most once per tick: right before the first
/// system of the set that is about to run (as bevy's executors do). All conditions of the set
/// are evaluated (no short-circuit, so conditions that track changes see every evaluation),
/// and the verdict holds for every system of the set during that tick.
///
/// A condition that fails or panics makes the verdict that failure, for every system of the
/// set that asks during the tick: each of them fails the same way, so the tick reports the
/// member with the lowest registration index whichever member happened to evaluate the
/// conditions first (which, on the parallel executor, may depend on thread timing).
///
/// Members of one set may run on several threads at once; the first to ask evaluates under
/// the gate's lock and the others wait for its verdict. That verdict does not depend on which
/// member was first: the conditions' access is part of every member's access, so any system
/// writing what they read is ordered against every member, and the members that could be
/// first are all on the same side of it.
pub(crate) struct SetGate {
    pub(crate) name: String,
    state: Mutex<GateState>,
}

struct GateState {
    conditions: Vec<BoxedCondition>,
    verdict: Option<Result<bool, NodeFault>>,
}

impl SetGate {
    fn new(name: String, conditions: Vec<BoxedCondition>) -> Self {
        Self {
            name,
            state: Mutex::new(GateState {
                conditions,
                verdict: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // Panics of conditions are caught while the lock is held, so it is not poisoned by
        // them; should anything else poison it, the state is still consistent (the verdict is
        // written in one assignment).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This tick's verdict, evaluating the conditions with `run` if no system of the set asked
    /// yet. A failing (or panicking) condition is the verdict: every member that asks this
    /// tick gets the same fault.
    pub(crate) fn verdict(
        &self,
        run: &mut impl FnMut(&mut BoxedCondition) -> Result<bool, RunSystemError>,
    ) -> Result<bool, NodeFault> {
        let mut state = self.lock();
        if let Some(verdict) = &state.verdict {
            return verdict.clone();
        }
        let conditions = &mut state.conditions;
        let verdict = catch_fault(|| {
            let mut open = true;
            for condition in conditions.iter_mut() {
                open &= condition_result(run(condition)).map_err(|fault| self.named(fault))?;
            }
            Ok(open)
        });
        state.verdict = Some(verdict.clone());
        verdict
    }

    fn named(&self, fault: NodeFault) -> NodeFault {
        match fault {
            NodeFault::Failed(message) => {
                NodeFault::Failed(format!("set {}: {message}", self.name))
            }
            panicked => panicked,
        }
    }

    /// Forgets the verdict: called before every tick.
    pub(crate) fn reset(&self) {
        self.lock().verdict = None;
    }

    /// Runs `f` on every condition of the set (initialization, change-tick upkeep).
    pub(crate) fn for_each_condition(&self, mut f: impl FnMut(&mut BoxedCondition)) {
        for condition in &mut self.lock().conditions {
            f(condition);
        }
    }
}

impl std::fmt::Debug for SetGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetGate")
            .field("name", &self.name)
            .field("verdict", &self.lock().verdict)
            .finish()
    }
}

impl SystemsConfig {
    /// Takes the systems, conditions and orders out of the bevy graph.
    pub(crate) fn flatten(mut self) -> Result<FlatSchedule, BuildError> {
        let graph = self.schedule.graph_mut();
        check_hierarchy(graph)?;
        let keys: Vec<SystemKey> = graph.systems.iter().map(|(key, ..)| key).collect();
        let index: HashMap<SystemKey, usize> =
            keys.iter().enumerate().map(|(i, &k)| (k, i)).collect();
        let members = Members::new(graph, &index);
        let orders = orders(graph, &members)?;
        let (gates, gates_of) = gates(graph, &members, keys.len());
        let spawners = spawners(graph, &members);
        let systems = keys
            .iter()
            .enumerate()
            .zip(gates_of)
            .map(|((i, &key), gates)| {
                let mut system = take_system(graph, key, gates);
                system.spawns = spawners.binary_search(&i).is_ok();
                system
            })
            .collect();
        Ok(FlatSchedule {
            systems,
            orders,
            gates,
        })
    }
}

/// A set that contains itself (through other sets) is refused, as bevy refuses it.
fn check_hierarchy(graph: &ScheduleGraph) -> Result<(), BuildError> {
    graph
        .hierarchy()
        .graph()
        .toposort(Vec::new())
        .map(|_| ())
        .map_err(|error| BuildError::SetCycle {
            detail: format!("{error:?}"),
        })
}

/// The systems of every node: a system is its own member; a set has the systems of its
/// subtree in the hierarchy.
struct Members {
    of: HashMap<NodeId, Vec<usize>>,
}

impl Members {
    fn new(graph: &ScheduleGraph, index: &HashMap<SystemKey, usize>) -> Self {
        let mut of = HashMap::new();
        for node in graph.hierarchy().nodes() {
            let mut systems = Vec::new();
            collect_members(graph, node, index, &mut systems);
            systems.sort_unstable();
            systems.dedup();
            of.insert(node, systems);
        }
        for (&key, &i) in index {
            of.insert(NodeId::System(key), vec![i]);
        }
        Self { of }
    }

    fn of(&self, node: NodeId) -> &[usize] {
        self.of.get(&node).map_or(&[], Vec::as_slice)
    }
}

fn collect_members(
    graph: &ScheduleGraph,
    node: NodeId,
    index: &HashMap<SystemKey, usize>,
    out: &mut Vec<usize>,
) {
    match node {
        NodeId::System(key) => out.extend(index.get(&key)),
        NodeId::Set(_) => {
            for child in graph
                .hierarchy()
                .neighbors_directed(node, Direction::Outgoing)
            {
                collect_members(graph, child, index, out);
            }
        }
    }
}

/// Every dependency edge as orders between systems, sorted and without repeats. An order
/// against a system that was never added is an error (it is almost always a mistake); an
/// order against an empty named set is not (as in bevy, a set may be empty in some builds).
fn orders(graph: &ScheduleGraph, members: &Members) -> Result<Vec<FlatOrder>, BuildError> {
    let mut orders = Vec::new();
    for (before, after) in graph.dependency().all_edges() {
        let (firsts, thens) = (members.of(before), members.of(after));
        check_target(graph, before, firsts, after)?;
        check_target(graph, after, thens, before)?;
        for &first in firsts {
            for &then in thens.iter().filter(|&&then| then != first) {
                orders.push(FlatOrder {
                    first,
                    then,
                    configured_before: node_name(graph, before),
                    configured_after: node_name(graph, after),
                });
            }
        }
    }
    orders.sort_by_key(|order| (order.then, order.first));
    orders.dedup_by_key(|order| (order.then, order.first));
    Ok(orders)
}

fn check_target(
    graph: &ScheduleGraph,
    target: NodeId,
    systems: &[usize],
    other: NodeId,
) -> Result<(), BuildError> {
    let is_system_type = target
        .as_set()
        .and_then(|key| graph.system_sets.get(key))
        .is_some_and(|set| set.system_type().is_some());
    if is_system_type && systems.is_empty() {
        return Err(BuildError::UnknownOrderTarget {
            system: node_name(graph, other),
            target: node_name(graph, target),
        });
    }
    Ok(())
}

/// A node as messages and the plan show it: `system name` or `set Name`.
fn node_name(graph: &ScheduleGraph, node: NodeId) -> String {
    match node {
        NodeId::System(_) => format!("system {}", graph.get_node_name(&node)),
        NodeId::Set(key) => match graph.system_sets.get(key) {
            Some(set) if set.system_type().is_some() => {
                let name = format!("{set:?}");
                let path = name.trim_start_matches("SystemTypeSet:");
                format!("system {}", short_path(path))
            }
            _ => format!("set {}", graph.get_node_name(&node)),
        },
    }
}

/// `a::b::c` → `c` (system type names are full paths).
fn short_path(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

/// The sets with run conditions, their conditions taken out of the graph, and for every
/// system the gates it passes (in the order the sets were first mentioned).
fn gates(
    graph: &mut ScheduleGraph,
    members: &Members,
    systems: usize,
) -> (Vec<SetGate>, Vec<Vec<usize>>) {
    let keys: Vec<SystemSetKey> = graph
        .system_sets
        .iter()
        .filter(|(_, _, conditions)| !conditions.is_empty())
        .map(|(key, ..)| key)
        .collect();
    let mut gates = Vec::with_capacity(keys.len());
    let mut gates_of = vec![Vec::new(); systems];
    for key in keys {
        let node = NodeId::Set(key);
        for &system in members.of(node) {
            gates_of[system].push(gates.len());
        }
        let conditions = graph
            .system_sets
            .get_conditions_mut(key)
            .map(std::mem::take)
            .unwrap_or_default();
        let name = graph.get_node_name(&node);
        gates.push(SetGate::new(
            name,
            conditions.into_iter().map(|c| c.condition).collect(),
        ));
    }
    (gates, gates_of)
}

/// The systems in [`Spawners`], directly or through other sets (sorted).
fn spawners(graph: &ScheduleGraph, members: &Members) -> Vec<usize> {
    graph
        .system_sets
        .get_key(Spawners.intern())
        .map_or_else(Vec::new, |key| members.of(NodeId::Set(key)).to_vec())
}

/// Moves a system and its conditions out of the graph (leaving an empty system behind: the
/// graph is dropped right after).
fn take_system(graph: &mut ScheduleGraph, key: SystemKey, gates: Vec<usize>) -> FlatSystem {
    let sets = set_names(graph, NodeId::System(key));
    let conditions = graph
        .systems
        .get_conditions_mut(key)
        .map(std::mem::take)
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.condition)
        .collect();
    let slot = graph
        .systems
        .get_mut(key)
        .expect("keys come from the graph's own list");
    let placeholder = SystemWithAccess::new(Box::new(IntoSystem::into_system(|| {})));
    FlatSystem {
        system: Box::new(std::mem::replace(slot, placeholder)),
        conditions,
        sets,
        gates,
        spawns: false,
    }
}

/// The names of the named sets (not system-type or anonymous ones) containing `node`,
/// sorted (as bevy lists them).
fn set_names(graph: &ScheduleGraph, node: NodeId) -> Vec<String> {
    let mut found: Vec<SystemSetKey> = Vec::new();
    let mut stack = vec![node];
    while let Some(current) = stack.pop() {
        for parent in graph
            .hierarchy()
            .neighbors_directed(current, Direction::Incoming)
        {
            let Some(key) = parent.as_set() else { continue };
            if !found.contains(&key) {
                found.push(key);
                stack.push(parent);
            }
        }
    }
    let mut names: Vec<String> = found
        .into_iter()
        .filter(|&key| {
            graph
                .system_sets
                .get(key)
                .is_some_and(|set| set.system_type().is_none() && !set.is_anonymous())
        })
        .map(|key| graph.get_node_name(&NodeId::Set(key)))
        .collect();
    names.sort();
    names
}
