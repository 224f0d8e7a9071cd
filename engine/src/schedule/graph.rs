//! The system graph: explicit orders, conflict edges in registration order, the run order,
//! and the steps an executor walks (parallel segments separated by exclusive systems).

use bevy_ecs::{query::AccessConflicts, system::SystemAccess, world::World};

use std::collections::HashMap;

use super::{
    bitset::{BitSet, union_rows},
    flatten::FlatOrder,
    node::SystemNode,
};
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
    /// The explicit orders, then the conflict edges that no path already implied (pairs
    /// ordered by another path get none, so the list stays linear in the real orderings).
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
        let mut ancestry = Ancestry::new(nodes.len(), &edges, &explicit_order);
        let conflicts = conflict_rows(nodes);
        add_conflict_edges(nodes, world, &conflicts, &mut ancestry, &mut edges);
        let order = topological_order(nodes.len(), &edges)
            .expect("conflict edges only follow existing reachability, so they close no cycle");
        let reach = closure(&ancestry.successors, &order);
        let (mut steps, apply_last) = steps(nodes, &order, &ancestry.successors);
        let may_spawn = mark_spawners(nodes, &reach, &ancestry.before, &mut steps);
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

    /// The pairs `(a, b)`, `a < b`, that no path orders: they may overlap. Each row is read
    /// a word at a time; only pairs `a` does not reach look at `b`'s row.
    pub(crate) fn overlapping_pairs(&self) -> Vec<(usize, usize)> {
        let mut pairs = Vec::new();
        for (a, row) in self.reach.iter().enumerate() {
            for (word, &after) in row.words().iter().enumerate() {
                let mut unreached = !after;
                if word == a / 64 {
                    // `a` itself and the systems before it in this word.
                    unreached &= !(u64::MAX >> (63 - a % 64));
                } else if word < a / 64 {
                    continue;
                }
                while unreached != 0 {
                    let b = word * 64 + unreached.trailing_zeros() as usize;
                    unreached &= unreached - 1;
                    if b < self.reach.len() && !self.reach[b].contains(a) {
                        pairs.push((a, b));
                    }
                }
            }
        }
        pairs
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

/// Successor lists. The edges name each pair once: explicit orders are deduplicated when
/// flattened, and a conflict edge is added only between systems not yet ordered.
fn successor_lists(len: usize, edges: &[Edge]) -> Vec<Vec<usize>> {
    let mut successors = vec![Vec::new(); len];
    for edge in edges {
        successors[edge.from].push(edge.to);
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

/// Transitive closure: `reach[a]` holds everything after `a`, given successor lists and a
/// topological order of them. Row by row, each successor's finished row merged once.
fn closure(successors: &[Vec<usize>], order: &[usize]) -> Vec<BitSet> {
    let mut reach = vec![BitSet::with_len(successors.len()); successors.len()];
    for &node in order.iter().rev() {
        for &next in &successors[node] {
            union_rows(&mut reach, node, next);
            reach[node].insert(next);
        }
    }
    reach
}

/// The orders so far, kept so that "is `a` already before `b`?" is one bit of `b`'s row
/// while conflict edges are added: successor lists and, per system, everything before it.
struct Ancestry {
    successors: Vec<Vec<usize>>,
    /// `before[b]` holds every system that runs before `b` (closed under the edges so far).
    before: Vec<BitSet>,
}

impl Ancestry {
    fn new(len: usize, edges: &[Edge], order: &[usize]) -> Self {
        let successors = successor_lists(len, edges);
        let mut before = vec![BitSet::with_len(len); len];
        for &node in order {
            for &next in &successors[node] {
                union_rows(&mut before, next, node);
                before[next].insert(node);
            }
        }
        Self { successors, before }
    }

    /// True when `a` runs before `b` through the edges so far.
    fn is_before(&self, a: usize, b: usize) -> bool {
        self.before[b].contains(a)
    }

    /// Records `from → to`: `to` and everything after it gain `from` and what runs before
    /// it. A node that already has `from` has the rest too (rows are closed), and so has
    /// everything after it: the walk stops there.
    fn add_edge(&mut self, from: usize, to: usize) {
        self.successors[from].push(to);
        let mut gained = self.before[from].clone();
        gained.insert(from);
        let mut stack = vec![to];
        while let Some(node) = stack.pop() {
            if self.before[node].contains(from) {
                continue;
            }
            self.before[node].union_with(&gained);
            stack.extend(&self.successors[node]);
        }
    }
}

/// `conflicts[a]` holds every system whose data access conflicts with `a`'s (what the
/// run-time access guard checks). Systems with equal access conflict with a third alike, so
/// the access of each pair of classes of equal access is compared once: 10,000 copies of one
/// system cost one comparison, not fifty million.
fn conflict_rows(nodes: &[SystemNode]) -> Vec<BitSet> {
    let len = nodes.len();
    let classes = access_classes(nodes);
    let members: Vec<BitSet> = classes.iter().map(|class| bits(len, class)).collect();
    let mut rows = vec![BitSet::with_len(len); len];
    for (i, class) in classes.iter().enumerate() {
        for (j, other) in classes.iter().enumerate().skip(i) {
            if access_conflicts(&nodes[class[0]], &nodes[other[0]]) {
                mark_class_pair(&mut rows, class, &members[j]);
                mark_class_pair(&mut rows, other, &members[i]);
            }
        }
    }
    for (index, row) in rows.iter_mut().enumerate() {
        row.remove(index);
    }
    rows
}

/// Every row of `class` gains `other`'s members: bit by bit for a small class, word by word
/// for a large one.
fn mark_class_pair(rows: &mut [BitSet], class: &[usize], other: &BitSet) {
    let words = other.words().len();
    let small: Option<Vec<usize>> = {
        let mut ones = other.ones();
        let head: Vec<usize> = ones.by_ref().take(words).collect();
        ones.next().is_none().then_some(head)
    };
    for &a in class {
        match &small {
            Some(ones) => ones.iter().for_each(|&b| rows[a].insert(b)),
            None => rows[a].union_with(other),
        }
    }
}

fn bits(len: usize, members: &[usize]) -> BitSet {
    let mut set = BitSet::with_len(len);
    members.iter().for_each(|&i| set.insert(i));
    set
}

/// Systems with equal access (their own, their conditions' and their sets' conditions'),
/// grouped in registration order. Looked up by a hash of the access's debug text and
/// confirmed by comparing the access itself (the hash only narrows the search).
fn access_classes(nodes: &[SystemNode]) -> Vec<Vec<usize>> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut classes: Vec<Vec<usize>> = Vec::new();
    let mut by_hash: HashMap<u64, Vec<usize>> = HashMap::new();
    for (index, node) in nodes.iter().enumerate() {
        let mut hasher = DefaultHasher::new();
        format!("{:?}", node.access).hash(&mut hasher);
        node.is_exclusive.hash(&mut hasher);
        let candidates = by_hash.entry(hasher.finish()).or_default();
        let same = candidates.iter().copied().find(|&class| {
            let first = &nodes[classes[class][0]];
            first.is_exclusive == node.is_exclusive && first.access == node.access
        });
        match same {
            Some(class) => classes[class].push(index),
            None => {
                candidates.push(classes.len());
                classes.push(vec![index]);
            }
        }
    }
    classes
}

/// True when `a` and `b` may not run at the same time because of their data access.
fn access_conflicts(a: &SystemNode, b: &SystemNode) -> bool {
    a.is_exclusive
        || b.is_exclusive
        || a.access
            .iter()
            .any(|x| b.access.iter().any(|y| !x.get_conflicts(y).is_empty()))
}

/// The systems that must be ordered against `later` (conflicting access, or spawn order).
fn must_order(
    nodes: &[SystemNode],
    conflicts: &[BitSet],
    spawn: &SpawnRows,
    later: usize,
) -> BitSet {
    let mut row = conflicts[later].clone();
    if nodes[later].declared_spawner {
        row.union_with(&spawn.deferred);
    }
    if uses_deferred(&nodes[later]) {
        row.union_with(&spawn.declared);
    }
    row.remove(later);
    row
}

/// Declared spawners, and every system that could allocate entity ids (see
/// [`EdgeReason::SpawnOrder`]).
struct SpawnRows {
    declared: BitSet,
    deferred: BitSet,
}

impl SpawnRows {
    fn new(nodes: &[SystemNode]) -> Self {
        let select = |keep: fn(&SystemNode) -> bool| {
            let chosen: Vec<usize> = (0..nodes.len()).filter(|&i| keep(&nodes[i])).collect();
            bits(nodes.len(), &chosen)
        };
        Self {
            declared: select(|node| node.declared_spawner),
            deferred: select(uses_deferred),
        }
    }
}

/// Adds an edge, the earlier registered system first, between every pair that must not
/// overlap (see [`must_order`]) and that no path orders yet. Pairs are taken as before: later
/// systems in registration order, for each the earlier ones from the nearest back, so the
/// edges depend on the registration order only. Pairs already ordered cost a bit test each,
/// a word of 64 at a time.
fn add_conflict_edges(
    nodes: &[SystemNode],
    world: &World,
    conflicts: &[BitSet],
    ancestry: &mut Ancestry,
    edges: &mut Vec<Edge>,
) {
    let spawn = SpawnRows::new(nodes);
    for later in 0..nodes.len() {
        let must = must_order(nodes, conflicts, &spawn, later);
        for word in (0..later.div_ceil(64)).rev() {
            let below_later = if word == later / 64 {
                (1u64 << (later % 64)) - 1
            } else {
                u64::MAX
            };
            let mut pending = must.words()[word] & below_later;
            loop {
                pending &= !ancestry.before[later].words()[word];
                if pending == 0 {
                    break;
                }
                let bit = 63 - pending.leading_zeros() as usize;
                pending &= !(1u64 << bit);
                let earlier = word * 64 + bit;
                if ancestry.is_before(later, earlier) {
                    continue;
                }
                let reason = conflict_reason(&nodes[earlier], &nodes[later], world)
                    .expect("pairs that must be ordered have a reason");
                ancestry.add_edge(earlier, later);
                edges.push(Edge {
                    from: earlier,
                    to: later,
                    reason,
                });
            }
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

/// Could allocate entity ids while running: has deferred buffers (`Commands`), or says so.
fn uses_deferred(node: &SystemNode) -> bool {
    node.has_deferred || node.declared_spawner
}

/// Which systems may allocate entity ids while they run: declared spawners, and systems with
/// deferred buffers that are ordered against every other such system of their step anyway
/// (nothing could allocate at the same time). Marks the steps where some system with
/// deferred buffers may not.
fn mark_spawners(
    nodes: &[SystemNode],
    reach: &[BitSet],
    before: &[BitSet],
    steps: &mut [Step],
) -> Vec<bool> {
    let mut may_spawn: Vec<bool> = nodes.iter().map(|n| n.declared_spawner).collect();
    for step in steps {
        let Step::Shared(step) = step else { continue };
        let deferred: Vec<usize> = step
            .nodes
            .iter()
            .copied()
            .filter(|&i| uses_deferred(&nodes[i]))
            .collect();
        let others = bits(nodes.len(), &deferred);
        for &a in &deferred {
            let ordered_against_all = others
                .words()
                .iter()
                .zip(reach[a].words().iter().zip(before[a].words()))
                .enumerate()
                .all(|(word, (&other, (&after, &earlier)))| {
                    let own = if word == a / 64 { 1u64 << (a % 64) } else { 0 };
                    other & !(after | earlier | own) == 0
                });
            if ordered_against_all {
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
fn steps(
    nodes: &[SystemNode],
    order: &[usize],
    successors: &[Vec<usize>],
) -> (Vec<Step>, Vec<usize>) {
    let mut steps = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut unapplied: Vec<usize> = Vec::new();
    for &index in order {
        if nodes[index].is_exclusive {
            if !current.is_empty() {
                steps.push(Step::Shared(shared_step(
                    std::mem::take(&mut current),
                    successors,
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
        steps.push(Step::Shared(shared_step(current, successors)));
    }
    unapplied.sort_unstable();
    (steps, unapplied)
}

fn shared_step(nodes: Vec<usize>, successors: &[Vec<usize>]) -> SharedStep {
    let positions: HashMap<usize, usize> = nodes
        .iter()
        .enumerate()
        .map(|(at, &node)| (node, at))
        .collect();
    let position = |node: usize| positions.get(&node).copied();
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
