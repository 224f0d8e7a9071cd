//! Output files named on a command line (`replay --trace FILE`, `--json=FILE`,
//! `tickbus-bench --json FILE --plot FILE.svg`), opened before the run: a path that cannot be
//! written fails at once, not after the whole run; a run that fails leaves no new file and
//! keeps an earlier one as it was.

use std::{
    fs::{File, OpenOptions},
    io::{self, BufWriter, Write},
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
};

use serde::Serialize;

/// An output file opened before the run.
///
/// A file (new, or one that exists) is written beside itself, into a hidden staging file
/// created when it is opened, and [`finish`](Self::finish) renames the staging file over it:
/// until then the file is as it was (absent, or an earlier result), whatever happens to the
/// run, and it is never left half-written. A symbolic link is followed to the file it names.
/// A device or a pipe (anything under `/dev/` or `/proc/`, such as `/dev/stdout`, or a FIFO)
/// is written in place, appended to, and never removed.
#[derive(Debug)]
pub struct OutputFile {
    /// The path as given, for messages.
    path: PathBuf,
    /// What the file receives and the flag that named it, for errors: "the trace (--trace)".
    what: &'static str,
    target: Target,
    out: BufWriter<File>,
    /// The first write error (later writes are skipped; [`finish`](Self::finish) reports it).
    error: Option<io::Error>,
}

/// Where an output goes.
#[derive(Debug)]
enum Target {
    /// A device or a pipe, written in place.
    InPlace,
    /// A regular file (absolute, links followed), written to `staging` and renamed over it.
    Replace {
        file: PathBuf,
        /// Removed when the output is dropped unfinished.
        staging: Option<PathBuf>,
    },
}

impl OutputFile {
    /// Opens `path` for writing. The error names the path and `what`.
    pub fn open(path: &Path, what: &'static str) -> anyhow::Result<Self> {
        let cannot = |error: io::Error| cannot_write(path, what, &error);
        if written_in_place(path) {
            // Appended to: `/dev/stdout` redirected to a log must not lose the log.
            let file = OpenOptions::new().append(true).open(path).map_err(cannot)?;
            return Ok(Self::new(path, what, Target::InPlace, file));
        }
        let file = regular_target(path).map_err(cannot)?;
        let (staging, out) = create_staging(&file).map_err(cannot)?;
        let target = Target::Replace {
            file,
            staging: Some(staging),
        };
        Ok(Self::new(path, what, target, out))
    }

    fn new(path: &Path, what: &'static str, target: Target, file: File) -> Self {
        Self {
            path: path.to_path_buf(),
            what,
            target,
            out: BufWriter::new(file),
            error: None,
        }
    }

