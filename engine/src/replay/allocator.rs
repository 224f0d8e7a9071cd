//! The state of bevy's entity allocator, read exactly and put back exactly, so that a restored
//! world hands out the same entity indices, in the same order, as the captured world would.
//!
//! Entity ids are part of the simulation: physics and state hashes order entities by index,
//! and bevy reuses freed indices. bevy_ecs 0.20 keeps freed ids in two places: a shared
//! stack that allocation pops from, and a local buffer of up to [`LOCAL_CAPACITY`] recent
//! frees that only moves onto the stack when it is full and one more id is freed. Neither is
//! readable, but both can be reached through the public API:
//!
//! * the fresh-index cursor and the stack's length are in the allocator's `Debug` output;
//! * the local buffer's length is what is neither spawned nor on the stack;
//! * freeing placeholder ids until the buffer overflows moves it onto the stack, in order;
//! * popping the whole stack then reads everything in order, and pushing it back (with
//!   placeholders that are popped again at once) rebuilds any stack and buffer.
//!
//! Generations cannot be lowered, so a restored entity keeps its index and takes the
//! generation its index has in the restoring world: [`EntityRemap`] shifts every stored
//! [`Entity`] accordingly, and state hashes and physics order entities by index. The unit
//! tests below pin this behaviour of bevy's allocator.
//!
//! Why this route: it uses only bevy's safe public API (`entity_allocator`, `alloc`, `free`,
//! `free_many`, the allocator's `Debug` output), so it needs no `unsafe`. It does rely on how
//! bevy_ecs 0.20 behaves (the buffer size, the `Debug` field names, stack order), which the
//! workspace pins (`bevy_ecs = "0.20"`, 0.20.1 in the lock file). Every read is checked: a
//! placeholder that does not come back, an id beyond the cursor or counts that do not add up
//! give [`SnapshotError::AllocatorUnreadable`], and the unit tests below fail on a bevy
//! release that changes the behaviour. The counts are checked before anything changes
//! ([`check_readable`]); a misplaced id is only seen after the stack was popped, and then the
//! allocator is left changed (a restore reports that it changed the engine, and a
//! `Timeline` refuses to go on). The alternatives are worse: reading
//! bevy's private fields needs `unsafe` on a layout bevy does not promise, and spawning the
//! restored entities at fresh ids (remapping every stored `Entity`) gives a restored world
//! other ids than the uninterrupted run, so later spawns reuse other indices and physics and
//! hashes (which order by index) part ways.

use bevy_ecs::{
    component::Component,
    entity::{Entity, EntityIndex},
    world::World,
};

use super::SnapshotError;
use crate::carry::EntityRemap;

/// How many freed ids bevy_ecs 0.20 buffers before they become reusable.
pub(crate) const LOCAL_CAPACITY: usize = 128;

/// The id pushed and popped again to move the buffer and to rebuild the stack. It is never
/// handed out: every placeholder pushed is popped before anything else allocates.
const PAD: Entity = Entity::PLACEHOLDER;

/// Marks an entity that only holds an index: one the captured world had in use outside the
/// simulation (a resource of an app with another composition) and the restoring world does
/// not. Holding it keeps the index out of allocation, as in the captured world; snapshots
/// neither capture nor replace these entities.
#[derive(Component, Clone, Copy, Debug)]
pub(crate) struct Vacancy;

/// Everything that decides which ids the allocator hands out next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AllocatorState {
    /// The next never-used index.
    pub(crate) cursor: u32,
    /// Freed ids allocation pops from, bottom to top.
    pub(crate) stack: Vec<Entity>,
    /// Freed ids not reusable yet, oldest first.
    pub(crate) buffer: Vec<Entity>,
    /// The current generation of every index below the cursor.
    pub(crate) generations: Vec<u32>,
}

impl AllocatorState {
    /// Bytes held (for snapshot budgets).
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.stack.len() + self.buffer.len()) * size_of::<Entity>() + self.generations.len() * 4
    }
}

/// The allocator after [`drain`]: its stack is empty; the buffer holds one placeholder
/// (`padded`) or nothing (when nothing was ever freed).
struct Drained {
    cursor: u32,
    stack: Vec<Entity>,
    buffer: Vec<Entity>,
    padded: bool,
}

/// Reads the allocator of `world` without changing what it will hand out.
pub(crate) fn read(world: &mut World) -> Result<AllocatorState, SnapshotError> {
    let drained = drain(world)?;
    let generations = generations(world, drained.cursor);
    install(world, &drained.stack, &drained.buffer, drained.padded)?;
    Ok(AllocatorState {
        cursor: drained.cursor,
        stack: drained.stack,
        buffer: drained.buffer,
        generations,
    })
}

