//! Draws the world into a [`Canvas`] of character cells: the arena between the score line
//! (top) and the status line (bottom). No terminal is involved, so the view is tested like
//! any function; the binary only writes the cells that changed.
//!
//! Positions are drawn between the last two ticks with the interpolation alpha (the
//! fraction of a tick the real-time loop has accumulated), so motion stays smooth when the
//! terminal draws faster or slower than the 60 Hz tick.

use std::f32::consts::TAU;

use tickbus::{
    physics::{Body, Vec2},
    prelude::*,
};

use crate::game::{
    ActivePowers, Banner, Bullet, Debris, Level, Lifetime, Lives, Message, Phase, PowerKind,
    PowerUp, Previous, Rock, RockSize, Rules, Score, Ship,
};

/// The colour of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tint {
    /// The terminal's own.
    #[default]
    Plain,
    /// Dimmed text.
    Dim,
    /// Rocks.
    Rock,
    /// The ship.
    Ship,
    /// Bullets, flames and hot debris.
    Hot,
    /// Cooling debris.
    Warm,
    /// Power-ups and good news.
    Bonus,
    /// The shield and blinking protection.
    Shield,
    /// Bad news.
    Alert,
    /// The score line and status line.
    Bar,
}

/// One character cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// The character.
    pub ch: char,
    /// Its colour.
    pub tint: Tint,
}

impl Default for Cell {
    fn default() -> Self {
        Self {
            ch: ' ',
            tint: Tint::Plain,
        }
    }
}

/// A grid of cells, row by row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canvas {
    width: usize,
    height: usize,
    cells: Vec<Cell>,
}

impl Canvas {
    /// A blank canvas of `width` × `height` cells.
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            cells: vec![Cell::default(); width * height],
        }
    }

    /// Width in cells.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in cells.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The cells of row `y`.
    pub fn row(&self, y: usize) -> &[Cell] {
        &self.cells[y * self.width..(y + 1) * self.width]
    }

    /// Row `y` as text (for tests and logs).
    pub fn row_text(&self, y: usize) -> String {
        self.row(y).iter().map(|cell| cell.ch).collect()
    }

    /// Sets a cell; outside the canvas nothing happens.
    pub fn put(&mut self, x: i64, y: i64, ch: char, tint: Tint) {
        if let (Ok(x), Ok(y)) = (usize::try_from(x), usize::try_from(y))
            && x < self.width
            && y < self.height
        {
            self.cells[y * self.width + x] = Cell { ch, tint };
        }
    }

    /// Writes `text` from column `x` of row `y` (clipped).
    pub fn text(&mut self, x: i64, y: i64, text: &str, tint: Tint) {
        for (offset, ch) in text.chars().enumerate() {
            self.put(x + offset as i64, y, ch, tint);
        }
    }

    /// Writes `text` centred on row `y`.
    pub fn centred(&mut self, y: i64, text: &str, tint: Tint) {
        let x = (self.width as i64 - text.chars().count() as i64) / 2;
        self.text(x.max(0), y, text, tint);
    }

    fn fill_row(&mut self, y: usize, tint: Tint) {
        for x in 0..self.width {
            self.put(x as i64, y as i64, ' ', tint);
        }
    }
}

/// What the status line shows about the engine (measured by the real-time loop).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Status {
    /// Ticks run per second of wall time, over the last second.
    pub ticks_per_second: f64,
    /// Events readable in the last tick, over all queues.
    pub events: usize,
    /// Threads running systems.
    pub threads: usize,
    /// Systems that ran on worker threads (not the thread driving the tick) in the last
    /// tick: 0 when the executor found that handing systems over does not pay.
    pub systems_on_workers: usize,
    /// The time scale.
    pub time_scale: f64,
    /// True while paused.
    pub paused: bool,
    /// True while a recording is being made.
    pub recording: bool,
    /// True while the game is being rewound.
    pub rewinding: bool,
}

impl Status {
    /// The engine's own figures of its last tick: events, threads, systems on workers and
    /// whether it is paused. The real-time loop adds what only it measures (ticks per
    /// second, time scale, recording).
    pub fn of_engine(engine: &Engine) -> Self {
        let stats = engine.stats();
        Self {
            events: stats.queues.iter().map(|(_, queue)| queue.readable).sum(),
            threads: engine.threads(),
            systems_on_workers: stats.systems_on_workers,
            paused: engine.fixed_step().is_paused(),
            ..Self::default()
        }
    }
}

