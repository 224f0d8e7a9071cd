//! What the player sees, drawn from a real game world into an 80 × 24 canvas.

use game_demo::{
    game::{Asteroids, AsteroidsConfig, Phase, Previous, spawn},
    view::{Canvas, Status, draw},
};
use tickbus::{
    Engine, ExecutorKind,
    physics::Vec2,
    replay::{RunSetup, build_game},
};

fn started() -> Engine {
    let setup = RunSetup {
        seed: 1,
        tick_rate: 60,
        executor: ExecutorKind::Sequential,
    };
    let (mut engine, _input) =
        build_game::<Asteroids>(&AsteroidsConfig::default(), setup).expect("the game builds");
    engine.tick().expect("the first tick runs");
    engine
}

fn drawn(engine: &Engine, alpha: f32, status: &Status) -> Canvas {
    let mut canvas = Canvas::new(80, 24);
    draw(engine.world(), alpha, status, &mut canvas);
    canvas
}

fn screen(canvas: &Canvas) -> String {
    (0..canvas.height())
        .map(|y| canvas.row_text(y) + "\n")
        .collect()
}

/// The column of `ch` in row `y`, if it is there once.
fn column_of(canvas: &Canvas, y: usize, ch: char) -> Option<usize> {
    canvas.row(y).iter().position(|cell| cell.ch == ch)
}

#[test]
fn the_score_line_the_ship_and_the_status_line_are_drawn() {
    let engine = started();
    let status = Status {
        ticks_per_second: 59.9,
        events: 12,
        threads: 2,
        systems_on_workers: 3,
        time_scale: 1.0,
        ..Status::default()
    };
    let canvas = drawn(&engine, 0.0, &status);
    let top = canvas.row_text(0);
    assert!(top.contains("SCORE       0"), "{top}");
    assert!(top.contains("LIVES ♥♥♥"), "{top}");
    // The arena (160 × 90) on 80 × 22 cells: the ship in the middle points up.
    assert_eq!(canvas.row(12)[40].ch, '↑', "{}", screen(&canvas));
    let bottom = canvas.row_text(23);
    assert!(bottom.contains("59.9 ticks/s"), "{bottom}");
    assert!(bottom.contains("12 events"), "{bottom}");
    assert!(bottom.contains("2 threads"), "{bottom}");
    assert!(bottom.contains("3 systems on workers"), "{bottom}");
    assert!(bottom.contains("q quit"), "{bottom}");
}

#[test]
fn the_status_line_shows_how_many_systems_ran_on_worker_threads() {
    let setup = |executor| RunSetup {
        seed: 1,
        tick_rate: 60,
        executor,
    };
    let line = |executor| {
        let (mut engine, _input) =
            build_game::<Asteroids>(&AsteroidsConfig::default(), setup(executor))
                .expect("the game builds");
        engine.run_ticks(5).expect("the game runs");
        let status = Status::of_engine(&engine);
        let on_workers = engine.stats().systems_on_workers;
        (drawn(&engine, 0.0, &status).row_text(23), on_workers)
    };
    let (inline, none) = line(ExecutorKind::Sequential);
    assert_eq!(none, 0);
    assert!(
        inline.contains("1 thread  0 systems on workers"),
        "{inline}"
    );
    // Every system the executor can hand over goes to the three workers.
    let (parallel, on_workers) = line(ExecutorKind::forced_parallel(4));
    assert!(on_workers > 0, "the workers ran systems in the last tick");
    assert!(
        parallel.contains(&format!("4 threads  {on_workers} system")),
        "{parallel}"
    );
}

#[test]
fn bodies_are_drawn_between_ticks_with_the_interpolation_alpha() {
    let mut engine = started();
    let bullet = spawn::bullet(Vec2::new(40.0, 10.0), Vec2::ZERO, 100);
    let id = engine.world_mut().spawn(bullet).id();
    // Last tick at x = 20, this tick at x = 40: 10 and 20 cells.
    engine.world_mut().get_mut::<Previous>(id).unwrap().0 = Vec2::new(20.0, 10.0);
    let status = Status::default();
    let row = 3; // y = 10 at 90 / 22 units per row
    assert_eq!(column_of(&drawn(&engine, 0.0, &status), row, '•'), Some(10));
    assert_eq!(column_of(&drawn(&engine, 0.5, &status), row, '•'), Some(15));
    assert_eq!(
        column_of(&drawn(&engine, 0.99, &status), row, '•'),
        Some(19)
    );
}

#[test]
fn game_over_and_pause_are_announced() {
    let mut engine = started();
    engine.world_mut().insert_resource(Phase::GameOver);
    let status = Status {
        paused: true,
        ..Status::default()
    };
    let text = screen(&drawn(&engine, 0.0, &status));
    assert!(text.contains("G A M E   O V E R"), "{text}");
    assert!(text.contains("r / Enter: play again"), "{text}");
    assert!(text.contains("PAUSED"), "{text}");
}