/// Makes the allocator of `world` hand out the same indices as the captured one would. Call
/// it after despawning every entity the restore replaces; returns the generation shift of
/// every index (for [`EntityRemap`]) and the ids the restore took out of the allocator
/// without giving them a place: the caller spawns the captured entities at
/// `remap.map(entity)` and holds every other one of these with a [`Vacancy`].
pub(crate) fn restore(
    world: &mut World,
    target: &AllocatorState,
) -> Result<(EntityRemap, Vec<Entity>), SnapshotError> {
    let current = drain(world)?;
    let mut taken: Vec<Entity> = current
        .stack
        .iter()
        .chain(&current.buffer)
        .copied()
        .collect();
    let mut cursor = current.cursor;
    while cursor < target.cursor {
        // The stack is empty, so these are fresh indices, now ours.
        let fresh = world.entity_allocator().alloc();
        taken.push(fresh);
        cursor = fresh.index_u32() + 1;
    }
    let now = generations(world, cursor);
    let shifts = target
        .generations
        .iter()
        .zip(&now)
        .map(|(captured, current)| current.wrapping_sub(*captured))
        .collect();
    let remap = EntityRemap::from_shifts(shifts);
    // Entities the restore leaves alone (resources, observers) may hold an index the
    // captured world had free or never used: it stays out of allocation, or the next spawn
    // would be handed a live entity.
    let live = live_indices(world);
    let free_here = |entity: &Entity| !live.contains(&entity.index_u32());
    // Indices the captured world had never used but this one has: pushed under the stack so
    // they come out in index order, exactly when the captured world would take fresh ones.
    let mut stack: Vec<Entity> = (target.cursor..cursor)
        .rev()
        .map(|index| entity_at(index, now[index as usize]))
        .filter(free_here)
        .collect();
    stack.extend(
        target
            .stack
            .iter()
            .map(|&entity| remap.map(entity))
            .filter(free_here),
    );
    let buffer: Vec<Entity> = target
        .buffer
        .iter()
        .map(|&e| remap.map(e))
        .filter(free_here)
        .collect();
    install(world, &stack, &buffer, current.padded)?;
    let installed: std::collections::BTreeSet<u32> =
        stack.iter().chain(&buffer).map(|e| e.index_u32()).collect();
    taken.retain(|e| !installed.contains(&e.index_u32()));
    Ok((remap, taken))
}

/// Moves every freed id out of the allocator, in order.
fn drain(world: &mut World) -> Result<Drained, SnapshotError> {
    let (cursor, on_stack, buffered) = free_counts(world)?;
    let allocator = world.entity_allocator_mut();
    let mut padded = false;
    if buffered > 0 {
        // Overflow the buffer: it moves onto the stack (oldest first) and one placeholder
        // stays behind in it.
        for _ in 0..=LOCAL_CAPACITY - buffered {
            allocator.free(PAD);
        }
        padded = true;
    }
    let moved = if padded { LOCAL_CAPACITY } else { 0 };
    let popped: Vec<Entity> = (0..on_stack as usize + moved)
        .map(|_| allocator.alloc())
        .collect();
    let (pads, rest) = popped.split_at(moved - buffered);
    let (buffer, stack) = rest.split_at(buffered);
    let misread =
        pads.iter().any(|&e| e != PAD) || rest.iter().any(|e| *e == PAD || e.index_u32() >= cursor);
    if misread {
        return Err(SnapshotError::AllocatorUnreadable {
            reason: "the free list is not where bevy_ecs 0.20 keeps it",
        });
    }
    Ok(Drained {
        cursor,
        stack: stack.iter().rev().copied().collect(),
        buffer: buffer.iter().rev().copied().collect(),
        padded,
    })
}

/// Checks, without changing anything, that the allocator of `world` reads as [`drain`]
/// expects (what a restore checks before it changes the world).
pub(crate) fn check_readable(world: &World) -> Result<(), SnapshotError> {
    free_counts(world).map(drop)
}

/// The fresh-index cursor, the length of the stack and the length of the buffer, checked to
/// add up with the spawned entities.
fn free_counts(world: &World) -> Result<(u32, u32, usize), SnapshotError> {
    let (cursor, on_stack) = counts(world)?;
    let buffered = cursor
        .checked_sub(spawned(world))
        .and_then(|free| free.checked_sub(on_stack))
        .map(|buffered| buffered as usize)
        .filter(|&buffered| buffered <= LOCAL_CAPACITY)
        .ok_or(SnapshotError::AllocatorUnreadable {
            reason: "ids are allocated but not spawned",
        })?;
    Ok((cursor, on_stack, buffered))
}