/// Draws the whole screen: score line, arena, banner, overlays and status line.
pub fn draw(world: &World, alpha: f32, status: &Status, canvas: &mut Canvas) {
    *canvas = Canvas::new(canvas.width, canvas.height);
    if canvas.height < 3 || canvas.width < 10 {
        canvas.text(0, 0, "terminal too small", Tint::Alert);
        return;
    }
    let arena = Arena::new(world, canvas);
    draw_debris(world, &arena, alpha, canvas);
    draw_rocks(world, &arena, alpha, canvas);
    draw_power_ups(world, &arena, alpha, canvas);
    draw_bullets(world, &arena, alpha, canvas);
    draw_ship(world, &arena, alpha, canvas);
    draw_score_line(world, canvas);
    draw_messages(world, status, canvas);
    draw_status_line(status, canvas);
}

/// How world units map to the cells of the arena (rows 1 to height − 2).
struct Arena {
    size: Vec2,
    cells: Vec2,
    tick: u64,
}

impl Arena {
    fn new(world: &World, canvas: &Canvas) -> Self {
        let (width, height) = world
            .get_resource::<Rules>()
            .map_or((160.0, 90.0), |rules| rules.0.arena);
        let tick = world.get_resource::<SimTime>().map_or(0, SimTime::tick);
        Self {
            size: Vec2::new(width, height),
            cells: Vec2::new(canvas.width as f32, (canvas.height - 2) as f32),
            tick,
        }
    }

    /// World units per cell, on each axis.
    fn cell_size(&self) -> Vec2 {
        self.size / self.cells
    }

    /// The cell of a world position (column, row of the canvas).
    fn cell(&self, position: Vec2) -> (i64, i64) {
        let cell = (position / self.cell_size()).floor();
        let column = (cell.x as i64).rem_euclid(self.cells.x as i64);
        let row = (cell.y as i64).rem_euclid(self.cells.y as i64);
        (column, row + 1)
    }

    /// Where to draw a body between its last two positions (no blending across a wrap).
    fn blend(&self, previous: Vec2, current: Vec2, alpha: f32) -> Vec2 {
        let step = current - previous;
        if step.x.abs() > self.size.x * 0.5 || step.y.abs() > self.size.y * 0.5 {
            return current;
        }
        previous + step * alpha
    }
}

fn positions<'w, T: Component>(
    world: &'w World,
    arena: &Arena,
    alpha: f32,
) -> Vec<(Vec2, &'w T, Option<&'w Lifetime>)> {
    let Some(mut query) = world.try_query::<(&Body, &Previous, &T, Option<&Lifetime>)>() else {
        return Vec::new();
    };
    query
        .iter(world)
        .map(|(body, previous, thing, lifetime)| {
            (
                arena.blend(previous.0, body.position, alpha),
                thing,
                lifetime,
            )
        })
        .collect()
}

fn draw_debris(world: &World, arena: &Arena, alpha: f32, canvas: &mut Canvas) {
    for (position, _, lifetime) in positions::<Debris>(world, arena, alpha) {
        let left = lifetime.map_or(0, |l| l.0);
        let (ch, tint) = match left {
            20.. => ('*', Tint::Hot),
            8..=19 => ('+', Tint::Warm),
            _ => ('.', Tint::Dim),
        };
        let (x, y) = arena.cell(position);
        canvas.put(x, y, ch, tint);
    }
}

fn draw_rocks(world: &World, arena: &Arena, alpha: f32, canvas: &mut Canvas) {
    for (position, rock, _) in positions::<Rock>(world, arena, alpha) {
        draw_rock(arena, position, rock, canvas);
    }
}

/// A lumpy disc: the cells whose centre lies inside the rock's outline, the outline itself
/// drawn with a heavier character. Wraps around the arena's edges like the rock does.
fn draw_rock(arena: &Arena, centre: Vec2, rock: &Rock, canvas: &mut Canvas) {
    let cell = arena.cell_size();
    let radius = rock.size.radius() * 1.2;
    let reach = (Vec2::splat(radius) / cell).ceil();
    let (cx, cy) = arena.cell(centre);
    for dy in -(reach.y as i64)..=reach.y as i64 {
        for dx in -(reach.x as i64)..=reach.x as i64 {
            let (x, y) = (cx + dx, cy + dy);
            let cell_centre = (Vec2::new(x as f32, (y - 1) as f32) + 0.5) * cell;
            let offset = torus(cell_centre - centre, arena.size);
            let edge = outline_radius(rock, offset);
            let distance = offset.length();
            if distance <= edge {
                let inner = distance < edge - cell.x.max(cell.y) * 0.9;
                let ch = match (inner, rock.size) {
                    (true, _) => ':',
                    (false, RockSize::Small) => 'o',
                    (false, _) => '#',
                };
                let (wx, wy) = wrap_cell(x, y, arena);
                canvas.put(wx, wy, ch, Tint::Rock);
            }
        }
    }
    if rock.size == RockSize::Small {
        canvas.put(cx, cy, 'o', Tint::Rock);
    }
}

