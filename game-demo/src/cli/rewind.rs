//! Holding `r` while playing rewinds the game; letting go continues from there.
//!
//! The recorder keeps a snapshot every [`SNAPSHOT_EVERY`] ticks. While `r` is held, every
//! frame goes back as many ticks as the same real time would have run forwards (at the
//! current time scale), with [`Recorder::rewind_to`]: one restore of the snapshot at or
//! before the target tick plus at most `SNAPSHOT_EVERY - 1` ticks re-run from the
//! recording. The fixed step is paused meanwhile, so the time spent rewinding does not
//! come back as a burst of ticks. `rewind_to` drops the recording after the tick it lands
//! on: letting go continues the game from there with whatever is pressed next, and the
//! recording (if one is made) records that branch.
//!
//! Terminals that report key releases end the rewind on the release. Others only repeat
//! presses while a key is held: a press holds the rewind for [`FIRST_REPEAT`] (longer than
//! the usual auto-repeat delay), each later repeat for [`NEXT_REPEAT`].

use std::time::{Duration, Instant};

use crossterm::event::KeyEventKind;
use game_demo::game::Asteroids;
use tickbus::replay::{Recorder, SnapshotPolicy, TimeTravelError};

use super::keyboard::{Action, LoopKey};

/// Ticks between two snapshots while playing: a rewind frame re-runs fewer ticks than this.
pub const SNAPSHOT_EVERY: u64 = 15;
/// Memory the play loop's snapshots may hold.
const SNAPSHOT_BUDGET: usize = 128 * 1024 * 1024;
/// Without release reports: how long a first press holds the rewind.
const FIRST_REPEAT: Duration = Duration::from_millis(700);
/// Without release reports: how long an auto-repeated press holds it.
const NEXT_REPEAT: Duration = Duration::from_millis(150);

/// The snapshots the play loop keeps so that it can rewind.
pub fn snapshot_policy() -> SnapshotPolicy {
    SnapshotPolicy::every(SNAPSHOT_EVERY).budget(SNAPSHOT_BUDGET)
}

/// The loop's action for the rewind key in `kind` of event.
pub fn key_action(kind: KeyEventKind) -> Option<Action> {
    let held = kind != KeyEventKind::Release;
    Some(Action::Loop(LoopKey::Rewind(held)))
}

/// The rewind key's state and the ticks owed to it.
#[derive(Debug)]
pub struct Rewind {
    reports_releases: bool,
    /// While rewinding: until when (`None`: until the release) and since when the last
    /// frame went back.
    held: Option<Held>,
    /// The last press (to tell a repeat from a first press without release reports).
    last_press: Option<Instant>,
    /// Whether the player had paused before rewinding (then the game stays paused).
    was_paused: bool,
}

#[derive(Clone, Copy, Debug)]
struct Held {
    until: Option<Instant>,
    since: Instant,
    /// Fractions of a tick not yet gone back.
    owed: f64,
}

impl Rewind {
    /// No rewind yet; `reports_releases` tells whether the terminal reports key releases.
    pub fn new(reports_releases: bool) -> Self {
        Self {
            reports_releases,
            held: None,
            last_press: None,
            was_paused: false,
        }
    }

    /// True while rewinding.
    pub fn is_active(&self) -> bool {
        self.held.is_some()
    }

    /// The rewind key went down (`true`, also for repeats) or up (`false`) at `now`.
    pub fn key(&mut self, recorder: &mut Recorder<Asteroids>, held: bool, now: Instant) {
        if !held {
            self.stop(recorder);
            return;
        }
        let until = (!self.reports_releases).then(|| {
            let repeating = self
                .last_press
                .is_some_and(|last| now.duration_since(last) < FIRST_REPEAT);
            now + if repeating { NEXT_REPEAT } else { FIRST_REPEAT }
        });
        self.last_press = Some(now);
        match &mut self.held {
            Some(held) => held.until = until,
            None => {
                let step = recorder.fixed_step_mut();
                self.was_paused = step.is_paused();
                step.pause();
                self.held = Some(Held {
                    until,
                    since: now,
                    owed: 0.0,
                });
            }
        }
    }

