//! Typed physics events, and the contact tracking that turns per-tick contacts into
//! started / ended events.

use bevy_ecs::{
    entity::Entity,
    prelude::{Local, Res, ResMut},
    resource::Resource,
};
use glam::Vec2;

use super::{BroadphasePairs, broadphase::Proxy, entity_order, narrowphase::collide};
use crate::{ComputePool, EventWriter};

/// Candidate pairs handed to a worker at a time.
const PAIRS_PER_CHUNK: usize = 256;

/// Two colliders touching or overlapping this tick. `a` comes before `b` in
/// [`entity_order`]; `normal` points from `a` to `b`
/// and moving `b` by `normal × depth` separates them (`depth` 0: just touching).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Contact {
    /// The first entity of the pair.
    pub a: Entity,
    /// The second entity of the pair.
    pub b: Entity,
    /// Unit vector from `a` towards `b`.
    pub normal: Vec2,
    /// Overlap along `normal`, ≥ 0.
    pub depth: f32,
}

impl Contact {
    /// The sort key of the pair: [`entity_order`] of `a`, then of `b`.
    pub fn pair_order(&self) -> ((u32, u32), (u32, u32)) {
        (entity_order(self.a), entity_order(self.b))
    }
}

/// Two colliders that did not touch in the previous tick touch in this one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContactStarted(pub Contact);

/// Two colliders that touched in the previous tick do not any more (or one of them is gone).
/// The contact is the last one seen, from the previous tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContactEnded(pub Contact);

/// A collider that was inside the world bounds crosses them. `normal` is the outward normal of
/// the wall crossed deepest and `depth` how far the collider reaches beyond it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeftBounds {
    /// The body.
    pub entity: Entity,
    /// Outward unit normal of the wall.
    pub normal: Vec2,
    /// Distance beyond the wall, > 0.
    pub depth: f32,
}

/// The contacts of the last physics step, sorted by [`Contact::pair_order`].
#[derive(Resource, Default, Debug, Clone)]
pub struct Contacts {
    current: Vec<Contact>,
}

impl Contacts {
    /// Every pair touching in the last step, sorted by [`Contact::pair_order`].
    pub fn iter(&self) -> std::slice::Iter<'_, Contact> {
        self.current.iter()
    }

    /// Pairs touching in the last step.
    pub fn len(&self) -> usize {
        self.current.len()
    }

    /// True when nothing touched in the last step.
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }

    /// The contact of a pair in the last step, given in either order (the normal points from
    /// the pair's `a` to its `b`).
    pub fn get(&self, x: Entity, y: Entity) -> Option<&Contact> {
        let (x, y) = (entity_order(x), entity_order(y));
        let key = (x.min(y), x.max(y));
        let found = self.current.binary_search_by_key(&key, Contact::pair_order);
        found.ok().map(|index| &self.current[index])
    }

    /// Every contact, mutably (restoring a snapshot remaps their entities).
    pub(crate) fn contacts_mut(&mut self) -> &mut [Contact] {
        &mut self.current
    }

    /// Replaces the contacts with this step's and reports what started and ended, each in
    /// pair order. `now` gets the previous step's contacts back, so that its buffer serves
    /// the next step.
    fn update(
        &mut self,
        now: &mut Vec<Contact>,
        started: &mut Vec<Contact>,
        ended: &mut Vec<Contact>,
    ) {
        std::mem::swap(&mut self.current, now);
        diff_sorted(now, &self.current, ended, started);
    }
}

/// Walks two lists sorted by pair: pairs only in `old` go to `gone`, only in `new` to `added`.
fn diff_sorted(
    old: &[Contact],
    new: &[Contact],
    gone: &mut Vec<Contact>,
    added: &mut Vec<Contact>,
) {
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(o), Some(n)) if o.pair_order() == n.pair_order() => (i, j) = (i + 1, j + 1),
            (Some(o), Some(n)) if o.pair_order() < n.pair_order() => {
                gone.push(*o);
                i += 1;
            }
            (Some(o), None) => {
                gone.push(*o);
                i += 1;
            }
            (_, Some(n)) => {
                added.push(*n);
                j += 1;
            }
            (None, None) => break,
        }
    }
}

