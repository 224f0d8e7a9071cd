//! Broadphase: which boxes may touch, with a uniform grid instead of testing every pair.
//!
//! Each box is entered in every grid cell it covers; pairs are tested within a cell only,
//! and a pair is reported by exactly one cell (the one holding the lower corner of the two
//! boxes' intersection), so no pair is reported twice. Columns of cells are processed in
//! parallel on the engine's pool, and the result is sorted, so it does not depend on the
//! thread count.

use std::ops::RangeInclusive;

use bevy_ecs::{
    entity::Entity,
    prelude::{Local, Query, Res, ResMut},
    resource::Resource,
};
use glam::Vec2;

use super::{Aabb, Body, Collider, PhysicsConfig, entity_order};
use crate::ComputePool;

/// A box covering more cells than this is tested against every other box instead (so one
/// huge collider cannot flood the grid).
const MAX_CELLS_PER_BOX: u64 = 64;

/// The grid is cut into this many columns of cells, processed as independent jobs. A fixed
/// number, so the work split never depends on the thread count.
const STRIPS: i64 = 16;

/// Boxes per job when computing their cells.
const BOXES_PER_CHUNK: usize = 8192;

/// The cells a box covers, inclusive.
#[derive(Clone, Copy, Debug)]
struct CellSpan {
    x0: i32,
    y0: i32,
    x1: i32,
    y1: i32,
}

impl CellSpan {
    /// The part of the span inside columns `strip`, if any.
    fn clip(self, strip: &RangeInclusive<i32>) -> Option<Self> {
        let x0 = self.x0.max(*strip.start());
        let x1 = self.x1.min(*strip.end());
        (x0 <= x1).then_some(Self { x0, x1, ..self })
    }

    /// Cells covered (saturating: a span can be as wide as the whole i32 range both ways).
    fn len(self) -> u64 {
        let width = (i64::from(self.x1) - i64::from(self.x0) + 1) as u64;
        let height = (i64::from(self.y1) - i64::from(self.y0) + 1) as u64;
        width.saturating_mul(height)
    }

    fn cells(self) -> impl Iterator<Item = (i32, i32)> {
        (self.x0..=self.x1).flat_map(move |x| (self.y0..=self.y1).map(move |y| (x, y)))
    }
}

/// The rectangle of cells a strip's spans cover, for the counting sort.
struct CellArea {
    x0: i64,
    y0: i64,
    height: i64,
    cells: i64,
}

impl CellArea {
    fn around(spans: &[(u32, CellSpan)]) -> Option<Self> {
        let x0 = spans.iter().map(|(_, s)| i64::from(s.x0)).min()?;
        let y0 = spans.iter().map(|(_, s)| i64::from(s.y0)).min()?;
        let x1 = spans.iter().map(|(_, s)| i64::from(s.x1)).max()?;
        let y1 = spans.iter().map(|(_, s)| i64::from(s.y1)).max()?;
        let height = y1 - y0 + 1;
        Some(Self {
            x0,
            y0,
            height,
            cells: (x1 - x0 + 1) * height,
        })
    }

    /// Column-major index of a cell of the area (below `cells`).
    fn slot(&self, x: i32, y: i32) -> usize {
        ((i64::from(x) - self.x0) * self.height + i64::from(y) - self.y0) as usize
    }
}

/// `(cell key, box index)` for every cell of every span, grouped by cell, indices ascending
/// within a cell, into `entries` (`starts` is the counting sort's buffer). A counting sort
/// over the strip's cells when they are few enough (the common, dense case), a comparison
/// sort otherwise (a sparse world with far-flung boxes).
fn group_by_cell(
    spans: &[(u32, CellSpan)],
    starts: &mut Vec<usize>,
    entries: &mut Vec<(u64, u32)>,
) {
    entries.clear();
    let Some(area) = CellArea::around(spans) else {
        return;
    };
    // Spans here cover at most MAX_CELLS_PER_BOX cells each.
    let total: usize = spans.iter().map(|(_, span)| span.len() as usize).sum();
    if area.cells > 8 * total as i64 + 4096 {
        sort_by_cell(spans, entries);
    } else {
        count_by_cell(spans, &area, total, starts, entries);
    }
}

fn sort_by_cell(spans: &[(u32, CellSpan)], entries: &mut Vec<(u64, u32)>) {
    entries.extend(
        spans
            .iter()
            .flat_map(|&(index, span)| span.cells().map(move |(x, y)| (cell_key(x, y), index))),
    );
    entries.sort_unstable();
}