/// The rock's outline radius in the direction of `offset`: lumps from its shape seed,
/// turned by its spin.
fn outline_radius(rock: &Rock, offset: Vec2) -> f32 {
    let angle = offset.y.atan2(offset.x) - rock.spin;
    let phase = (rock.shape % 628) as f32 / 100.0;
    let lumps = 0.16 * (3.0 * angle + phase).sin() + 0.09 * (5.0 * angle + 2.0 * phase).sin();
    rock.size.radius() * (1.0 + lumps)
}

fn torus(delta: Vec2, size: Vec2) -> Vec2 {
    let axis = |d: f32, s: f32| d - s * (d / s).round();
    Vec2::new(axis(delta.x, size.x), axis(delta.y, size.y))
}

fn wrap_cell(x: i64, y: i64, arena: &Arena) -> (i64, i64) {
    let (columns, rows) = (arena.cells.x as i64, arena.cells.y as i64);
    (x.rem_euclid(columns), (y - 1).rem_euclid(rows) + 1)
}

fn draw_power_ups(world: &World, arena: &Arena, alpha: f32, canvas: &mut Canvas) {
    for (position, PowerUp(kind), lifetime) in positions::<PowerUp>(world, arena, alpha) {
        // Blink during the last two seconds.
        let fading = lifetime.is_some_and(|l| l.0 < 120 && (l.0 / 8).is_multiple_of(2));
        if fading {
            continue;
        }
        let (x, y) = arena.cell(position);
        canvas.put(x - 1, y, '(', Tint::Bonus);
        canvas.put(x, y, power_letter(*kind), Tint::Bonus);
        canvas.put(x + 1, y, ')', Tint::Bonus);
    }
}

/// The letter of a power-up on screen and in the legend.
pub fn power_letter(kind: PowerKind) -> char {
    match kind {
        PowerKind::Shield => 'S',
        PowerKind::Rapid => 'R',
        PowerKind::Spread => 'W',
        PowerKind::ExtraLife => '+',
    }
}

fn draw_bullets(world: &World, arena: &Arena, alpha: f32, canvas: &mut Canvas) {
    for (position, _, _) in positions::<Bullet>(world, arena, alpha) {
        let (x, y) = arena.cell(position);
        canvas.put(x, y, '•', Tint::Hot);
    }
}

/// The ship's glyph: an arrow in one of eight directions.
pub fn ship_glyph(heading: f32) -> char {
    const ARROWS: [char; 8] = ['↑', '↗', '→', '↘', '↓', '↙', '←', '↖'];
    let octant = ((heading.rem_euclid(TAU) / TAU) * 8.0 + 0.5) as usize % 8;
    ARROWS[octant]
}

fn draw_ship(world: &World, arena: &Arena, alpha: f32, canvas: &mut Canvas) {
    let shielded = world
        .get_resource::<ActivePowers>()
        .is_some_and(|powers| powers.shield.is_some());
    for (position, ship, _) in positions::<Ship>(world, arena, alpha) {
        let (x, y) = arena.cell(position);
        let protected = arena.tick < ship.safe_until;
        if shielded {
            for (dx, dy, ch) in [(-1, 0, '('), (1, 0, ')')] {
                canvas.put(x + dx, y + dy, ch, Tint::Shield);
            }
        }
        if ship.thrusting && arena.tick % 4 < 3 {
            let behind = position - ship.facing() * arena.cell_size().x.max(arena.cell_size().y);
            let (fx, fy) = arena.cell(behind);
            canvas.put(fx, fy, '*', Tint::Hot);
        }
        let blink = protected && (arena.tick / 6).is_multiple_of(2);
        let tint = if blink { Tint::Shield } else { Tint::Ship };
        canvas.put(x, y, ship_glyph(ship.heading), tint);
    }
}

fn draw_score_line(world: &World, canvas: &mut Canvas) {
    canvas.fill_row(0, Tint::Bar);
    let score = world.get_resource::<Score>().map_or(0, |s| s.points);
    let lives = world.get_resource::<Lives>().map_or(0, |l| l.0);
    let level = world.get_resource::<Level>().map_or(0, |l| l.0);
    let hearts: String = "♥".repeat(lives.min(9) as usize);
    let mut line = format!(" SCORE {score:>7}   LIVES {hearts:<9}  LEVEL {level:>2}");
    if let Some(powers) = world.get_resource::<ActivePowers>() {
        for (active, name) in [
            (powers.shield, "SHIELD"),
            (powers.rapid, "RAPID"),
            (powers.spread, "SPREAD"),
        ] {
            if active.is_some() {
                line.push_str(&format!("  [{name}]"));
            }
        }
    }
    canvas.text(0, 0, &line, Tint::Bar);
}

