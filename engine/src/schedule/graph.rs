//! The system graph: explicit orders, conflict edges in registration order, the run order,
//! and the steps an executor walks (parallel segments separated by exclusive systems).

use bevy_ecs::{query::AccessConflicts, system::SystemAccess, world::World};

use super::{bitset::BitSet, flatten::FlatOrder, node::SystemNode};
use crate::BuildError;

/// Why one system runs before another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EdgeReason {
    /// Configured with bevy's `.before()`, `.after()`, `.chain()` or `configure_sets`:
    /// `before` (a system or a set) was ordered before `after`.
    Explicit {
        /// The node configured to run first: `system name` or `set Name`.
        before: String,
        /// The node configured to run second.
        after: String,
    },
    /// Their data access conflicts (the names of what both touch), so they run in
    /// registration order.
    Conflict(Vec<String>),
    /// One of them takes `&mut World` (exclusive), so it runs alone.
    Exclusive,
    /// One of them is declared to spawn (a member of [`Spawners`](super::Spawners)) and the
    /// other has deferred buffers too (bevy `Commands`, any `Deferred<T>`): bevy hands out an
    /// entity id the moment `Commands::spawn` is called, from one shared allocator, so a
    /// spawner runs alone among the systems that could allocate, in registration order, and
    /// its ids are the same for any thread count. Systems that use `Commands` without
    /// spawning are not ordered this way (tickbus's own [`EventWriter`](crate::EventWriter)
    /// and timers never are).
    SpawnOrder,
}

impl std::fmt::Display for EdgeReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EdgeReason::Explicit { before, after } => {
                write!(f, "explicit: {before} before {after}")
            }
            EdgeReason::Conflict(names) => write!(f, "conflict: {}", names.join(", ")),
            EdgeReason::Exclusive => f.write_str("conflict: exclusive &mut World"),
            EdgeReason::SpawnOrder => {
                f.write_str("spawn order: one spawns (declared), the other uses Commands")
            }
        }
    }
}

/// An ordering between two systems (indices in registration order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The system that runs first.
    pub from: usize,
    /// The system that runs second.
    pub to: usize,
    /// Why.
    pub reason: EdgeReason,
    /// True when an earlier path already ordered the pair; the edge is shown, not executed.
    pub implied: bool,
}

/// Non-exclusive systems that may overlap, between two exclusive ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SharedStep {
    /// Registration indices, in run order.
    pub(crate) nodes: Vec<usize>,
    /// Per position in `nodes`: how many systems of this step must finish before it starts
    /// (edges from earlier steps are satisfied by the step boundary).
    pub(crate) predecessors: Vec<usize>,
    /// Per position: the positions that wait for it.
    pub(crate) successors: Vec<Vec<usize>>,
    /// Some system with deferred buffers here may not spawn, so the step counts the entity
    /// ids allocated while it runs (see [`EdgeReason::SpawnOrder`]).
    pub(crate) checks_spawns: bool,
}

/// One stretch of a tick: systems that may overlap, or one exclusive system alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Systems that may overlap.
    Shared(SharedStep),
    /// An exclusive system: a barrier. The deferred work of every system that ran since the
    /// previous barrier (`apply_first`, registration order) is applied before it runs, so it
    /// sees their `Commands`, as in bevy.
    Exclusive {
        index: usize,
        apply_first: Vec<usize>,
    },
}

/// The analysed schedule.
#[derive(Clone, Debug, Default)]
pub(crate) struct Graph {
    /// A topological order, registration order among unordered systems.
    pub(crate) order: Vec<usize>,
    pub(crate) edges: Vec<Edge>,
    /// `reach[a]` holds every system that runs after `a` in every tick.
    pub(crate) reach: Vec<BitSet>,
    /// `conflicts[a]` holds every system whose data access conflicts with `a`'s.
    pub(crate) conflicts: Vec<BitSet>,
    pub(crate) steps: Vec<Step>,
    /// Systems whose deferred work is applied at the end of the tick (those after the last
    /// exclusive system, and it), in registration order.
    pub(crate) apply_last: Vec<usize>,
    /// Per system: may allocate entity ids while it runs (see [`SharedStep::checks_spawns`]).
    pub(crate) may_spawn: Vec<bool>,
}

impl Graph {
    pub(crate) fn build(
        nodes: &[SystemNode],
        orders: &[FlatOrder],
        world: &World,
    ) -> Result<Self, BuildError> {
        let mut edges: Vec<Edge> = orders.iter().map(explicit).collect();
        let explicit_order =
            topological_order(nodes.len(), &edges).map_err(|cycle| BuildError::Cycle {
                systems: cycle.iter().map(|&i| nodes[i].name.clone()).collect(),
            })?;
        let mut reach = closure(nodes.len(), &edges, &explicit_order);
        let conflicts = add_conflict_edges(nodes, world, &mut edges, &mut reach);
        let direct: Vec<Edge> = edges.iter().filter(|e| !e.implied).cloned().collect();
        let order = topological_order(nodes.len(), &direct)
            .expect("conflict edges only follow existing reachability, so they close no cycle");
        let (mut steps, apply_last) = steps(nodes, &order, &direct);
        let may_spawn = mark_spawners(nodes, &reach, &mut steps);
        Ok(Self {
            order,
            edges,
            reach,
            conflicts,
            steps,
            apply_last,
            may_spawn,
        })
    }

