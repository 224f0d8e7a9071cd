//! Checking that snapshots hold the whole simulation ([`verify_restore`]), and narrowing a
//! divergence down to the tick, the entity and the values ([`bisect`], [`bisect_against`]).

use std::fmt;

use super::{
    Game, GameScenario, ReplayError, RunSetup, Snapshot, StateHasher, Timeline, Uncaptured,
    ValueDiff,
    composition::composition_of,
    game::{build_game, check_playable, feed_inputs_from, state_hasher},
    replayer::check_rewindable,
};
use crate::{Engine, ExecutorKind};

/// Where a run restored from a snapshot first left the run the snapshot was taken from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreMismatch {
    /// The tick the snapshot was taken at.
    pub snapshot_tick: u64,
    /// The first tick after which the hashes differ (ticks run).
    pub tick: u64,
    /// The hashed types that differ.
    pub parts: Vec<String>,
    /// The values that differ (expected: the uninterrupted run; found: the restored one).
    pub values: Vec<ValueDiff>,
    /// What the snapshot found but could not hold.
    pub uncaptured: Uncaptured,
    /// The tick failed in only one of the runs (a system's error or panic): which, and why.
    pub failed: Option<FailedRun>,
}

/// The run in which a tick failed when the other run's same tick did not.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailedRun {
    /// The uninterrupted run failed; the error.
    Uninterrupted(String),
    /// The run restored from the snapshot failed; the error.
    Restored(String),
}

impl fmt::Display for FailedRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uninterrupted(error) => write!(f, "only the uninterrupted run failed: {error}"),
            Self::Restored(error) => write!(f, "only the restored run failed: {error}"),
        }
    }
}

impl fmt::Display for RestoreMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "restored from tick {}, the run differs after tick {}",
            self.snapshot_tick, self.tick
        )?;
        if let Some(failed) = &self.failed {
            write!(f, ": {failed}")?;
        }
        if !self.parts.is_empty() {
            write!(f, " in {}", self.parts.join(", "))?;
        }
        if let Some(first) = self.values.first() {
            write!(f, " (first: {first})")?;
        }
        write!(
            f,
            ". A snapshot holds the registered components, resources and events and the \
             engine's own state; it cannot hold a system's Local state or unregistered types"
        )?;
        let found = &self.uncaptured;
        if !found.components.is_empty() {
            write!(
                f,
                "; unregistered components: {}",
                found.components.join(", ")
            )?;
        }
        if !found.resources.is_empty() {
            write!(
                f,
                "; unregistered resources: {}",
                found.resources.join(", ")
            )?;
        }
        for (event, held) in &found.events {
            write!(f, "; {held} unregistered {event} events in flight")?;
        }
        write!(
            f,
            ". Move such state into registered components or resources (register_state)"
        )
    }
}

/// What [`verify_restore`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreCheck {
    /// Snapshots restored and run on.
    pub snapshots: usize,
    /// Ticks compared, in total.
    pub ticks_compared: u64,
    /// The first mismatch, if any.
    pub mismatch: Option<RestoreMismatch>,
    /// The scenario's tick count: what a complete check compares.
    pub scenario_ticks: u64,
    /// Both runs failed this tick (ticks run) alike, as a recorded crash does: nothing after
    /// it was compared.
    pub stopped_at: Option<u64>,
}

impl RestoreCheck {
    /// True when every restored run matched the uninterrupted one, up to the end of the
    /// scenario or a tick at which both failed alike.
    pub fn is_ok(&self) -> bool {
        self.mismatch.is_none() && (self.is_complete() || self.stopped_at.is_some())
    }

    fn is_complete(&self) -> bool {
        self.ticks_compared >= self.scenario_ticks
    }
}