/// Counting sort: count per cell, prefix sums, then place the entries in span order, so
/// indices stay ascending within a cell.
fn count_by_cell(
    spans: &[(u32, CellSpan)],
    area: &CellArea,
    total: usize,
    starts: &mut Vec<usize>,
    entries: &mut Vec<(u64, u32)>,
) {
    starts.clear();
    starts.resize(area.cells as usize + 1, 0);
    for (_, span) in spans {
        span.cells()
            .for_each(|(x, y)| starts[area.slot(x, y) + 1] += 1);
    }
    for cell in 1..starts.len() {
        starts[cell] += starts[cell - 1];
    }
    entries.resize(total, (0, 0));
    for &(index, span) in spans {
        for (x, y) in span.cells() {
            let next = &mut starts[area.slot(x, y)];
            entries[*next] = (cell_key(x, y), index);
            *next += 1;
        }
    }
}

/// The buffers of one pair search, kept from call to call so that a steady stream of calls
/// allocates nothing: each only grows to the largest size it needed so far (bounded by the
/// boxes of the largest call).
#[derive(Default, Debug)]
pub struct GridScratch {
    /// Per chunk of boxes: its cell spans and its boxes too large for the grid.
    span_chunks: Vec<SpanChunk>,
    /// Every box's span, in index order.
    spans: Vec<(u32, CellSpan)>,
    /// The boxes too large for the grid, in index order.
    large: Vec<u32>,
    /// Per strip of columns: its spans and its buffers (only the first strips of a call are
    /// used; the others keep their buffers for the next call).
    strips: Vec<Strip>,
}

/// The spans found in one chunk of boxes.
#[derive(Default, Debug)]
struct SpanChunk {
    spans: Vec<(u32, CellSpan)>,
    large: Vec<u32>,
}

/// One column strip of the grid: its clipped spans, the buffers of its pair search, and the
/// pairs it owns.
#[derive(Default, Debug)]
struct Strip {
    spans: Vec<(u32, CellSpan)>,
    starts: Vec<usize>,
    entries: Vec<(u64, u32)>,
    found: Vec<(u32, u32)>,
}

/// A uniform grid of square cells.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UniformGrid {
    cell_size: f32,
}

impl UniformGrid {
    /// A grid of `cell_size`-wide cells (non-positive or non-finite sizes become 1). About
    /// the diameter of a typical collider works best.
    pub fn new(cell_size: f32) -> Self {
        let valid = cell_size.is_finite() && cell_size > 0.0;
        Self {
            cell_size: if valid { cell_size } else { 1.0 },
        }
    }

    /// Every pair `(i, j)`, `i < j`, of indices of overlapping boxes (touching counts), sorted.
    /// Boxes with a NaN coordinate overlap nothing.
    ///
    /// The columns of cells are independent jobs on `pool`: each owns the pairs whose owner
    /// cell lies in it, so the jobs never report the same pair.
    pub fn pairs(&self, boxes: &[Aabb], pool: &ComputePool) -> Vec<(u32, u32)> {
        let mut pairs = Vec::new();
        self.pairs_into(boxes, pool, &mut GridScratch::default(), &mut pairs);
        pairs
    }

    /// [`pairs`](Self::pairs) into `pairs` (cleared first), with the buffers of `scratch`:
    /// repeated calls allocate nothing once the buffers have grown to the largest call.
    pub fn pairs_into(
        &self,
        boxes: &[Aabb],
        pool: &ComputePool,
        scratch: &mut GridScratch,
        pairs: &mut Vec<(u32, u32)>,
    ) {
        self.spans(boxes, pool, scratch);
        let used = split_into_strips(&scratch.spans, &mut scratch.strips);
        let strips = &mut scratch.strips[..used];
        pool.for_each_chunk_mut(strips, 1, |_, strip| {
            self.pairs_in_strip(&mut strip[0], boxes)
        });
        pairs.clear();
        for strip in &*strips {
            pairs.extend_from_slice(&strip.found);
        }
        pairs_with_large(boxes, &scratch.large, pairs);
        pairs.sort_unstable();
    }

    fn cell_of(&self, point: Vec2) -> (i32, i32) {
        // `as` saturates (NaN becomes 0), so no coordinate can make this panic.
        let cell = (point / self.cell_size).floor();
        (cell.x as i32, cell.y as i32)
    }