/// Rebuilds a drained allocator: `stack` (bottom to top) and `buffer` (oldest first).
fn install(
    world: &mut World,
    stack: &[Entity],
    buffer: &[Entity],
    padded: bool,
) -> Result<(), SnapshotError> {
    let allocator = world.entity_allocator_mut();
    if !stack.is_empty() {
        // A batch that cannot fit the buffer goes straight onto the stack, in order.
        let pads = (LOCAL_CAPACITY + 1).saturating_sub(stack.len());
        let mut batch = stack.to_vec();
        batch.extend(std::iter::repeat_n(PAD, pads));
        allocator.free_many(&batch);
        pop_pads(allocator, pads)?;
    }
    match (padded, buffer.split_first()) {
        (false, _) => buffer.iter().for_each(|&e| allocator.free(e)),
        (true, Some((&first, others))) => {
            // Fill the buffer behind the placeholder, overflow it with the first real id,
            // and pop the placeholders it pushed onto the stack.
            for _ in 1..LOCAL_CAPACITY {
                allocator.free(PAD);
            }
            allocator.free(first);
            pop_pads(allocator, LOCAL_CAPACITY)?;
            others.iter().for_each(|&e| allocator.free(e));
        }
        (true, None) => return Err(SnapshotError::AllocatorUnprimed),
    }
    Ok(())
}

fn pop_pads(
    allocator: &mut bevy_ecs::entity::EntityAllocator,
    pads: usize,
) -> Result<(), SnapshotError> {
    for _ in 0..pads {
        if allocator.alloc() != PAD {
            return Err(SnapshotError::AllocatorUnreadable {
                reason: "a placeholder was not on top of the stack",
            });
        }
    }
    Ok(())
}

/// The fresh-index cursor and the length of the stack, from the allocator's `Debug` output
/// (bevy_ecs 0.20: `Allocator { total_indices: N, total_free: M }`).
fn counts(world: &World) -> Result<(u32, u32), SnapshotError> {
    parse_counts(&format!("{:?}", world.entity_allocator()))
}

/// Reads `total_indices: N` and `total_free: M` from `text`, each exactly once and exactly in
/// that form (a field name of its own, `: `, digits, then `,`, ` `, `}` or the end).
fn parse_counts(text: &str) -> Result<(u32, u32), SnapshotError> {
    match (field(text, "total_indices"), field(text, "total_free")) {
        (Some(cursor), Some(free)) => Ok((cursor, free)),
        _ => Err(SnapshotError::AllocatorUnreadable {
            reason: "its Debug output has no single total_indices / total_free field",
        }),
    }
}

