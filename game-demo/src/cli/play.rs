//! `game-demo play`: the real-time loop in the terminal.
//!
//! The engine runs at a fixed 60 Hz; each pass of the loop turns the real time since the
//! last pass into whole ticks (the engine's accumulator), then draws the world between the
//! last two ticks with the interpolation alpha and writes it out, as fast as the terminal
//! takes it (capped at [`FRAME`]). Keys arrive on their own thread.

use std::{
    collections::VecDeque,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use game_demo::{
    bot::{Bot, BotKind},
    game::{Asteroids, AsteroidsConfig, Score},
    view::{self, Canvas, Status},
};
use tickbus::{
    ExecutorKind, RealClock,
    replay::{GameScenario, Recorder},
};

use super::{
    keyboard::{self, LoopKey},
    rewind::{self, Rewind},
    screen::Screen,
    terminal::GameTerminal,
};

/// The shortest time between two frames (about 100 frames per second).
const FRAME: Duration = Duration::from_millis(10);
/// The time scales `+` and `-` step through.
const SCALES: [f64; 7] = [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0];

/// How to play.
pub struct PlayOptions {
    /// The game's configuration.
    pub config: AsteroidsConfig,
    /// The simulation seed.
    pub seed: u64,
    /// Write the recording here on exit.
    pub record: Option<PathBuf>,
    /// Let a bot play (attract mode); keys still work.
    pub bot: Option<BotKind>,
    /// The executor.
    pub executor: ExecutorKind,
}

/// How long the game waits for the keyboard thread to end before it leaves it behind.
const KEYBOARD_GRACE: Duration = Duration::from_millis(250);

/// Plays until the player quits (or a signal asks to, or the terminal goes away), then
/// restores the terminal and writes the recording if asked to, before it prints anything.
pub fn play(options: PlayOptions) -> anyhow::Result<()> {
    if let Some(path) = &options.record {
        check_recordable(path)?;
    }
    require_terminal()?;
    let mut recorder = Recorder::<Asteroids>::builder(options.config.clone())
        .seed(options.seed)
        .executor(options.executor)
        .snapshots(rewind::snapshot_policy())
        .build()
        .context("cannot build the game")?;
    let signalled = watch_signals()?;
    let terminal = GameTerminal::enter().context("cannot set up the terminal")?;
    let (keys_tx, keys) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let keyboard = keyboard::spawn(
        recorder.input(),
        keys_tx,
        Arc::clone(&stop),
        terminal.reports_releases(),
    );
    let mut game = Loop::new(options.record.is_some(), options.bot.map(Bot::new));
    game.rewind = Rewind::new(terminal.reports_releases());
    let result = game.run(&mut recorder, &keys, &signalled);
    stop.store(true, Ordering::Relaxed);
    keyboard::finish(keyboard, KEYBOARD_GRACE);
    drop(terminal);
    // The recording first: the terminal may be gone, and nothing printed may fail before it.
    let saved = options
        .record
        .as_deref()
        .map(|path| save_recording(&recorder, path, options.seed));
    tell_score(&recorder, options.seed);
    if let Some(saved) = saved {
        tell(saved?);
    }
    result.map_err(|error| anyhow::anyhow!("the game stopped: {error}"))
}

/// Refuses to play without a terminal, in plain words (crossterm's own error would be
/// "No such device or address").
fn require_terminal() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return Ok(());
    }
    anyhow::bail!(
        "game-demo play needs a terminal: its input and output must not be redirected \
         (to verify recordings without one, run game-demo replay)"
    )
}

/// Refuses a recording path that cannot take the file before the game starts, not after
/// it ends: its directory must exist and take a new file (one is created and removed).
fn check_recordable(path: &Path) -> anyhow::Result<()> {
    let cannot = |why: String| anyhow::anyhow!("cannot record to {}: {why}", path.display());
    if path.is_dir() {
        return Err(cannot("it is a directory".to_owned()));
    }
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !directory.is_dir() {
        return Err(cannot(format!(
            "the directory {} does not exist",
            directory.display()
        )));
    }
    tempfile::Builder::new()
        .prefix(".game-demo-check")
        .tempfile_in(directory)
        .map(drop)
        .map_err(|error| {
            cannot(format!(
                "cannot create a file in {}: {error}",
                directory.display()
            ))
        })
}

/// Where the recording went.
struct Saved {
    /// The file written.
    path: PathBuf,
    /// What the scenario holds.
    ticks: u64,
    inputs: usize,
    checkpoints: usize,
}

/// Writes the recording to `path` (atomically). When that fails (the directory went away,
/// the disk is full) the game is not lost: it is written to a new file in the temporary
/// directory, and the error says where.
fn save_recording(recorder: &Recorder<Asteroids>, path: &Path, seed: u64) -> anyhow::Result<Saved> {
    let scenario = recorder.scenario();
    let saved = |path: PathBuf| Saved {
        path,
        ticks: scenario.ticks,
        inputs: scenario.inputs.len(),
        checkpoints: scenario.checkpoints.len(),
    };
    let Err(error) = scenario.save(path) else {
        return Ok(saved(path.to_path_buf()));
    };
    match save_to_fallback(&scenario, seed) {
        Ok(fallback) => Err(anyhow::anyhow!(
            "{error}; the recording was saved to {} instead (replay: game-demo replay {})",
            fallback.display(),
            fallback.display()
        )),
        Err(second) => Err(anyhow::anyhow!(
            "{error}; writing it to the temporary directory failed too ({}): the recording \
             is lost",
            super::error_text(&second)
        )),
    }
}

