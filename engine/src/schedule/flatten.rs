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
    collections::{HashMap, HashSet},
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
        let hierarchy_order = sorted_hierarchy(graph)?;
        let keys: Vec<SystemKey> = graph.systems.iter().map(|(key, ..)| key).collect();
        let members = Members::new(graph, &keys, &hierarchy_order);
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

/// A set that contains itself (through other sets) is refused, as bevy refuses it. Returns
/// the hierarchy in topological order (every set before its members).
fn sorted_hierarchy(graph: &ScheduleGraph) -> Result<Vec<NodeId>, BuildError> {
    graph
        .hierarchy()
        .graph()
        .toposort(Vec::new())
        .map_err(|error| BuildError::SetCycle {
            detail: format!("{error:?}"),
        })
}

/// The systems of every node: a system is its own member; a set has the systems of its
/// subtree in the hierarchy (sorted registration indices).
struct Members {
    of: HashMap<NodeId, Vec<usize>>,
    /// The systems' keys, by registration index.
    systems: Vec<SystemKey>,
}

impl Members {
    /// Bottom-up over the hierarchy (members before the sets containing them), so every set
    /// merges the finished lists of its direct members once: linear in the hierarchy's edges
    /// times the members passed up, however many paths lead from a set to a system.
    fn new(graph: &ScheduleGraph, systems: &[SystemKey], hierarchy_order: &[NodeId]) -> Self {
        let mut of: HashMap<NodeId, Vec<usize>> = systems
            .iter()
            .enumerate()
            .map(|(i, &key)| (NodeId::System(key), vec![i]))
            .collect();
        for &node in hierarchy_order.iter().rev() {
            if node.is_system() {
                continue;
            }
            let mut subtree: Vec<usize> = graph
                .hierarchy()
                .neighbors_directed(node, Direction::Outgoing)
                .flat_map(|child| of.get(&child).map_or(&[][..], Vec::as_slice))
                .copied()
                .collect();
            subtree.sort_unstable();
            subtree.dedup();
            of.insert(node, subtree);
        }
        Self {
            of,
            systems: systems.to_vec(),
        }
    }

    fn of(&self, node: NodeId) -> &[usize] {
        self.of.get(&node).map_or(&[], Vec::as_slice)
    }
}

/// True when `set` contains `node`, directly or through other sets.
fn contains(graph: &ScheduleGraph, set: NodeId, node: NodeId) -> bool {
    let mut seen = HashSet::new();
    let mut stack = vec![node];
    while let Some(current) = stack.pop() {
        for parent in graph
            .hierarchy()
            .neighbors_directed(current, Direction::Incoming)
        {
            if parent == set {
                return true;
            }
            if seen.insert(parent) {
                stack.push(parent);
            }
        }
    }
    false
}

/// Every dependency edge as orders between systems, sorted and without repeats.
///
/// An order against an empty set passes through it, as in bevy: with `(A, B, C).chain()`
/// and nothing in B, A's systems still run before C's (through any number of empty sets).
/// Refused, as bevy refuses them: an order against a system that was never added (it is
/// almost always a mistake; an empty named set is fine, a set may be empty in some builds),
/// against a function whose type names several systems, between a node and a set containing
/// it, and between two sets that share a system.
fn orders(graph: &ScheduleGraph, members: &Members) -> Result<Vec<FlatOrder>, BuildError> {
    for (before, after) in graph.dependency().all_edges() {
        check_target(graph, before, members.of(before), after)?;
        check_target(graph, after, members.of(after), before)?;
        check_not_nested(graph, before, after)?;
    }
    let mut orders = Vec::new();
    for before in graph.dependency().nodes() {
        let firsts = members.of(before);
        if firsts.is_empty() {
            continue;
        }
        for after in successors_through_empty(graph, members, before) {
            push_orders(graph, members, before, after, &mut orders)?;
        }
    }
    orders.sort_by_key(|order| (order.then, order.first));
    orders.dedup_by_key(|order| (order.then, order.first));
    Ok(orders)
}

/// The nodes with systems that `node` is ordered before: its direct successors, and the
/// successors of every empty set it is ordered before (transitively), in a fixed order.
fn successors_through_empty(graph: &ScheduleGraph, members: &Members, node: NodeId) -> Vec<NodeId> {
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![node];
    while let Some(current) = stack.pop() {
        for next in graph
            .dependency()
            .neighbors_directed(current, Direction::Outgoing)
        {
            if !seen.insert(next) {
                continue;
            }
            if members.of(next).is_empty() {
                stack.push(next);
            } else {
                found.push(next);
            }
        }
    }
    found
}

/// Every system of `before` before every system of `after`. A system in both is refused.
fn push_orders(
    graph: &ScheduleGraph,
    members: &Members,
    before: NodeId,
    after: NodeId,
    orders: &mut Vec<FlatOrder>,
) -> Result<(), BuildError> {
    let (firsts, thens) = (members.of(before), members.of(after));
    if let Some(&shared) = firsts.iter().find(|i| thens.binary_search(i).is_ok()) {
        check_not_nested(graph, before, after)?;
        return Err(BuildError::OrderedSetsOverlap {
            before: node_name(graph, before),
            after: node_name(graph, after),
            system: node_name(graph, NodeId::System(members.systems[shared])),
        });
    }
    let (configured_before, configured_after) = (node_name(graph, before), node_name(graph, after));
    for &first in firsts {
        for &then in thens {
            orders.push(FlatOrder {
                first,
                then,
                configured_before: configured_before.clone(),
                configured_after: configured_after.clone(),
            });
        }
    }
    Ok(())
}

/// An order between a node and a set containing it cannot hold (bevy: cross dependency).
fn check_not_nested(graph: &ScheduleGraph, a: NodeId, b: NodeId) -> Result<(), BuildError> {
    let (set, node) = if contains(graph, a, b) {
        (a, b)
    } else if contains(graph, b, a) {
        (b, a)
    } else {
        return Ok(());
    };
    Err(BuildError::OrderedAgainstOwnSet {
        node: node_name(graph, node),
        set: node_name(graph, set),
    })
}

/// An order against a system type (`.after(function)`) must name exactly one system: none is
/// a system that was never added, several are ambiguous (bevy: `SystemTypeSetAmbiguity`).
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
    if !is_system_type {
        return Ok(());
    }
    match systems.len() {
        0 => Err(BuildError::UnknownOrderTarget {
            system: node_name(graph, other),
            target: node_name(graph, target),
        }),
        1 => Ok(()),
        count => Err(BuildError::AmbiguousOrderTarget {
            system: node_name(graph, other),
            target: node_name(graph, target),
            count,
        }),
    }
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
