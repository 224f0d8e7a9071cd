//! Building large schedules stays near-linear: the structure the engine keeps grows with the
//! systems and the real orderings, not with every pair of conflicting systems, and nested
//! sets are flattened once each however many paths lead through them. (Time and memory are
//! measured by the `build_scale` binary, see RELIABILITY.md; here only the structure.)

use tickbus::{ExecutorKind, schedule::EdgeReason};
use tickbus_tests::build_scale::{Shared, conflicting_app, ladder_app};

const SYSTEMS: usize = 10_000;

#[test]
fn ten_thousand_conflicting_systems_make_a_chain_of_edges_and_a_readable_plan() {
    let mut engine = conflicting_app(SYSTEMS, ExecutorKind::Sequential)
        .build()
        .unwrap();
    let plan = engine.schedule_plan();
    assert_eq!(
        plan.edges.len(),
        SYSTEMS - 1,
        "one edge per neighbour, no implied pairs"
    );
    for (index, edge) in plan.edges.iter().enumerate() {
        assert_eq!((edge.from, edge.to), (index, index + 1));
        assert_eq!(edge.reason, EdgeReason::Conflict(vec!["Shared".into()]));
    }
    assert!(plan.may_overlap.is_empty());
    assert!(plan.run_order.iter().copied().eq(0..SYSTEMS));
    let text = plan.to_string();
    let edge_lines: Vec<&str> = text
        .lines()
        .skip_while(|line| !line.starts_with("edges"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .collect();
    assert_eq!(edge_lines.len(), 1, "the chain is printed on one line");
    assert!(edge_lines[0].ends_with(": conflict: Shared"));
    assert!(
        text.len() < 200 * SYSTEMS,
        "the printed plan is linear: {} bytes",
        text.len()
    );
    engine.run_ticks(2).unwrap();
    assert_eq!(engine.world().resource::<Shared>().0, 2 * SYSTEMS as u64);
}

#[test]
fn a_ladder_of_sixty_levels_of_doubly_nested_sets_builds_and_keeps_its_order() {
    // 2^60 paths lead from the top set to the bottom one: walking them would never end.
    for executor in [ExecutorKind::Sequential, ExecutorKind::parallel(2)] {
        let mut engine = ladder_app(60, executor).build().unwrap();
        engine.tick().unwrap();
        assert_eq!(
            engine.world().resource::<Shared>().0,
            12,
            "the system at the bottom runs before the one after the top"
        );
    }
}
