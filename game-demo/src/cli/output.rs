//! Files named on the command line for what a replay writes (`--trace FILE`, `--json=FILE`),
//! opened before the replay: a path that cannot be written fails at once, not after the
//! whole run, and a run that fails before writing leaves nothing behind.

use std::{
    fs::{File, OpenOptions},
    io::{self, BufWriter, Write},
    path::{Path, PathBuf},
};

use serde::Serialize;

use super::say;

/// An output file opened before the run.
///
/// A file that did not exist is created at once and removed again unless its output is
/// written in full ([`finish`](Self::finish)). A file that existed is left as it was until
/// the first write, so a run that cannot start loses nothing of it.
#[derive(Debug)]
pub struct OutputFile {
    path: PathBuf,
    /// What the file receives and the flag that named it, for errors: "the trace (--trace)".
    what: &'static str,
    out: BufWriter<File>,
    /// This created the file (it did not exist before).
    created: bool,
    /// An existing file was emptied for the output.
    started: bool,
    /// The first write error (later writes are skipped; [`finish`](Self::finish) reports it).
    error: Option<io::Error>,
    /// Everything was written and flushed: the file stays.
    complete: bool,
}

impl OutputFile {
    /// Opens `path` for writing, creating it if needed. The error names the path and `what`.
    pub fn open(path: &Path, what: &'static str) -> anyhow::Result<Self> {
        let created = OpenOptions::new().write(true).create_new(true).open(path);
        let (file, created) = match created {
            Ok(file) => (file, true),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                let existing = OpenOptions::new().write(true).open(path);
                (
                    existing.map_err(|error| cannot_write(path, what, &error))?,
                    false,
                )
            }
            Err(error) => return Err(cannot_write(path, what, &error)),
        };
        Ok(Self {
            path: path.to_path_buf(),
            what,
            out: BufWriter::new(file),
            created,
            started: false,
            error: None,
            complete: false,
        })
    }

    /// Refuses to write over a scenario being replayed, or the other output (the same file
    /// named twice): its content would be lost, or the outputs mixed.
    pub fn refuse_overwriting(
        outputs: &[&OutputFile],
        scenarios: &[PathBuf],
    ) -> anyhow::Result<()> {
        let canonical = |path: &Path| std::fs::canonicalize(path).ok();
        for (index, output) in outputs.iter().enumerate() {
            let Some(path) = canonical(&output.path) else {
                continue;
            };
            let same = |other: &Path| canonical(other).as_ref() == Some(&path);
            if outputs[..index].iter().any(|other| same(&other.path)) {
                anyhow::bail!(
                    "--trace and --json=FILE name the same file, {}",
                    output.path.display()
                );
            }
            if scenarios.iter().any(|file| same(file)) {
                anyhow::bail!(
                    "cannot write {} to {}: it is a scenario file being replayed",
                    output.what,
                    output.path.display()
                );
            }
        }
        Ok(())
    }

    /// Writes with `write`. After an error nothing more is written; [`finish`](Self::finish)
    /// reports it.
    pub fn write(&mut self, write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>) {
        if self.error.is_some() {
            return;
        }
        if let Err(error) = self.start().and_then(|()| write(&mut self.out)) {
            self.error = Some(error);
        }
    }

    /// Writes `value` as one line of JSON.
    pub fn json_line(&mut self, value: &impl Serialize) {
        self.write(|out| {
            serde_json::to_writer(&mut *out, value)?;
            out.write_all(b"\n")
        });
    }

    /// Empties an existing regular file before the first write (a device or a pipe, such as
    /// `/dev/stdout`, is written as it is).
    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            let file = self.out.get_ref();
            if !self.created && file.metadata()?.is_file() {
                file.set_len(0)?;
            }
        }
        Ok(())
    }

    /// Flushes the output. The error names the file and the flag; a file this created is
    /// then removed (it holds only part of the output).
    pub fn finish(mut self) -> anyhow::Result<()> {
        let result = match self.error.take() {
            Some(error) => Err(error),
            None => self.start().and_then(|()| self.out.flush()),
        };
        match result {
            Ok(()) => {
                self.complete = true;
                Ok(())
            }
            Err(error) => Err(cannot_write(&self.path, self.what, &error)),
        }
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.created && !self.complete {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn cannot_write(path: &Path, what: &str, error: &io::Error) -> anyhow::Error {
    anyhow::anyhow!("cannot write {what} to {}: {error}", path.display())
}

/// Where `--json` sends its objects: nowhere (text on stdout), stdout (`--json`), or a file
/// (`--json=FILE`, and the text still on stdout).
#[derive(Debug)]
pub enum JsonOutput {
    /// No JSON: text.
    Off,
    /// One JSON object per line on stdout, instead of the text.
    Stdout,
    /// The same lines into a file; the text on stdout.
    File(OutputFile),
}

impl JsonOutput {
    /// The `--json` argument: absent, `--json` or `--json=FILE` (opened now).
    pub fn open(argument: Option<&Option<PathBuf>>) -> anyhow::Result<Self> {
        Ok(match argument {
            None => JsonOutput::Off,
            Some(None) => JsonOutput::Stdout,
            Some(Some(path)) => JsonOutput::File(OutputFile::open(path, "the JSON (--json)")?),
        })
    }

    /// True when the text goes to stdout (no JSON there).
    pub fn text(&self) -> bool {
        !matches!(self, JsonOutput::Stdout)
    }

    /// Writes `value` as one line of JSON, if JSON is asked for.
    pub fn object(&mut self, value: &impl Serialize) {
        match self {
            JsonOutput::Off => {}
            JsonOutput::Stdout => match serde_json::to_string(value) {
                Ok(line) => say(line),
                Err(error) => eprintln!("error: cannot write JSON: {error}"),
            },
            JsonOutput::File(file) => file.json_line(value),
        }
    }

    /// The file, when the JSON goes to one.
    pub fn file(&self) -> Option<&OutputFile> {
        match self {
            JsonOutput::File(file) => Some(file),
            JsonOutput::Off | JsonOutput::Stdout => None,
        }
    }

    /// Flushes a JSON file; the error names it.
    pub fn finish(self) -> anyhow::Result<()> {
        match self {
            JsonOutput::File(file) => file.finish(),
            JsonOutput::Off | JsonOutput::Stdout => Ok(()),
        }
    }
}