/// The narrowphase system: tests every candidate pair exactly (in parallel chunks, combined
/// in pair order), updates [`Contacts`] and sends [`ContactStarted`] / [`ContactEnded`] sorted
/// by entity pair, readable next tick. Its buffers are kept from tick to tick, so a steady
/// tick allocates nothing.
pub fn narrowphase(
    pool: Res<ComputePool>,
    found: Res<BroadphasePairs>,
    mut contacts: ResMut<Contacts>,
    mut started: EventWriter<ContactStarted>,
    mut ended: EventWriter<ContactEnded>,
    mut scratch: Local<NarrowphaseScratch>,
) {
    let scratch = &mut *scratch;
    let chunks = found.pairs.len().div_ceil(PAIRS_PER_CHUNK);
    if scratch.chunks.len() < chunks {
        scratch.chunks.resize_with(chunks, Vec::new);
    }
    let per_chunk = &mut scratch.chunks[..chunks];
    pool.for_each_chunk_mut(per_chunk, 1, |chunk, touching| {
        let first = chunk * PAIRS_PER_CHUNK;
        let pairs = &found.pairs[first..found.pairs.len().min(first + PAIRS_PER_CHUNK)];
        contacts_of(pairs, &found.proxies, &mut touching[0]);
    });
    scratch.now.clear();
    for touching in &*per_chunk {
        scratch.now.extend_from_slice(touching);
    }
    scratch.started.clear();
    scratch.ended.clear();
    contacts.update(&mut scratch.now, &mut scratch.started, &mut scratch.ended);
    started.send_batch(scratch.started.iter().copied().map(ContactStarted));
    ended.send_batch(scratch.ended.iter().copied().map(ContactEnded));
}

/// The contacts of the candidate `pairs` (indices into `proxies`), in pair order, into
/// `touching` (cleared first).
fn contacts_of(pairs: &[(u32, u32)], proxies: &[Proxy], touching: &mut Vec<Contact>) {
    touching.clear();
    touching.extend(pairs.iter().filter_map(|&(i, j)| {
        let (a, b) = (&proxies[i as usize], &proxies[j as usize]);
        let hit = collide(&a.collider, a.center, &b.collider, b.center)?;
        Some(Contact {
            a: a.entity,
            b: b.entity,
            normal: hit.normal,
            depth: hit.depth,
        })
    }));
}

/// The narrowphase system's buffers, kept from tick to tick; each only grows to the most
/// pairs or contacts of a tick so far.
#[derive(Default)]
pub struct NarrowphaseScratch {
    /// The contacts of each chunk of candidate pairs (only the first chunks of a tick are
    /// used; the others keep their buffers).
    chunks: Vec<Vec<Contact>>,
    /// This step's contacts; after the update, the previous step's.
    now: Vec<Contact>,
    started: Vec<Contact>,
    ended: Vec<Contact>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(a: u32, b: u32) -> Contact {
        Contact {
            a: Entity::from_raw_u32(a.min(b)).unwrap(),
            b: Entity::from_raw_u32(a.max(b)).unwrap(),
            normal: Vec2::X,
            depth: 0.0,
        }
    }

    #[test]
    fn pairs_start_and_end_by_comparing_sorted_lists() {
        let mut contacts = Contacts::default();
        let (mut started, mut ended) = (Vec::new(), Vec::new());
        contacts.update(
            &mut vec![contact(1, 2), contact(1, 5)],
            &mut started,
            &mut ended,
        );
        assert_eq!((started.len(), ended.len()), (2, 0));
        started.clear();
        contacts.update(
            &mut vec![contact(1, 5), contact(2, 3), contact(4, 9)],
            &mut started,
            &mut ended,
        );
        assert_eq!(started, vec![contact(2, 3), contact(4, 9)]);
        assert_eq!(ended, vec![contact(1, 2)]);
        let a = Entity::from_raw_u32(9).unwrap();
        let b = Entity::from_raw_u32(4).unwrap();
        assert_eq!(contacts.get(a, b), Some(&contact(4, 9)));
    }
}