    /// The cell span of every finite box of ordinary size, and the boxes too large for that,
    /// both in index order, into `scratch.spans` and `scratch.large` (computed in parallel
    /// chunks, concatenated in chunk order).
    fn spans(&self, boxes: &[Aabb], pool: &ComputePool, scratch: &mut GridScratch) {
        let chunks = boxes.len().div_ceil(BOXES_PER_CHUNK);
        if scratch.span_chunks.len() < chunks {
            scratch.span_chunks.resize_with(chunks, SpanChunk::default);
        }
        let span_chunks = &mut scratch.span_chunks[..chunks];
        pool.for_each_chunk_mut(span_chunks, 1, |chunk, found| {
            let first = chunk * BOXES_PER_CHUNK;
            let last = boxes.len().min(first + BOXES_PER_CHUNK);
            self.spans_of_chunk(first, &boxes[first..last], &mut found[0]);
        });
        scratch.spans.clear();
        scratch.large.clear();
        for chunk in &*span_chunks {
            scratch.spans.extend_from_slice(&chunk.spans);
            scratch.large.extend_from_slice(&chunk.large);
        }
    }

    /// The spans of one chunk of boxes, the first of which has index `first`.
    fn spans_of_chunk(&self, first: usize, boxes: &[Aabb], found: &mut SpanChunk) {
        found.spans.clear();
        found.large.clear();
        for (offset, aabb) in boxes.iter().enumerate() {
            let index = (first + offset) as u32;
            match self.span_of(aabb) {
                Some(span) if span.len() <= MAX_CELLS_PER_BOX => {
                    found.spans.push((index, span));
                }
                Some(_) => found.large.push(index),
                None => {}
            }
        }
    }

    /// The cells a box covers, or `None` for a box with a NaN or infinite coordinate.
    fn span_of(&self, aabb: &Aabb) -> Option<CellSpan> {
        if !(aabb.min.is_finite() && aabb.max.is_finite()) {
            return None;
        }
        let (x0, y0) = self.cell_of(aabb.min);
        let (x1, y1) = self.cell_of(aabb.max);
        Some(CellSpan { x0, y0, x1, y1 })
    }

    /// The pairs owned by the cells of one strip (its spans are clipped to its columns), into
    /// `strip.found`.
    fn pairs_in_strip(&self, strip: &mut Strip, boxes: &[Aabb]) {
        group_by_cell(&strip.spans, &mut strip.starts, &mut strip.entries);
        strip.found.clear();
        for (start, end) in cell_runs(&strip.entries) {
            self.pairs_in_cell(&strip.entries[start..end], boxes, &mut strip.found);
        }
    }

    /// The pairs one cell owns: overlapping, and the lower corner of their intersection lies
    /// in this cell (both boxes cover that cell, so exactly one cell reports the pair).
    fn pairs_in_cell(&self, cell: &[(u64, u32)], boxes: &[Aabb], out: &mut Vec<(u32, u32)>) {
        for (k, &(key, i)) in cell.iter().enumerate() {
            let a = &boxes[i as usize];
            for &(_, j) in &cell[k + 1..] {
                let b = &boxes[j as usize];
                if a.overlaps(b) {
                    let (x, y) = self.cell_of(a.min.max(b.min));
                    if cell_key(x, y) == key {
                        out.push((i, j));
                    }
                }
            }
        }
    }
}

/// Cuts the columns the spans cover into at most [`STRIPS`] equal ranges and hands every
/// span, clipped, to each strip it reaches (in index order, which the pair search relies on).
/// Fills the first strips of `strips` (adding strips if there are too few) and returns how
/// many it used.
fn split_into_strips(spans: &[(u32, CellSpan)], strips: &mut Vec<Strip>) -> usize {
    let Some(first) = spans.iter().map(|(_, s)| i64::from(s.x0)).min() else {
        return 0;
    };
    let last = spans
        .iter()
        .map(|(_, s)| i64::from(s.x1))
        .max()
        .unwrap_or(first);
    let width = (last - first + STRIPS) / STRIPS;
    let used = ((last - first) / width + 1) as usize;
    if strips.len() < used {
        strips.resize_with(used, Strip::default);
    }
    for strip in &mut strips[..used] {
        strip.spans.clear();
    }
    for &(index, span) in spans {
        let from = (i64::from(span.x0) - first) / width;
        let to = (i64::from(span.x1) - first) / width;
        for k in from..=to {
            // Strip k covers columns first + k·width ..= first + (k+1)·width − 1 (capped at
            // `last`), all within the i32 range of the spans.
            let start = first + k * width;
            let columns = start as i32..=(start + width - 1).min(last) as i32;
            if let Some(clipped) = span.clip(&columns) {
                strips[k as usize].spans.push((index, clipped));
            }
        }
    }
    used
}