impl fmt::Display for RestoreCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(mismatch) = &self.mismatch {
            return mismatch.fmt(f);
        }
        write!(
            f,
            "{} snapshots restored, {} ticks run on from them: the same as the uninterrupted run",
            self.snapshots, self.ticks_compared
        )?;
        match self.stopped_at {
            Some(tick) => write!(f, " up to tick {tick}, which failed in both"),
            None if !self.is_complete() => write!(
                f,
                ", but only {} of the scenario's {} ticks were compared",
                self.ticks_compared, self.scenario_ticks
            ),
            None => Ok(()),
        }
    }
}

/// The verify mode of snapshots: replays `scenario` uninterrupted and, every `every` ticks,
/// restores a snapshot of it into a second engine of the same game and runs both on for
/// `every` ticks, comparing state hashes after each tick; then restores the same snapshot
/// into the second engine again and runs the same ticks once more (as seeking back does).
/// The first mismatch names the tick, the types and the values, with what the snapshot
/// could not hold (a system's `Local`, unregistered types).
///
/// The second engine's systems are not the first engine's, and in the second pass they have
/// just run the very ticks they run again: a game that keeps simulation state in a `Local`
/// (a counter, a cache, a per-tick bookkeeping) is caught either way.
pub fn verify_restore<G: Game>(
    scenario: &GameScenario<G>,
    executor: ExecutorKind,
    every: u64,
) -> Result<RestoreCheck, ReplayError> {
    check_playable::<G>(scenario, "the scenario being verified")?;
    check_rewindable(scenario)?;
    let every = every.max(1);
    let mut straight = Lockstep::<G>::build(scenario, executor)?;
    let mut restored = Lockstep::<G>::build(scenario, executor)?;
    let state = state_hasher::<G>();
    let mut check = RestoreCheck {
        snapshots: 0,
        ticks_compared: 0,
        mismatch: None,
        scenario_ticks: scenario.ticks,
        stopped_at: None,
    };
    while straight.engine.tick_count() < scenario.ticks {
        let snapshot = Snapshot::capture(&mut straight.engine, &state)?;
        let end = (snapshot.tick() + every).min(scenario.ticks);
        check.snapshots += 1;
        // First pass: next to the uninterrupted run, from a restore into another engine.
        restore_into(&mut restored, &snapshot, &state, scenario)?;
        let compared = compare_until(&mut straight, &mut restored, &state, end);
        check.ticks_compared += compared.ticks;
        let mut difference = compared.first_difference;
        let mut expected = &mut straight;
        // Second pass: the same ticks again in the same engine, whose systems have now seen
        // them (state kept per tick in a `Local` shows here).
        let mut reference = None;
        if difference.is_none() && !compared.stopped {
            restore_into(&mut restored, &snapshot, &state, scenario)?;
            difference = run_against(&mut restored, &compared.hashes, &state);
            if let Some(found) = &difference {
                let mut fresh = Lockstep::<G>::build(scenario, executor)?;
                restore_into(&mut fresh, &snapshot, &state, scenario)?;
                let _ = fresh.engine.run_ticks(found.tick - snapshot.tick());
                reference = Some(fresh);
            }
        }
        if let Some(fresh) = &mut reference {
            expected = fresh;
        }
        if let Some(found) = difference {
            let values = value_diffs(&mut expected.engine, &mut restored.engine, &state);
            check.mismatch = Some(RestoreMismatch {
                snapshot_tick: snapshot.tick(),
                tick: found.tick,
                parts: found.parts,
                values,
                uncaptured: snapshot.uncaptured().clone(),
                failed: found.failed,
            });
            break;
        }
        if compared.stopped {
            check.stopped_at = Some(straight.engine.tick_count());
            break;
        }
    }
    Ok(check)
}

/// Restores `snapshot` into `run`, which then replays the scenario's inputs from its tick.
fn restore_into<G: Game>(
    run: &mut Lockstep<G>,
    snapshot: &Snapshot,
    state: &StateHasher,
    scenario: &GameScenario<G>,
) -> Result<(), ReplayError> {
    snapshot.restore(&mut run.engine, state)?;
    run.feed_from(scenario, snapshot.tick());
    Ok(())
}