fn draw_messages(world: &World, status: &Status, canvas: &mut Canvas) {
    let middle = canvas.height() as i64 / 2;
    let phase = world.get_resource::<Phase>().copied().unwrap_or_default();
    if phase == Phase::GameOver {
        let score = world.get_resource::<Score>().map_or(0, |s| s.points);
        canvas.centred(middle - 1, "  G A M E   O V E R  ", Tint::Alert);
        canvas.centred(middle, &format!("  final score {score}  "), Tint::Plain);
        canvas.centred(
            middle + 1,
            "  r / Enter: play again    q: quit  ",
            Tint::Dim,
        );
    } else if let Some(text) = banner_text(world) {
        canvas.centred(middle - 3, &format!("  {text}  "), Tint::Bonus);
    }
    if status.paused {
        canvas.centred(
            middle + 3,
            "  PAUSED   p: resume   .: one tick  ",
            Tint::Alert,
        );
    }
}

fn banner_text(world: &World) -> Option<String> {
    let banner = world.get_resource::<Banner>()?;
    let now = world.get_resource::<SimTime>().map_or(0, SimTime::tick);
    if now >= banner.until {
        return None;
    }
    Some(match banner.message? {
        Message::Level(level) => format!("L E V E L   {level}"),
        Message::Power(PowerKind::Shield) => "SHIELD".to_owned(),
        Message::Power(PowerKind::Rapid) => "RAPID FIRE".to_owned(),
        Message::Power(PowerKind::Spread) => "SPREAD SHOT".to_owned(),
        Message::Power(PowerKind::ExtraLife) => "EXTRA LIFE".to_owned(),
    })
}

fn draw_status_line(status: &Status, canvas: &mut Canvas) {
    let y = canvas.height() as i64 - 1;
    canvas.fill_row(y as usize, Tint::Bar);
    let mut engine = format!(
        " {:>5.1} ticks/s  {} events  {}  {} on workers  x{}",
        status.ticks_per_second,
        status.events,
        counted(status.threads, "thread"),
        counted(status.systems_on_workers, "system"),
        format_scale(status.time_scale),
    );
    if status.paused {
        engine.push_str("  PAUSED");
    }
    if status.rewinding {
        engine.push_str("  ◀◀ REWIND");
    }
    if status.recording {
        engine.push_str("  ● REC");
    }
    canvas.text(0, y, &engine, Tint::Bar);
    // The keys, as many as fit after the engine's figures.
    let room = canvas.width().saturating_sub(engine.chars().count() + 2);
    let keys = KEY_HELP
        .iter()
        .rev()
        .find(|help| help.chars().count() <= room)
        .copied()
        .unwrap_or("");
    let x = canvas.width() - keys.chars().count() - 1;
    canvas.text(x as i64, y, keys, Tint::Bar);
}

/// The key legend of the status line, shortest first.
const KEY_HELP: [&str; 6] = [
    "q quit",
    "p pause  q quit",
    "␣ fire  p pause  q quit",
    "←→↑ fly  ␣ fire  ↓ jump  p pause  q quit",
    "←→ turn  ↑ thrust  ␣ fire  ↓ jump  p pause  . step  +/- speed  q quit",
    "←→ turn  ↑ thrust  ␣ fire  ↓ jump  r rewind  p pause  . step  +/- speed  q quit",
];
/// `1 thread`, `2 threads`.
fn counted(count: usize, noun: &str) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {noun}{plural}")
}

fn format_scale(scale: f64) -> String {
    let text = format!("{scale:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ship_glyphs_follow_the_heading() {
        assert_eq!(ship_glyph(0.0), '↑');
        assert_eq!(ship_glyph(TAU / 4.0), '→');
        assert_eq!(ship_glyph(TAU / 2.0), '↓');
        assert_eq!(ship_glyph(-TAU / 8.0), '↖');
    }

    #[test]
    fn the_canvas_clips() {
        let mut canvas = Canvas::new(4, 2);
        canvas.text(2, 1, "abc", Tint::Plain);
        canvas.put(-1, 0, 'x', Tint::Plain);
        assert_eq!(canvas.row_text(1), "  ab");
        assert_eq!(canvas.row_text(0), "    ");
    }
}