    /// Refuses to write over an input of the run (a scenario being replayed), or over another
    /// output (the same file named twice): its content would be lost, or the outputs mixed.
    pub fn refuse_overwriting(outputs: &[&OutputFile], inputs: &[PathBuf]) -> anyhow::Result<()> {
        for (index, output) in outputs.iter().enumerate() {
            let Target::Replace { file, .. } = &output.target else {
                continue;
            };
            let same = |other: &OutputFile| matches!(&other.target, Target::Replace { file: other, .. } if other == file);
            if let Some(other) = outputs[..index].iter().find(|other| same(other)) {
                anyhow::bail!(
                    "{} and {} name the same file, {}",
                    other.what,
                    output.what,
                    output.path.display()
                );
            }
            let is_input =
                |input: &PathBuf| std::fs::canonicalize(input).ok().as_ref() == Some(file);
            if inputs.iter().any(is_input) {
                anyhow::bail!(
                    "cannot write {} to {}: it is a file the run reads",
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
        if let Err(error) = write(&mut self.out) {
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

    /// Flushes the output and puts the file in place. The error names the file and the flag;
    /// the file is then as it was before the run.
    pub fn finish(mut self) -> anyhow::Result<()> {
        let written = match self.error.take() {
            Some(error) => Err(error),
            None => self.out.flush(),
        };
        let placed = written.and_then(|()| match &mut self.target {
            Target::InPlace => Ok(()),
            Target::Replace { file, staging } => {
                let staging = staging.take().expect("finished once");
                std::fs::rename(&staging, file).inspect_err(|_| {
                    let _ = std::fs::remove_file(&staging);
                })
            }
        });
        placed.map_err(|error| cannot_write(&self.path, self.what, &error))
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if let Target::Replace {
            staging: Some(staging),
            ..
        } = &self.target
        {
            let _ = std::fs::remove_file(staging);
        }
    }
}

/// Whether `path` names a device or a pipe, written in place rather than replaced.
fn written_in_place(path: &Path) -> bool {
    let special = |path: &Path| path.starts_with("/dev") || path.starts_with("/proc");
    if special(path) || std::fs::canonicalize(path).is_ok_and(|real| special(&real)) {
        return true;
    }
    std::fs::metadata(path).is_ok_and(|metadata| !metadata.is_file() && !metadata.is_dir())
}

/// The regular file `path` names, absolute, with symbolic links followed: an existing file
/// that can be written, or a new one in an existing directory.
fn regular_target(path: &Path) -> io::Result<PathBuf> {
    let error = |message: &str| io::Error::other(message.to_owned());
    match std::fs::canonicalize(path) {
        Ok(real) => {
            let metadata = std::fs::metadata(&real)?;
            if metadata.is_dir() {
                return Err(error("it is a directory"));
            }
            if metadata.permissions().readonly() {
                return Err(error("the file is read-only"));
            }
            Ok(real)
        }
        Err(_) if path.symlink_metadata().is_ok() => {
            Err(error("it is a symbolic link to a file that does not exist"))
        }
        Err(_) => {
            let name = path.file_name().ok_or_else(|| error("no file name"))?;
            let directory = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            Ok(std::fs::canonicalize(directory)?.join(name))
        }
    }
}

/// Creates a new hidden file beside `file` (`.NAME.PID-N.partial`) to write the output into.
fn create_staging(file: &Path) -> io::Result<(PathBuf, File)> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let staging = file.with_file_name(format!(".{name}.{}-{n}.partial", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staging)
        {
            Ok(out) => return Ok((staging, out)),
            // Left by an earlier run that was killed with the same process id: try the next.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && n < 1_000 => {}
            Err(error) => return Err(error),
        }
    }
}

fn cannot_write(path: &Path, what: &str, error: &io::Error) -> anyhow::Error {
    anyhow::anyhow!("cannot write {what} to {}: {error}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory for one test.
    fn scratch(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("game-demo-output-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_file_appears_only_when_finished_and_an_unfinished_run_leaves_nothing() {
        let dir = scratch("appears");
        let path = dir.join("out.json");
        let mut output = OutputFile::open(&path, "the JSON (--json)").unwrap();
        output.write(|out| out.write_all(b"{}"));
        assert!(!path.exists(), "not before finish");
        output.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
        assert_eq!(entries(&dir), ["out.json"], "no staging file left");

        let unfinished = dir.join("unfinished.json");
        drop(OutputFile::open(&unfinished, "the JSON (--json)").unwrap());
        assert_eq!(entries(&dir), ["out.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_earlier_file_survives_a_write_that_fails_and_a_run_that_stops() {
        let dir = scratch("earlier");
        let path = dir.join("result.json");
        std::fs::write(&path, "earlier").unwrap();
        let mut failing = OutputFile::open(&path, "the JSON (--json)").unwrap();
        failing.write(|out| {
            out.write_all(b"half")?;
            Err(io::Error::other("the disk is full"))
        });
        let error = failing.finish().unwrap_err().to_string();
        assert!(
            error.contains("the disk is full") && error.contains("--json"),
            "{error}"
        );
        drop(OutputFile::open(&path, "the JSON (--json)").unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier");
        assert_eq!(entries(&dir), ["result.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_and_a_dangling_link_is_refused() {
        let dir = scratch("links");
        let target = dir.join("target.json");
        std::fs::write(&target, "old").unwrap();
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut output = OutputFile::open(&link, "the JSON (--json)").unwrap();
        output.write(|out| out.write_all(b"new"));
        output.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());

        let dangling = dir.join("dangling.json");
        std::os::unix::fs::symlink(dir.join("missing.json"), &dangling).unwrap();
        let error = OutputFile::open(&dangling, "the JSON (--json)").unwrap_err();
        assert!(error.to_string().contains("does not exist"), "{error}");
        assert!(!dir.join("missing.json").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_same_file_named_twice_or_an_input_is_refused() {
        let dir = scratch("same");
        let first = OutputFile::open(&dir.join("a.svg"), "the samples (--json)").unwrap();
        let again = dir.join(".").join("a.svg");
        let second = OutputFile::open(&again, "the plot (--plot)").unwrap();
        let error = OutputFile::refuse_overwriting(&[&first, &second], &[]).unwrap_err();
        assert!(error.to_string().contains("name the same file"), "{error}");

        let input = dir.join("game.ron");
        std::fs::write(&input, "scenario").unwrap();
        let over_input = OutputFile::open(&input, "the trace (--trace)").unwrap();
        let error = OutputFile::refuse_overwriting(&[&over_input], std::slice::from_ref(&input))
            .unwrap_err();
        assert!(
            error.to_string().contains("a file the run reads"),
            "{error}"
        );
        drop((first, second, over_input));
        assert_eq!(std::fs::read_to_string(&input).unwrap(), "scenario");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_device_is_written_in_place_and_never_removed() {
        let mut output = OutputFile::open(Path::new("/dev/null"), "the trace (--trace)").unwrap();
        output.write(|out| out.write_all(b"discarded"));
        output.finish().unwrap();
        drop(OutputFile::open(Path::new("/dev/null"), "the trace (--trace)").unwrap());
        assert!(Path::new("/dev/null").exists());
    }
}