/// Runs `run` on, comparing its hash after each tick with `hashes` (the hashes of another
/// run from the same tick, whose ticks all ran); the first difference, if any, a failed
/// tick included.
fn run_against<G: Game>(
    run: &mut Lockstep<G>,
    hashes: &[super::StateHash],
    state: &StateHasher,
) -> Option<Difference> {
    for expected in hashes {
        let failed = run.engine.tick().err().map(|error| error.to_string());
        let found = state.hash(run.engine.world());
        if &found != expected || failed.is_some() {
            return Some(Difference {
                tick: run.engine.tick_count(),
                parts: expected.differing_parts(&found.parts),
                failed: failed.map(FailedRun::Restored),
            });
        }
    }
    None
}

/// The first tick after which two runs differ: in their hashes or in one failing it.
struct Difference {
    /// Ticks run.
    tick: u64,
    /// The hashed types that differ.
    parts: Vec<String>,
    /// The tick failed in one run only.
    failed: Option<FailedRun>,
}

/// The failure of a tick that failed in one of the runs only.
fn one_sided(expected: Option<String>, found: Option<String>) -> Option<FailedRun> {
    match (expected, found) {
        (Some(error), None) => Some(FailedRun::Uninterrupted(error)),
        (None, Some(error)) => Some(FailedRun::Restored(error)),
        _ => None,
    }
}

/// An engine of `G` replaying a scenario, driven tick by tick next to another.
struct Lockstep<G: Game> {
    engine: Engine,
    _marker: std::marker::PhantomData<G>,
}

impl<G: Game> Lockstep<G> {
    fn build(scenario: &GameScenario<G>, executor: ExecutorKind) -> Result<Self, ReplayError> {
        let setup = RunSetup {
            seed: scenario.seed,
            tick_rate: scenario.tick_rate,
            executor,
        };
        let (mut engine, _input) = build_game::<G>(&scenario.config, setup)?;
        feed_inputs_from::<G>(&mut engine, &scenario.inputs, 0);
        Ok(Self {
            engine,
            _marker: std::marker::PhantomData,
        })
    }

    fn feed_from(&mut self, scenario: &GameScenario<G>, tick: u64) {
        feed_inputs_from::<G>(&mut self.engine, &scenario.inputs, tick);
    }
}

/// What running two engines side by side found.
struct Compared {
    ticks: u64,
    /// The expected engine's hash after each tick.
    hashes: Vec<super::StateHash>,
    /// The first tick after which they differ (hashes, or one of them failing it).
    first_difference: Option<Difference>,
    /// Both failed the same tick alike: nothing more to compare.
    stopped: bool,
}

/// Runs both engines up to tick `end`, comparing their hashes after every tick.
fn compare_until<A: Game, B: Game>(
    expected: &mut Lockstep<A>,
    found: &mut Lockstep<B>,
    state: &StateHasher,
    end: u64,
) -> Compared {
    let mut compared = Compared {
        ticks: 0,
        hashes: Vec::new(),
        first_difference: None,
        stopped: false,
    };
    while expected.engine.tick_count() < end {
        let failed_expected = expected.engine.tick().err().map(|error| error.to_string());
        let failed_found = found.engine.tick().err().map(|error| error.to_string());
        let both_failed = failed_expected.is_some() && failed_found.is_some();
        let failed = one_sided(failed_expected, failed_found);
        compared.ticks += 1;
        let (a, b) = (
            state.hash(expected.engine.world()),
            state.hash(found.engine.world()),
        );
        if a != b || failed.is_some() {
            compared.first_difference = Some(Difference {
                tick: expected.engine.tick_count(),
                parts: a.differing_parts(&b.parts),
                failed,
            });
            return compared;
        }
        compared.hashes.push(a);
        if both_failed {
            compared.stopped = true;
            return compared;
        }
    }
    compared
}

/// The values that differ between two engines at their current tick.
fn value_diffs(expected: &mut Engine, found: &mut Engine, state: &StateHasher) -> Vec<ValueDiff> {
    match (
        Snapshot::capture(expected, state),
        Snapshot::capture(found, state),
    ) {
        (Ok(expected), Ok(found)) => expected.diff(&found),
        _ => Vec::new(),
    }
}