fn cell_key(x: i32, y: i32) -> u64 {
    (u64::from(x as u32) << 32) | u64::from(y as u32)
}

/// `(start, end)` of every run of at least two equal cell keys in sorted entries.
fn cell_runs(entries: &[(u64, u32)]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut start = 0;
    (1..=entries.len()).filter_map(move |end| {
        if end < entries.len() && entries[end].0 == entries[start].0 {
            return None;
        }
        let run = (start, end);
        start = end;
        (run.1 - run.0 > 1).then_some(run)
    })
}

/// Tests every large box against every other box (each pair once).
fn pairs_with_large(boxes: &[Aabb], large: &[u32], out: &mut Vec<(u32, u32)>) {
    for &l in large {
        let big = &boxes[l as usize];
        for (other, aabb) in boxes.iter().enumerate() {
            let other = other as u32;
            let counted_from_other_side = large.contains(&other) && other < l;
            if other != l && !counted_from_other_side && big.overlaps(aabb) {
                out.push((l.min(other), l.max(other)));
            }
        }
    }
}

/// Every overlapping pair by testing all n² / 2 pairs: the reference the grid is checked
/// against, and the baseline of the benchmarks.
pub fn brute_force_pairs(boxes: &[Aabb]) -> Vec<(u32, u32)> {
    let mut pairs = Vec::new();
    for (i, a) in boxes.iter().enumerate() {
        for (j, b) in boxes.iter().enumerate().skip(i + 1) {
            if a.overlaps(b) {
                pairs.push((i as u32, j as u32));
            }
        }
    }
    pairs
}

/// One collider as the physics step sees it this tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Proxy {
    /// Its entity.
    pub entity: Entity,
    /// The body's position.
    pub center: Vec2,
    /// Its shape.
    pub collider: Collider,
    /// The box it covers.
    pub aabb: Aabb,
}

/// What the broadphase found this tick: the colliders sorted by [`entity_order`], and the
/// candidate pairs as indices into them (`i < j`, so `proxies[i]` comes first), sorted.
#[derive(Resource, Default, Debug)]
pub struct BroadphasePairs {
    /// Every body with a collider, sorted by [`entity_order`].
    pub proxies: Vec<Proxy>,
    /// Pairs whose boxes overlap, sorted.
    pub pairs: Vec<(u32, u32)>,
}

/// The broadphase system: snapshots the colliders (sorted by [`entity_order`]: ids are
/// deterministic in this engine) and finds the pairs whose boxes overlap. Its buffers are
/// kept from tick to tick, so a steady tick allocates nothing.
pub fn broadphase(
    pool: Res<ComputePool>,
    config: Res<PhysicsConfig>,
    colliders: Query<(Entity, &Body, &Collider)>,
    mut found: ResMut<BroadphasePairs>,
    mut scratch: Local<BroadphaseScratch>,
) {
    let found = &mut *found;
    found.proxies.clear();
    found
        .proxies
        .extend(colliders.iter().map(|(entity, body, collider)| Proxy {
            entity,
            center: body.position,
            collider: *collider,
            aabb: collider.aabb(body.position),
        }));
    found
        .proxies
        .sort_unstable_by_key(|proxy| entity_order(proxy.entity));
    let BroadphaseScratch { boxes, grid } = &mut *scratch;
    boxes.clear();
    boxes.extend(found.proxies.iter().map(|proxy| proxy.aabb));
    UniformGrid::new(config.cell_size).pairs_into(boxes, &pool, grid, &mut found.pairs);
}

/// The broadphase system's buffers, kept from tick to tick.
#[derive(Default)]
pub struct BroadphaseScratch {
    boxes: Vec<Aabb>,
    grid: GridScratch,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn square(x: f32, y: f32, half: f32) -> Aabb {
        Aabb::new(Vec2::new(x - half, y - half), Vec2::new(x + half, y + half))
    }

    #[test]
    fn touching_boxes_are_a_pair_separated_ones_are_not() {
        let boxes = [
            square(0.0, 0.0, 1.0),
            square(2.0, 0.0, 1.0), // touches box 0 on an edge
            square(4.5, 0.0, 1.0), // 0.5 away from box 1
            square(2.0, 2.0, 1.0), // touches box 1 and, at a corner, box 0
        ];
        let grid = UniformGrid::new(2.0);
        let found = grid.pairs(&boxes, &ComputePool::default());
        assert_eq!(found, vec![(0, 1), (0, 3), (1, 3)]);
        assert_eq!(found, brute_force_pairs(&boxes));
    }

