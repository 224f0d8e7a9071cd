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
    /// Both have deferred buffers (bevy `Commands`, or any `Deferred<T>` parameter): entity
    /// ids are allocated when `spawn` is called, so spawners run one after another in
    /// registration order to keep ids identical for any thread count. (bevy does not say
    /// which deferred buffer a system has, so every `Deferred` user is ordered this way;
    /// tickbus's own [`EventWriter`](crate::EventWriter) and timers are not.)
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
            EdgeReason::SpawnOrder => f.write_str("spawn order: both use Commands"),
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

/// One stretch of a tick: systems that may overlap, or one exclusive system alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Non-exclusive systems (registration indices) in run order; `predecessors` and
    /// `successors` speak of positions in `nodes`, counting only edges inside the step
    /// (edges from earlier steps are satisfied by the step boundary).
    Shared {
        nodes: Vec<usize>,
        predecessors: Vec<usize>,
        successors: Vec<Vec<usize>>,
    },
    /// An exclusive system: a barrier.
    Exclusive(usize),
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
        let steps = steps(nodes, &order, &direct);
        Ok(Self {
            order,
            edges,
            reach,
            conflicts,
            steps,
        })
    }

    /// True when neither system is ordered before the other, so they may overlap.
    pub(crate) fn may_overlap(&self, a: usize, b: usize) -> bool {
        a != b && !self.reach[a].contains(b) && !self.reach[b].contains(a)
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

/// Walks from a node left with predecessors (Kahn could not order it) along successors that
/// are also left, until a node repeats: the repeated stretch is a cycle.
fn find_cycle(successors: &[Vec<usize>], remaining: &[usize]) -> Vec<usize> {
    let left = |i: usize| remaining[i] > 0;
    let Some(start) = (0..successors.len()).find(|&i| left(i)) else {
        return Vec::new();
    };
    let mut path = vec![start];
    loop {
        let current = *path.last().expect("path starts non-empty");
        let Some(&next) = successors[current].iter().find(|&&n| left(n)) else {
            return path;
        };
        if let Some(position) = path.iter().position(|&p| p == next) {
            return path.split_off(position);
        }
        path.push(next);
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
    (a.has_deferred && b.has_deferred).then_some(EdgeReason::SpawnOrder)
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
fn steps(nodes: &[SystemNode], order: &[usize], edges: &[Edge]) -> Vec<Step> {
    let successors = successor_lists(nodes.len(), edges);
    let mut steps = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for &index in order {
        if nodes[index].is_exclusive {
            if !current.is_empty() {
                steps.push(shared_step(std::mem::take(&mut current), &successors));
            }
            steps.push(Step::Exclusive(index));
        } else {
            current.push(index);
        }
    }
    if !current.is_empty() {
        steps.push(shared_step(current, &successors));
    }
    steps
}

fn shared_step(nodes: Vec<usize>, successors: &[Vec<usize>]) -> Step {
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
    Step::Shared {
        nodes,
        predecessors,
        successors: local_successors,
    }
}