/// How a [`DivergenceReport`] pinned what it reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pinned {
    /// By the recorded checkpoints alone (the tick only when they are one tick apart).
    Checkpoints,
    /// By running a reference engine from the last good snapshot next to the replay, tick by
    /// tick: the named build or executor.
    Reference(String),
}

/// Where a replay left its recording, as precisely as the recording and a second run allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DivergenceReport {
    /// The last checkpoint that matched (`None`: the first one failed).
    pub last_good: Option<u64>,
    /// The first checkpoint that did not.
    pub first_bad: u64,
    /// The first tick whose result differs (ticks run after it), when pinned.
    pub tick: Option<u64>,
    /// The types that differ.
    pub parts: Vec<String>,
    /// The values that differ (expected vs found), when known.
    pub values: Vec<ValueDiff>,
    /// How tick and values were found.
    pub pinned: Pinned,
    /// How the replaying app differs from the recording one, if the scenario says.
    pub composition_changes: Vec<String>,
    /// What would pin more, when something is missing.
    pub advice: Option<String>,
}

impl fmt::Display for DivergenceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self
            .last_good
            .map_or("the start".to_owned(), |t| format!("tick {t}"));
        match self.tick {
            Some(tick) => writeln!(
                f,
                "first divergent tick: {} (the state after it, at tick count {tick}, differs; checkpoints: good at {from}, bad at {})",
                tick.saturating_sub(1),
                self.first_bad
            )?,
            None => writeln!(
                f,
                "diverged between {from} and checkpoint {}",
                self.first_bad
            )?,
        }
        writeln!(f, "types: {}", self.parts.join(", "))?;
        for value in &self.values {
            writeln!(f, "  {value}")?;
        }
        if let Pinned::Reference(reference) = &self.pinned {
            writeln!(f, "pinned against: {reference}")?;
        }
        if !self.composition_changes.is_empty() {
            writeln!(
                f,
                "likely cause: the app differs from the one that recorded: {}",
                self.composition_changes.join(", ")
            )?;
        }
        if let Some(advice) = &self.advice {
            writeln!(f, "{advice}")?;
        }
        Ok(())
    }
}

/// Replays `scenario` on `executor` and, if it diverges, narrows the divergence down: the
/// recorded checkpoints give the window (and, when recorded with values, the entities and
/// values at the first bad one); a second run of the same build on the sequential executor,
/// started from the snapshot of the last good checkpoint, pins the first divergent tick and
/// its values when the divergence comes from the executor. `Ok(None)`: no divergence.
pub fn bisect<G: Game>(
    scenario: &GameScenario<G>,
    executor: ExecutorKind,
) -> Result<Option<DivergenceReport>, ReplayError> {
    bisect_against::<G, G>(scenario, executor, ExecutorKind::Sequential)
}