    #[test]
    fn huge_and_broken_boxes_are_handled() {
        let boxes = [
            square(0.0, 0.0, 1000.0), // covers far more than 64 cells
            square(10.0, 10.0, 1.0),
            square(5000.0, 0.0, 1.0),
            Aabb::new(Vec2::NAN, Vec2::NAN),
            square(-500.0, 0.0, 450.0), // large too, overlaps the first only
        ];
        let found = UniformGrid::new(1.0).pairs(&boxes, &ComputePool::default());
        assert_eq!(found, brute_force_pairs(&boxes));
        assert_eq!(found, vec![(0, 1), (0, 4)]);
    }

    #[test]
    fn far_flung_boxes_agree_with_brute_force() {
        // One column, a million rows apart: too many cells for the counting sort.
        let boxes = [
            square(0.0, 0.0, 0.5),
            square(0.0, 1e6, 0.5),
            square(0.5, 1e6, 0.5),
            square(0.2, 0.6, 0.5),
            square(-3e5, -7e5, 0.5),
        ];
        let found = UniformGrid::new(1.0).pairs(&boxes, &ComputePool::default());
        assert_eq!(found, vec![(0, 3), (1, 2)]);
        assert_eq!(found, brute_force_pairs(&boxes));
    }

    #[test]
    fn boxes_at_the_edge_of_the_cell_range_are_not_lost() {
        let edge = f32::MAX / 2.0; // saturates to the last cell column
        let boxes = [
            square(edge, 0.0, 1.0),
            square(edge, 0.5, 1.0),
            square(-edge, 0.0, 1.0),
            square(0.0, 0.0, 1.0),
        ];
        let found = UniformGrid::new(1.0).pairs(&boxes, &ComputePool::default());
        assert_eq!(found, brute_force_pairs(&boxes));
        assert_eq!(found, vec![(0, 1)]);
    }

    #[test]
    fn a_box_covering_the_whole_plane_overlaps_everything() {
        let boxes = [
            square(3.0, 4.0, 1.0),
            Aabb::new(Vec2::splat(-f32::MAX), Vec2::splat(f32::MAX)),
            square(-1e30, 1e30, 1.0),
        ];
        let found = UniformGrid::new(1.0).pairs(&boxes, &ComputePool::default());
        assert_eq!(found, vec![(0, 1), (1, 2)]);
        assert_eq!(found, brute_force_pairs(&boxes));
    }

    fn scene() -> impl Strategy<Value = (Vec<Aabb>, f32)> {
        let aabb = (-50.0f32..50.0, -50.0f32..50.0, 0.0f32..4.0, 0.0f32..4.0)
            .prop_map(|(x, y, w, h)| Aabb::new(Vec2::new(x, y), Vec2::new(x + w, y + h)));
        (prop::collection::vec(aabb, 0..120), 0.5f32..20.0)
    }

    /// Whole-number boxes and cells: many exact touches, many edges on cell boundaries.
    fn snapped_scene() -> impl Strategy<Value = (Vec<Aabb>, f32)> {
        let aabb = (-20i32..20, -20i32..20, 0i32..6, 0i32..6).prop_map(|(x, y, w, h)| {
            let min = Vec2::new(x as f32, y as f32);
            Aabb::new(min, min + Vec2::new(w as f32, h as f32))
        });
        (
            prop::collection::vec(aabb, 0..80),
            (1i32..8).prop_map(|c| c as f32),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn the_grid_finds_exactly_the_brute_force_pairs((boxes, cell) in scene()) {
            let grid = UniformGrid::new(cell);
            prop_assert_eq!(grid.pairs(&boxes, &ComputePool::default()), brute_force_pairs(&boxes));
        }

        #[test]
        fn the_grid_agrees_on_touching_boxes_and_cell_edges((boxes, cell) in snapped_scene()) {
            let grid = UniformGrid::new(cell);
            prop_assert_eq!(grid.pairs(&boxes, &ComputePool::default()), brute_force_pairs(&boxes));
        }

        /// Buffers left from a larger or smaller scene (more strips, other spans) change
        /// nothing in the next one.
        #[test]
        fn reused_buffers_find_exactly_the_brute_force_pairs(
            scenes in prop::collection::vec(scene(), 1..6),
        ) {
            let mut scratch = GridScratch::default();
            let mut pairs = vec![(7, 7)];
            for (boxes, cell) in &scenes {
                let grid = UniformGrid::new(*cell);
                grid.pairs_into(boxes, &ComputePool::default(), &mut scratch, &mut pairs);
                prop_assert_eq!(&pairs, &brute_force_pairs(boxes));
            }
        }
    }
}