    /// Goes back the ticks owed since the last frame (call once per frame, before the
    /// recorder's frame). Stops where the snapshots end, and when a hold without release
    /// reports runs out.
    pub fn frame(
        &mut self,
        recorder: &mut Recorder<Asteroids>,
        now: Instant,
    ) -> Result<(), TimeTravelError> {
        let Some(held) = &mut self.held else {
            return Ok(());
        };
        let end = held.until.map_or(now, |until| until.min(now));
        let step = recorder.engine().fixed_step();
        let ticks_per_second = step.time_scale() / step.dt().as_secs_f64();
        held.owed += end.saturating_duration_since(held.since).as_secs_f64() * ticks_per_second;
        held.since = end;
        // Rounding must not lose a tick that whole frames add up to.
        let back = (held.owed + 1e-9).floor();
        held.owed = (held.owed - back).max(0.0);
        let expired = held.until.is_some_and(|until| until <= now);
        let result = go_back(recorder, back as u64);
        if expired {
            self.stop(recorder);
        }
        result
    }

    fn stop(&mut self, recorder: &mut Recorder<Asteroids>) {
        if self.held.take().is_some() && !self.was_paused {
            recorder.fixed_step_mut().resume();
        }
    }
}

/// Rewinds `recorder` by `ticks`, but not before its oldest snapshot.
fn go_back(recorder: &mut Recorder<Asteroids>, ticks: u64) -> Result<(), TimeTravelError> {
    if ticks == 0 {
        return Ok(());
    }
    let oldest = recorder
        .snapshots()
        .and_then(|snapshots| snapshots.ticks().next())
        .unwrap_or(0);
    let now = recorder.engine().tick_count();
    let target = now.saturating_sub(ticks).max(oldest);
    if target == now {
        return Ok(());
    }
    recorder.rewind_to(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use game_demo::game::{AsteroidsConfig, Command, Control};
    use tickbus::{ExecutorKind, replay::Replayer};

    fn recorder() -> Recorder<Asteroids> {
        Recorder::<Asteroids>::builder(AsteroidsConfig::default())
            .seed(9)
            .executor(ExecutorKind::Sequential)
            .snapshots(snapshot_policy())
            .build()
            .unwrap()
    }

    #[test]
    fn holding_goes_back_at_the_game_speed_and_letting_go_continues_as_a_branch() {
        let mut recorder = recorder();
        let input = recorder.input();
        input.send(Command::Down(Control::Thrust)).unwrap();
        recorder.run_ticks(300).unwrap();
        let mut rewind = Rewind::new(true);
        let start = Instant::now();
        rewind.key(&mut recorder, true, start);
        assert!(recorder.engine().fixed_step().is_paused());
        // One second held at 60 Hz: 60 ticks back, in frames of 10 ms.
        for frame in 1..=100 {
            let now = start + Duration::from_millis(10 * frame);
            rewind.frame(&mut recorder, now).unwrap();
        }
        assert_eq!(recorder.engine().tick_count(), 240);
        rewind.key(&mut recorder, false, start + Duration::from_secs(1));
        assert!(!rewind.is_active());
        assert!(!recorder.engine().fixed_step().is_paused());
        // Other inputs from here: the recording is the branch, and it verifies.
        input.send(Command::Down(Control::Left)).unwrap();
        recorder.run_ticks(100).unwrap();
        let scenario = recorder.scenario();
        assert_eq!(scenario.ticks, 340);
        let report = Replayer::<Asteroids>::new(&scenario).run().unwrap();
        assert!(report.is_verified(), "{report}");
    }

    #[test]
    fn without_release_reports_a_hold_ends_when_the_repeats_stop() {
        let mut recorder = recorder();
        recorder.run_ticks(600).unwrap();
        let mut rewind = Rewind::new(false);
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        rewind.key(&mut recorder, true, start);
        // Repeats from 500 ms, every 30 ms, until 1 s; then no more.
        for ms in (500..=1000).step_by(30) {
            rewind.key(&mut recorder, true, at(ms));
        }
        for ms in (10..=2000).step_by(10) {
            rewind.frame(&mut recorder, at(ms)).unwrap();
        }
        assert!(!rewind.is_active());
        // Held for the last repeat (at 980 ms) plus 150 ms: 1.13 s, 67 ticks.
        assert_eq!(recorder.engine().tick_count(), 600 - 67);
    }

    #[test]
    fn rewinding_stops_at_the_first_tick() {
        let mut recorder = recorder();
        recorder.run_ticks(20).unwrap();
        let mut rewind = Rewind::new(true);
        let start = Instant::now();
        rewind.key(&mut recorder, true, start);
        rewind
            .frame(&mut recorder, start + Duration::from_secs(5))
            .unwrap();
        assert_eq!(recorder.engine().tick_count(), 0);
    }
}