    /// True when neither system is ordered before the other, so they may overlap.
    pub(crate) fn may_overlap(&self, a: usize, b: usize) -> bool {
        a != b && !ordered(&self.reach, a, b)
    }
}

fn explicit(order: &FlatOrder) -> Edge {
    Edge {
        from: order.first,
        to: order.then,
        reason: EdgeReason::Explicit {
            before: order.configured_before.clone(),
            after: order.configured_after.clone(),
        },
        implied: false,
    }
}

/// Kahn's algorithm, smallest registration index first. `Err` holds the systems of a cycle.
fn topological_order(len: usize, edges: &[Edge]) -> Result<Vec<usize>, Vec<usize>> {
    use std::{cmp::Reverse, collections::BinaryHeap};
    let successors = successor_lists(len, edges);
    let mut predecessors = vec![0usize; len];
    for list in &successors {
        for &next in list {
            predecessors[next] += 1;
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..len)
        .filter(|&i| predecessors[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(len);
    while let Some(Reverse(index)) = ready.pop() {
        order.push(index);
        for &next in &successors[index] {
            predecessors[next] -= 1;
            if predecessors[next] == 0 {
                ready.push(Reverse(next));
            }
        }
    }
    if order.len() == len {
        Ok(order)
    } else {
        Err(find_cycle(&successors, &predecessors))
    }
}

/// Deduplicated successor lists.
fn successor_lists(len: usize, edges: &[Edge]) -> Vec<Vec<usize>> {
    let mut successors = vec![Vec::new(); len];
    for edge in edges {
        if !successors[edge.from].contains(&edge.to) {
            successors[edge.from].push(edge.to);
        }
    }
    successors
}

/// Walks backwards from a node Kahn could not order: every such node has a predecessor that
/// is also left, so the walk must repeat a node, and the stretch since then (read forwards)
/// is a cycle. (Walking forwards could end at a node that only follows a cycle.)
fn find_cycle(successors: &[Vec<usize>], remaining: &[usize]) -> Vec<usize> {
    let left = |i: usize| remaining[i] > 0;
    let Some(start) = (0..successors.len()).find(|&i| left(i)) else {
        return Vec::new();
    };
    let predecessor_left =
        |node: usize| (0..successors.len()).find(|&p| left(p) && successors[p].contains(&node));
    let mut path = vec![start];
    loop {
        let current = *path.last().expect("path starts non-empty");
        let Some(previous) = predecessor_left(current) else {
            return path;
        };
        if let Some(position) = path.iter().position(|&p| p == previous) {
            let mut cycle = path.split_off(position);
            cycle.reverse();
            return cycle;
        }
        path.push(previous);
    }
}

/// Transitive closure of an acyclic edge list, given a topological order of it.
fn closure(len: usize, edges: &[Edge], order: &[usize]) -> Vec<BitSet> {
    let successors = successor_lists(len, edges);
    let mut reach = vec![BitSet::with_len(len); len];
    for &node in order.iter().rev() {
        for &next in &successors[node] {
            let next_reach = reach[next].clone();
            reach[node].union_with(&next_reach);
            reach[node].insert(next);
        }
    }
    reach
}

/// Adds an edge between every pair of conflicting systems that no path orders yet, the
/// earlier registered one first. Pairs already ordered get an implied edge for the plan.
/// Returns the access-conflict rows (what the run-time access guard checks).
fn add_conflict_edges(
    nodes: &[SystemNode],
    world: &World,
    edges: &mut Vec<Edge>,
    reach: &mut [BitSet],
) -> Vec<BitSet> {
    let mut conflicts = vec![BitSet::with_len(nodes.len()); nodes.len()];
    for later in 0..nodes.len() {
        for earlier in (0..later).rev() {
            let Some(reason) = conflict_reason(&nodes[earlier], &nodes[later], world) else {
                continue;
            };
            if reason != EdgeReason::SpawnOrder {
                conflicts[earlier].insert(later);
                conflicts[later].insert(earlier);
            }
            let (from, to, implied) = if reach[later].contains(earlier) {
                (later, earlier, true)
            } else {
                (earlier, later, reach[earlier].contains(later))
            };
            if !implied {
                add_reachability(reach, from, to);
            }
            edges.push(Edge {
                from,
                to,
                reason,
                implied,
            });
        }
    }
    conflicts
}

/// Records `from → to`: everything that reaches `from` (and `from` itself) now reaches `to`
/// and everything after it.
fn add_reachability(reach: &mut [BitSet], from: usize, to: usize) {
    let mut gained = reach[to].clone();
    gained.insert(to);
    let reaches_from: Vec<bool> = reach.iter().map(|row| row.contains(from)).collect();
    for (node, row) in reach.iter_mut().enumerate() {
        if node == from || reaches_from[node] {
            row.union_with(&gained);
        }
    }
}

/// Why two systems may not overlap, if they may not.
fn conflict_reason(a: &SystemNode, b: &SystemNode, world: &World) -> Option<EdgeReason> {
    if a.is_exclusive || b.is_exclusive {
        return Some(EdgeReason::Exclusive);
    }
    let mut names = Vec::new();
    for x in &a.access {
        for y in &b.access {
            collect_conflict_names(x, y, world, &mut names);
        }
    }
    if !names.is_empty() {
        names.sort();
        names.dedup();
        return Some(EdgeReason::Conflict(names));
    }
    let spawn_order =
        (a.declared_spawner && uses_deferred(b)) || (b.declared_spawner && uses_deferred(a));
    spawn_order.then_some(EdgeReason::SpawnOrder)
}

/// True when `a` and `b` are ordered one way or the other.
fn ordered(reach: &[BitSet], a: usize, b: usize) -> bool {
    reach[a].contains(b) || reach[b].contains(a)
}

/// Could allocate entity ids while running: has deferred buffers (`Commands`), or says so.
fn uses_deferred(node: &SystemNode) -> bool {
    node.has_deferred || node.declared_spawner
}

/// Which systems may allocate entity ids while they run: declared spawners, and systems with
/// deferred buffers that are ordered against every other such system of their step anyway
/// (nothing could allocate at the same time). Marks the steps where some system with
/// deferred buffers may not.
fn mark_spawners(nodes: &[SystemNode], reach: &[BitSet], steps: &mut [Step]) -> Vec<bool> {
    let mut may_spawn: Vec<bool> = nodes.iter().map(|n| n.declared_spawner).collect();
    for step in steps {
        let Step::Shared(step) = step else { continue };
        let deferred: Vec<usize> = step
            .nodes
            .iter()
            .copied()
            .filter(|&i| uses_deferred(&nodes[i]))
            .collect();
        for &a in &deferred {
            if deferred.iter().all(|&b| a == b || ordered(reach, a, b)) {
                may_spawn[a] = true;
            }
        }
        step.checks_spawns = deferred.iter().any(|&a| !may_spawn[a]);
    }
    may_spawn
}

fn collect_conflict_names(
    a: &SystemAccess,
    b: &SystemAccess,
    world: &World,
    out: &mut Vec<String>,
) {
    match a.get_conflicts(b) {
        AccessConflicts::All => out.push("all world data".to_owned()),
        AccessConflicts::Individual(ids) => {
            for id in ids.iter() {
                let name = world
                    .components()
                    .get_name(id)
                    .map(|name| name.shortname().to_string())
                    .unwrap_or_else(|| format!("component #{}", id.index()));
                out.push(name);
            }
        }
    }
}

/// Splits the run order at exclusive systems; within a shared step, counts predecessors.
/// Also says whose deferred work is applied where: before each exclusive system, everything
/// that ran since the previous one; at the end of the tick, the rest.
fn steps(nodes: &[SystemNode], order: &[usize], edges: &[Edge]) -> (Vec<Step>, Vec<usize>) {
    let successors = successor_lists(nodes.len(), edges);
    let mut steps = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut unapplied: Vec<usize> = Vec::new();
    for &index in order {
        if nodes[index].is_exclusive {
            if !current.is_empty() {
                steps.push(Step::Shared(shared_step(
                    std::mem::take(&mut current),
                    &successors,
                )));
            }
            unapplied.sort_unstable();
            steps.push(Step::Exclusive {
                index,
                apply_first: std::mem::take(&mut unapplied),
            });
        } else {
            current.push(index);
        }
        unapplied.push(index);
    }
    if !current.is_empty() {
        steps.push(Step::Shared(shared_step(current, &successors)));
    }
    unapplied.sort_unstable();
    (steps, unapplied)
}

fn shared_step(nodes: Vec<usize>, successors: &[Vec<usize>]) -> SharedStep {
    let position = |node: usize| nodes.iter().position(|&n| n == node);
    let local_successors: Vec<Vec<usize>> = nodes
        .iter()
        .map(|&node| {
            successors[node]
                .iter()
                .filter_map(|&s| position(s))
                .collect()
        })
        .collect();
    let mut predecessors = vec![0; nodes.len()];
    for list in &local_successors {
        for &next in list {
            predecessors[next] += 1;
        }
    }
    SharedStep {
        nodes,
        predecessors,
        successors: local_successors,
        checks_spawns: false,
    }
}