/// The value of field `name` in a `Debug` text, when it occurs once as `name: <digits>`.
fn field(text: &str, name: &str) -> Option<u32> {
    let pattern = format!("{name}: ");
    let mut found = text
        .match_indices(&pattern)
        .filter(|&(at, _)| at == 0 || text[..at].ends_with([' ', '{', ',', '(']));
    let (at, _) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let rest = &text[at + pattern.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let ends_cleanly = matches!(
        rest[end..].chars().next(),
        None | Some(',' | ' ' | '}' | ')')
    );
    (end > 0 && ends_cleanly)
        .then(|| rest[..end].parse().ok())
        .flatten()
}

/// The indices of every entity spawned in `world`.
fn live_indices(world: &World) -> std::collections::BTreeSet<u32> {
    world
        .archetypes()
        .iter()
        .flat_map(|archetype| archetype.entities().iter().map(|e| e.id().index_u32()))
        .collect()
}

/// Entities spawned in `world` (every archetype's rows).
fn spawned(world: &World) -> u32 {
    world
        .archetypes()
        .iter()
        .map(|archetype| archetype.len())
        .sum()
}

/// The current generation of every index below `cursor`.
fn generations(world: &World, cursor: u32) -> Vec<u32> {
    (0..cursor)
        .map(|index| match EntityIndex::from_raw_u32(index) {
            Some(index) => world.entities().resolve_from_index(index).generation(),
            None => bevy_ecs::entity::EntityGeneration::FIRST,
        })
        .map(|generation| generation.to_bits())
        .collect()
}

fn entity_at(index: u32, generation: u32) -> Entity {
    let index = EntityIndex::from_raw_u32(index).expect("indices below the cursor are valid");
    let generation = bevy_ecs::entity::EntityGeneration::from_bits(generation);
    Entity::from_index_and_generation(index, generation)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next `n` ids the allocator hands out.
    fn next_ids(world: &mut World, n: usize) -> Vec<Entity> {
        (0..n).map(|_| world.spawn_empty().id()).collect()
    }

    /// A world with some history: spawned, despawned in a scrambled order, more than the
    /// buffer holds.
    fn churned(frees: usize) -> (World, Vec<Entity>) {
        let mut world = World::new();
        let ids = next_ids(&mut world, 400);
        let mut live = Vec::new();
        for (k, id) in ids.iter().enumerate() {
            if k % 7 < 5 && (k * 31 % 400) < frees {
                world.despawn(*id);
            } else {
                live.push(*id);
            }
        }
        (world, live)
    }

    /// Spawns and despawns by index order only (so two worlds that agree on indices do the
    /// same), returning the indices handed out.
    fn churn_by_index(world: &mut World, live: &mut Vec<Entity>) -> Vec<u32> {
        let mut handed_out = Vec::new();
        for round in 0..6 {
            let spawned = next_ids(world, 90 + round * 40);
            handed_out.extend(spawned.iter().map(|e| e.index_u32()));
            live.extend(spawned);
            live.sort_by_key(|e| e.index_u32());
            let doomed = |k: usize| (k * 7 + round).is_multiple_of(3);
            let gone: Vec<Entity> = (0..live.len())
                .filter(|&k| doomed(k))
                .map(|k| live[k])
                .collect();
            gone.iter().rev().for_each(|&e| {
                world.despawn(e);
            });
            let kept = (0..live.len()).filter(|&k| !doomed(k)).map(|k| live[k]);
            *live = kept.collect();
        }
        handed_out
    }

    #[test]
    fn the_debug_counts_are_read_only_in_their_exact_form() {
        let exact = "Allocator { total_indices: 42, total_free: 7 }";
        assert_eq!(parse_counts(exact).unwrap(), (42, 7));
        for other in [
            "Allocator { total_indices_v2: 42, total_free: 7 }",
            "Allocator { total_indices: 42x, total_free: 7 }",
            "Allocator { total_indices: , total_free: 7 }",
            "Allocator { max_total_indices: 9, total_free: 7 }",
            "Allocator { total_indices: 4, total_indices: 5, total_free: 7 }",
            "Allocator { total_indices: 99999999999, total_free: 7 }",
        ] {
            assert!(
                matches!(
                    parse_counts(other),
                    Err(SnapshotError::AllocatorUnreadable { .. })
                ),
                "{other}"
            );
        }
    }

    #[test]
    fn the_buffer_of_bevy_ecs_holds_128_ids() {
        let mut world = World::new();
        let ids = next_ids(&mut world, 200);
        ids[..LOCAL_CAPACITY].iter().for_each(|&id| {
            world.despawn(id);
        });
        assert_eq!(counts(&world).unwrap().1, 0, "buffered, not reusable");
        world.despawn(ids[LOCAL_CAPACITY]);
        assert_eq!(counts(&world).unwrap().1, LOCAL_CAPACITY as u32);
    }

    #[test]
    fn reading_changes_nothing_that_is_handed_out() {
        for frees in [0, 1, 50, 127, 128, 129, 300, 400] {
            let (mut plain, _) = churned(frees);
            let (mut read_one, _) = churned(frees);
            let state = read(&mut read_one).unwrap();
            assert_eq!(state.cursor, counts(&plain).unwrap().0);
            assert_eq!(
                next_ids(&mut read_one, 500),
                next_ids(&mut plain, 500),
                "{frees}"
            );
        }
    }

    #[test]
    fn a_world_with_another_history_hands_out_the_same_indices_after_restoring() {
        let (mut captured, live) = churned(300);
        let state = read(&mut captured).unwrap();
        // Another history: more ids used, other frees, some ids of the captured world freed
        // more often (higher generations).
        let mut other = World::new();
        other.spawn_empty().despawn();
        let many = next_ids(&mut other, 700);
        many.iter().rev().step_by(3).for_each(|&id| {
            other.despawn(id);
        });
        let survivors: Vec<Entity> = many
            .iter()
            .copied()
            .filter(|id| other.get_entity(*id).is_ok())
            .collect();
        survivors.iter().for_each(|&id| {
            other.despawn(id);
        });
        let (remap, _) = restore(&mut other, &state).unwrap();
        for &entity in &live {
            other.spawn_empty_at(remap.map(entity)).unwrap();
        }
        let mut captured_live = live.clone();
        let mut other_live: Vec<Entity> = live.iter().map(|&e| remap.map(e)).collect();
        let expected = churn_by_index(&mut captured, &mut captured_live);
        let found = churn_by_index(&mut other, &mut other_live);
        assert_eq!(found, expected);
    }
}
