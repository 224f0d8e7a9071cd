//! Large schedules, for the build-scale test and the `build_scale` measuring binary.

use tickbus::{ExecutorKind, prelude::*};

/// The resource every system of [`conflicting_app`] writes.
#[derive(Resource, Default)]
pub struct Shared(pub u64);

/// `systems` systems that all write one resource, so every pair conflicts.
pub fn conflicting_app(systems: usize, executor: ExecutorKind) -> App {
    let mut app = App::new();
    app.set_executor(executor).init_resource::<Shared>();
    for _ in 0..systems {
        app.add_systems(|mut shared: ResMut<Shared>| shared.0 += 1);
    }
    app
}

/// `systems` systems that share nothing (each writes a `Local` of its own).
pub fn independent_app(systems: usize, executor: ExecutorKind) -> App {
    let mut app = App::new();
    app.set_executor(executor);
    for _ in 0..systems {
        app.add_systems(|mut own: Local<u64>| *own += 1);
    }
    app
}

/// A set of a ladder of sets: `Rung(level, side)`.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rung(pub usize, pub bool);

/// `levels` levels of two sets each, every set in both sets of the level above (so a system
/// at the bottom is reached along 2^levels paths), a system at the bottom and one ordered
/// after the top.
pub fn ladder_app(levels: usize, executor: ExecutorKind) -> App {
    let mut app = App::new();
    app.set_executor(executor).init_resource::<Shared>();
    for level in 0..levels {
        for side in [false, true] {
            app.configure_sets(
                Rung(level, side)
                    .in_set(Rung(level + 1, false))
                    .in_set(Rung(level + 1, true)),
            );
        }
    }
    app.add_systems(last.after(Rung(levels, true)))
        .add_systems(first.in_set(Rung(0, false)));
    app
}

/// Ordered after the top of the ladder: runs second although added first.
pub fn last(mut shared: ResMut<Shared>) {
    shared.0 = shared.0 * 10 + 2;
}

/// At the bottom of the ladder.
pub fn first(mut shared: ResMut<Shared>) {
    shared.0 = shared.0 * 10 + 1;
}
