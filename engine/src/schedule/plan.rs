//! A readable account of the schedule: the systems, the run order, every edge with its
//! reason, and which systems may run at the same time.

use std::fmt;

use super::{
    graph::{Edge, Graph},
    node::SystemNode,
};

/// One system as the plan shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedSystem {
    /// Registration index.
    pub index: usize,
    /// Short name.
    pub name: String,
    /// Named sets it belongs to, directly or through other sets.
    pub sets: Vec<String>,
    /// Sets whose run conditions it passes (evaluated once per tick, before the first system
    /// of the set).
    pub set_conditions: Vec<String>,
    /// Takes `&mut World`: runs alone.
    pub exclusive: bool,
    /// Not `Send`: runs on the thread that drives the tick.
    pub main_thread: bool,
    /// Number of run conditions.
    pub conditions: usize,
}

/// What [`Engine::schedule_plan`](crate::Engine::schedule_plan) returns; `Display` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedulePlan {
    /// Systems in registration order.
    pub systems: Vec<PlannedSystem>,
    /// Registration indices in the order the sequential executor runs them.
    pub run_order: Vec<usize>,
    /// Every ordering the schedule keeps, and why: the explicit orders, then an edge for each
    /// pair of conflicting systems that no other path orders already (pairs ordered by a
    /// longer path get none, so 10,000 systems that all conflict have 9,999 edges).
    pub edges: Vec<Edge>,
    /// Pairs of systems that no path orders: they may run at the same time.
    pub may_overlap: Vec<(usize, usize)>,
}

impl SchedulePlan {
    pub(crate) fn new(nodes: &[SystemNode], graph: &Graph) -> Self {
        let systems = nodes
            .iter()
            .enumerate()
            .map(|(index, node)| planned(index, node))
            .collect();
        let may_overlap = graph.overlapping_pairs();
        Self {
            systems,
            run_order: graph.order.clone(),
            edges: graph.edges.clone(),
            may_overlap,
        }
    }

    /// True when `a` and `b` (registration indices) may run at the same time.
    pub fn may_run_together(&self, a: usize, b: usize) -> bool {
        self.may_overlap.contains(&(a.min(b), a.max(b)))
    }

    /// The index of the first system with this name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.systems.iter().position(|s| s.name == name)
    }

    fn name(&self, index: usize) -> &str {
        &self.systems[index].name
    }
}

/// The edges cut into runs where each edge starts where the one before ended, for the same
/// reason (`a -> b`, `b -> c` print as `a -> b -> c`).
fn chains(edges: &[Edge]) -> impl Iterator<Item = &[Edge]> {
    edges.chunk_by(|edge, next| edge.to == next.from && edge.reason == next.reason)
}

fn planned(index: usize, node: &SystemNode) -> PlannedSystem {
    PlannedSystem {
        index,
        name: node.name.clone(),
        sets: node.sets.clone(),
        set_conditions: node.gates.iter().map(|gate| gate.name.clone()).collect(),
        exclusive: node.is_exclusive,
        main_thread: !node.is_send,
        conditions: node.conditions.len(),
    }
}

impl fmt::Display for SchedulePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "systems ({}, registration order):", self.systems.len())?;
        for system in &self.systems {
            write!(f, "  #{} {}", system.index, system.name)?;
            if !system.sets.is_empty() {
                write!(f, "  sets: {}", system.sets.join(", "))?;
            }
            if system.exclusive {
                f.write_str("  [exclusive]")?;
            }
            if system.main_thread {
                f.write_str("  [main thread]")?;
            }
            if system.conditions > 0 {
                write!(f, "  [run_if x{}]", system.conditions)?;
            }
            if !system.set_conditions.is_empty() {
                write!(f, "  [run_if of {}]", system.set_conditions.join(", "))?;
            }
            writeln!(f)?;
        }
        let order: Vec<&str> = self.run_order.iter().map(|&i| self.name(i)).collect();
        writeln!(f, "run order: {}", order.join(" -> "))?;
        writeln!(
            f,
            "edges (first -> second: why; a chain of edges with one reason on one line):"
        )?;
        for chain in chains(&self.edges) {
            let names: Vec<&str> = std::iter::once(chain[0].from)
                .chain(chain.iter().map(|edge| edge.to))
                .map(|index| self.name(index))
                .collect();
            writeln!(f, "  {}: {}", names.join(" -> "), chain[0].reason)?;
        }
        writeln!(f, "may run together:")?;
        if self.may_overlap.is_empty() {
            writeln!(f, "  (none)")?;
        }
        for &(a, b) in &self.may_overlap {
            writeln!(f, "  {} || {}", self.name(a), self.name(b))?;
        }
        Ok(())
    }
}
