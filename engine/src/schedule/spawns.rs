//! Catching systems that allocate entity ids where the schedule assumed they would not.
//!
//! bevy hands out an entity id the moment a system calls `Commands::spawn`, from one shared
//! allocator. Two systems that may run at the same time and both allocate would get ids in
//! an order that depends on thread timing, so the schedule lets a system allocate while it
//! runs only if no other system that could allocate (one with deferred buffers) may run
//! beside it ([`EdgeReason::SpawnOrder`](super::EdgeReason::SpawnOrder)).
//!
//! In a step where that is not true of every system with deferred buffers, the schedule
//! counts ids: the allocator's count before and after the step, and before and after each
//! system that may allocate (nothing else that could allocate runs beside it, so its count is
//! exact). Ids left over were taken by a system that may not. Counts do not depend on timing,
//! so every executor finds the same thing; finding *who* (only then, it costs a pass over the
//! entities) happens when the step's deferred work is applied, in registration order: the
//! culprit is the system whose commands spawn entities at ids allocated before they ran.

use std::fmt::Write;

use bevy_ecs::{
    entity::{EntityAllocator, EntityIndex},
    world::World,
};

use super::node::{NodeFault, SystemNode};

/// Entity ids `allocator` has handed out so far (new indices plus reused ones), modulo 2^64.
///
/// bevy exposes its counters only through `Debug` (`total_indices`, `total_free`); this reads
/// them from there, into a buffer on the stack. Between two readings within a step only
/// allocations happen (freeing needs `&mut World`), so the difference of two readings is the
/// number of ids handed out in between. `None` if the format is not understood.
pub(crate) fn allocations(allocator: &EntityAllocator) -> Option<u64> {
    let mut text = StackText::default();
    write!(text, "{allocator:?}").ok()?;
    let text = text.as_str()?;
    let indices = number_after(text, "total_indices: ")?;
    let free = number_after(text, "total_free: ")?;
    Some(indices.wrapping_sub(free))
}

fn number_after(text: &str, label: &str) -> Option<u64> {
    let start = text.find(label)? + label.len();
    let digits = text[start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(&text[start..], |end| &text[start..start + end]);
    digits.parse().ok()
}

/// A small text buffer on the stack (formatting the allocator must not allocate).
struct StackText {
    bytes: [u8; 256],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        Self {
            bytes: [0; 256],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes[..self.len]).ok()
    }
}

impl Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let target = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        target.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Ids handed out since the reading `before` (0 if a reading failed), saturated to `u32`.
pub(crate) fn allocated_since(before: Option<u64>, allocator: &EntityAllocator) -> u32 {
    match (before, allocations(allocator)) {
        (Some(before), Some(after)) => after.wrapping_sub(before).min(u64::from(u32::MAX)) as u32,
        _ => 0,
    }
}

/// Ids allocated during a step that no system allowed to allocate accounts for.
pub(crate) fn unaccounted(
    before: Option<u64>,
    world: &World,
    nodes: &[SystemNode],
    step: &[usize],
) -> u32 {
    let (Some(before), Some(after)) = (before, allocations(world.entity_allocator())) else {
        return 0;
    };
    let accounted: u64 = step
        .iter()
        .filter(|&&i| nodes[i].count_spawns)
        .map(|&i| u64::from(nodes[i].allocated))
        .sum();
    let taken = after.wrapping_sub(before);
    taken.saturating_sub(accounted).min(u64::from(u32::MAX)) as u32
}

/// Which entity indices are spawned right now.
fn spawned(world: &World) -> Vec<bool> {
    let entities = world.entities();
    (0..entities.len())
        .map(|i| EntityIndex::from_raw_u32(i).is_some_and(|index| entities.is_index_spawned(index)))
        .collect()
}

/// Applies `node`'s deferred work with `apply` and says whether its commands spawned entities
/// at ids allocated before (while it ran): then it is a system that spawned where it may not.
pub(crate) fn apply_watching(
    node: &mut SystemNode,
    world: &mut World,
    apply: impl FnOnce(&mut SystemNode, &mut World) -> Result<(), NodeFault>,
) -> (Result<(), NodeFault>, u32) {
    let spawned_before = spawned(world);
    let allocated_before = allocations(world.entity_allocator());
    let result = apply(node, world);
    let allocated_now = match (allocated_before, allocations(world.entity_allocator())) {
        (Some(before), Some(after)) => after.saturating_sub(before),
        _ => 0,
    };
    let newly_spawned = spawned(world)
        .iter()
        .enumerate()
        .filter(|&(i, &now)| now && !spawned_before.get(i).copied().unwrap_or(false))
        .count() as u64;
    let from_its_run = newly_spawned.saturating_sub(allocated_now);
    (result, from_its_run.min(u64::from(u32::MAX)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allocator_counters_are_readable_and_count_every_id() {
        let mut world = World::new();
        let start = allocations(world.entity_allocator()).expect("bevy's Debug format is known");
        let first = world.entity_allocator().alloc();
        world.entity_allocator().alloc();
        assert_eq!(allocations(world.entity_allocator()), Some(start + 2));
        world.spawn_empty_at(first).unwrap().despawn();
        world.entity_allocator_mut().alloc();
        let count = allocations(world.entity_allocator()).unwrap();
        assert!(count >= start + 2, "freeing never makes the count go up");
    }
}