/// Like [`bisect`], with the reference run on another build of the game: `R` (the build that
/// recorded the scenario, or a known good one) runs on `reference` from the snapshot of the
/// last good checkpoint, tick by tick next to `G`, and the first tick where they differ is
/// reported with the entities and values that differ. No re-recording from tick 0: one
/// replay, then at most one checkpoint interval twice.
pub fn bisect_against<G: Game, R: Game<Config = G::Config, Input = G::Input>>(
    scenario: &GameScenario<G>,
    executor: ExecutorKind,
    reference: ExecutorKind,
) -> Result<Option<DivergenceReport>, ReplayError> {
    let Some(window) = first_bad_checkpoint::<G>(scenario, executor)? else {
        return Ok(None);
    };
    let mut report = window.report;
    let mut timeline = window.timeline;
    let start = report.last_good.unwrap_or(0);
    timeline.seek(start).map_err(time_travel)?;
    let snapshot = timeline.snapshot()?;
    let mut candidate = Lockstep::<G>::build(scenario, executor)?;
    snapshot.restore(&mut candidate.engine, timeline.state())?;
    candidate.feed_from(scenario, start);
    let mut other = Lockstep::<R>::build(scenario, reference)?;
    snapshot.restore(&mut other.engine, timeline.state())?;
    other.feed_from(scenario, start);
    let compared = compare_until(
        &mut other,
        &mut candidate,
        timeline.state(),
        report.first_bad,
    );
    let name = format!("{} on {reference:?}", std::any::type_name::<R>());
    if let Some(found) = compared.first_difference {
        report.tick = Some(found.tick);
        report.parts = found.parts;
        report.values = value_diffs(&mut other.engine, &mut candidate.engine, timeline.state());
        report.pinned = Pinned::Reference(name);
        report.advice = None;
    } else if report.tick.is_none() {
        report.advice = Some(format!(
            "{name} runs the same as this replay from the last good checkpoint: the difference \
             is in the build or the platform that recorded. Record with checkpoint_every(1) and \
             checkpoint_values(true) (game-demo record --checkpoint-every 1 --values) to pin \
             the tick and values, or bisect against the recording build (bisect_against)."
        ));
    }
    Ok(Some(report))
}

fn time_travel(error: super::TimeTravelError) -> ReplayError {
    match error {
        super::TimeTravelError::Snapshot(error) => ReplayError::Snapshot(error),
        other => ReplayError::TimeTravel(other),
    }
}

/// A replay stopped at its first bad checkpoint, and what the checkpoints say.
struct Window<G: Game> {
    timeline: Timeline<G>,
    report: DivergenceReport,
}

/// Replays on a timeline (keeping snapshots at the checkpoints) up to the first checkpoint
/// whose hash differs.
fn first_bad_checkpoint<G: Game>(
    scenario: &GameScenario<G>,
    executor: ExecutorKind,
) -> Result<Option<Window<G>>, ReplayError> {
    let mut timeline = Timeline::<G>::open(scenario, executor)?;
    let mut last_good = None;
    for checkpoint in &scenario.checkpoints {
        timeline.seek(checkpoint.tick).map_err(time_travel)?;
        let found = timeline.hash();
        if found.total == checkpoint.hash && found.parts == checkpoint.components {
            last_good = Some(checkpoint.tick);
            continue;
        }
        let parts = found.differing_parts(&checkpoint.components);
        let single = last_good.map_or(checkpoint.tick == 0, |t| t + 1 == checkpoint.tick);
        let values = match &checkpoint.values {
            Some(recorded) => recorded_diffs(&mut timeline, recorded)?,
            None => Vec::new(),
        };
        let composition_changes = match &scenario.composition {
            Some(recorded) => {
                recorded.changes_to(&composition_of(timeline.engine(), timeline.state()))
            }
            None => Vec::new(),
        };
        let advice = (checkpoint.values.is_none()).then(|| {
            "the recording holds hashes only: record with checkpoint_values(true) for the \
             values at each checkpoint"
                .to_owned()
        });
        let report = DivergenceReport {
            last_good,
            first_bad: checkpoint.tick,
            tick: single.then_some(checkpoint.tick),
            parts,
            values,
            pinned: Pinned::Checkpoints,
            composition_changes,
            advice,
        };
        return Ok(Some(Window { timeline, report }));
    }
    Ok(None)
}

/// The values at the current tick of `timeline` that differ from a checkpoint's recorded
/// values.
fn recorded_diffs<G: Game>(
    timeline: &mut Timeline<G>,
    recorded: &std::collections::BTreeMap<String, Vec<super::RecordedValue>>,
) -> Result<Vec<ValueDiff>, ReplayError> {
    let snapshot = timeline.snapshot()?;
    let found = super::recorder::recorded_values(&snapshot, timeline.state());
    let mut diffs = Vec::new();
    for (part, expected) in recorded {
        let now = found.get(part).map(Vec::as_slice).unwrap_or_default();
        diffs.extend(super::snapshot::diff_recorded(
            part, expected, now, &snapshot,
        ));
    }
    Ok(diffs)
}
