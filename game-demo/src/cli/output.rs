//! Where `replay --json` sends its objects: stdout, or a file opened before the run.

use std::path::PathBuf;

use game_demo::output::OutputFile;
use serde::Serialize;

use super::say;

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