/// Saves `scenario` to a new file in the temporary directory and returns its path.
fn save_to_fallback(scenario: &GameScenario<Asteroids>, seed: u64) -> anyhow::Result<PathBuf> {
    let (_, path) = tempfile::Builder::new()
        .prefix(&format!("game-demo-seed-{seed}-"))
        .suffix(".ron")
        .tempfile()?
        .keep()?;
    scenario.save(&path).inspect_err(|_| {
        let _ = std::fs::remove_file(&path);
    })?;
    Ok(path)
}

/// SIGINT, SIGTERM and SIGHUP set a flag the loop checks, so it ends normally: terminal
/// restored, recording written. (In raw mode Ctrl-C arrives as a key instead.)
fn watch_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::clone(&flag))
            .context("cannot watch for signals")?;
    }
    Ok(flag)
}

/// Prints the final score. The terminal may be gone: then there is no one to tell, and
/// that is no reason to fail.
fn tell_score(recorder: &Recorder<Asteroids>, seed: u64) {
    let world = recorder.engine().world();
    let score = world
        .get_resource::<Score>()
        .map_or(0, |score| score.points);
    let _ = writeln!(
        io::stdout().lock(),
        "score {score}, {} ticks played with seed {seed}",
        recorder.engine().tick_count(),
    );
}

/// Prints where the recording went (see [`tell_score`]).
fn tell(saved: Saved) {
    let _ = writeln!(
        io::stdout().lock(),
        "recorded {} ticks, {} inputs, {} checkpoints to {} (replay: game-demo replay {})",
        saved.ticks,
        saved.inputs,
        saved.checkpoints,
        saved.path.display(),
        saved.path.display()
    );
}

/// The state of the real-time loop (outside the simulation).
struct Loop {
    screen: Screen,
    canvas: Canvas,
    scale: usize,
    recent_ticks: VecDeque<(Instant, u64)>,
    recording: bool,
    bot: Option<Bot>,
    rewind: Rewind,
}

impl Loop {
    fn new(recording: bool, bot: Option<Bot>) -> Self {
        Self {
            screen: Screen::new(),
            canvas: Canvas::new(80, 24),
            scale: SCALES.iter().position(|&s| s == 1.0).unwrap_or(0),
            recent_ticks: VecDeque::new(),
            recording,
            bot,
            rewind: Rewind::new(false),
        }
    }

    fn run(
        &mut self,
        recorder: &mut Recorder<Asteroids>,
        keys: &mpsc::Receiver<LoopKey>,
        signalled: &AtomicBool,
    ) -> anyhow::Result<()> {
        let clock = RealClock::new();
        loop {
            let started = Instant::now();
            if signalled.load(Ordering::Relaxed) || !self.handle_keys(recorder, keys) {
                return Ok(());
            }
            if let Some(bot) = &mut self.bot {
                for command in bot.decide(recorder.engine().world()) {
                    let _ = recorder.input().send(command);
                }
            }
            self.rewind.frame(recorder, Instant::now())?;
            let frame = recorder.frame(&clock)?;
            if self.draw(recorder, frame.alpha as f32).is_err() {
                return Ok(()); // the terminal went away: nobody is playing
            }
            std::thread::sleep(FRAME.saturating_sub(started.elapsed()));
        }
    }

    /// Applies the loop's keys; false to quit.
    fn handle_keys(
        &mut self,
        recorder: &mut Recorder<Asteroids>,
        keys: &mpsc::Receiver<LoopKey>,
    ) -> bool {
        for key in keys.try_iter() {
            let step = recorder.fixed_step_mut();
            match key {
                LoopKey::Quit => return false,
                LoopKey::Pause if step.is_paused() => step.resume(),
                LoopKey::Pause => step.pause(),
                LoopKey::Step if step.is_paused() => step.step(),
                LoopKey::Step => {}
                LoopKey::Faster => self.scale = (self.scale + 1).min(SCALES.len() - 1),
                LoopKey::Slower => self.scale = self.scale.saturating_sub(1),
                LoopKey::Resized => self.screen.invalidate(),
                LoopKey::Rewind(held) => self.rewind.key(recorder, held, Instant::now()),
            }
            recorder.fixed_step_mut().set_time_scale(SCALES[self.scale]);
        }
        true
    }

    /// Draws the frame; an error when the terminal cannot take it.
    fn draw(&mut self, recorder: &Recorder<Asteroids>, alpha: f32) -> io::Result<()> {
        let engine = recorder.engine();
        let status = Status {
            ticks_per_second: self.ticks_per_second(engine.tick_count()),
            time_scale: SCALES[self.scale],
            recording: self.recording,
            rewinding: self.rewind.is_active(),
            ..Status::of_engine(engine)
        };
        let (width, height) = crossterm::terminal::size().unwrap_or((80, 24));
        let (width, height) = if width == 0 || height == 0 {
            (80, 24)
        } else {
            (width, height)
        };
        self.canvas = Canvas::new(usize::from(width), usize::from(height));
        view::draw(engine.world(), alpha, &status, &mut self.canvas);
        self.screen.present(&self.canvas)
    }

    /// Ticks per second of wall time over the last second.
    fn ticks_per_second(&mut self, tick: u64) -> f64 {
        let now = Instant::now();
        self.recent_ticks.push_back((now, tick));
        while self
            .recent_ticks
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > Duration::from_secs(1))
        {
            self.recent_ticks.pop_front();
        }
        let (since, first) = self.recent_ticks.front().copied().unwrap_or((now, tick));
        let seconds = now.duration_since(since).as_secs_f64();
        if seconds < 0.1 {
            return 0.0;
        }
        (tick - first) as f64 / seconds
    }
}
