//! Output files named on a command line (`replay --trace FILE`, `--json=FILE`,
//! `tickbus-bench --json FILE --plot FILE.svg`), opened before the run: a path that cannot be
//! written fails at once, not after the whole run, and a run that fails before writing leaves
//! no new file and an earlier one as it was.

use std::{
    fs::{File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
};

use serde::Serialize;

/// An output file opened before the run, written in place (as a shell's `>` would) when the
/// run finishes.
///
/// A file that did not exist is created at once and removed again unless its output is
/// written in full ([`finish`](Self::finish)). The output is kept in memory until `finish`,
/// so a file that existed is left as it was until then, whatever happens to the run; a
/// write that fails part-way there (a full disk) leaves part of the output in it. The path
/// may be a symbolic link to a file (the file it names is written; a link to nothing is
/// refused) or a device; a path that names the file standard output or standard error
/// already goes to (`/dev/stdout`, or the log a shell redirected it to) is written through
/// that stream, after what the run printed. A run killed by a signal leaves the file it
/// created, empty.
#[derive(Debug)]
pub struct OutputFile {
    path: PathBuf,
    /// What the file receives and the flag that named it, for errors: "the trace (--trace)".
    what: &'static str,
    sink: Sink,
    /// The file's identity, to find it named twice or named as an input.
    id: Option<FileId>,
    /// A regular file, which a second output would write over (a device or a pipe is not).
    regular: bool,
    /// This created the file (it did not exist before).
    created: bool,
    /// The output so far, written by [`finish`](Self::finish).
    buffer: Vec<u8>,
    /// The first write error (later writes are skipped; [`finish`](Self::finish) reports it).
    error: Option<io::Error>,
    /// Everything was written and flushed: the file stays.
    complete: bool,
}

/// Where the output goes.
#[derive(Debug)]
enum Sink {
    /// The file, through a handle of its own.
    File(File),
    /// The file standard output goes to: written through standard output.
    Stdout,
    /// The file standard error goes to: written through standard error.
    Stderr,
}

impl OutputFile {
    /// Opens `path` for writing, creating it if needed. The error names the path and `what`.
    pub fn open(path: &Path, what: &'static str) -> anyhow::Result<Self> {
        let cannot = |error: io::Error| cannot_write(path, what, &error);
        let (file, created) = match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(file) => (file, true),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                // Not truncated yet: an earlier file survives a run that fails.
                let existing = OpenOptions::new().write(true).open(path);
                (
                    existing.map_err(|error| cannot(explain_missing_link(path, error)))?,
                    false,
                )
            }
            Err(error) => return Err(cannot(error)),
        };
        let id = identity(&file);
        let regular = file.metadata().is_ok_and(|metadata| metadata.is_file());
        let sink = match id {
            Some(id) if Some(id) == standard_identity(StandardStream::Out) => Sink::Stdout,
            Some(id) if Some(id) == standard_identity(StandardStream::Err) => Sink::Stderr,
            _ => Sink::File(file),
        };
        Ok(Self {
            path: path.to_path_buf(),
            what,
            sink,
            id,
            regular,
            created,
            buffer: Vec::new(),
            error: None,
            complete: false,
        })
    }

    /// Refuses to write over an input of the run (a scenario being replayed), or two outputs
    /// into one regular file (the same file named twice, also through a link): its content
    /// would be lost, or the outputs mixed. Two outputs into one device or pipe are let be.
    pub fn refuse_overwriting(outputs: &[&OutputFile], inputs: &[PathBuf]) -> anyhow::Result<()> {
        for (index, output) in outputs.iter().enumerate() {
            let Some(id) = output.id else {
                continue;
            };
            let same_file = |other: &&&OutputFile| output.regular && other.id == Some(id);
            if let Some(other) = outputs[..index].iter().find(same_file) {
                anyhow::bail!(
                    "{} and {} name the same file, {}",
                    other.what,
                    output.what,
                    output.path.display()
                );
            }
            // By the inputs' metadata: opening one (a FIFO) could block.
            let is_input = |input: &PathBuf| path_identity(input) == Some(id);
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

    /// Writes with `write` (into memory: the file gets it at [`finish`](Self::finish)). After
    /// an error nothing more is written; `finish` reports it.
    pub fn write(&mut self, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
        if self.error.is_none()
            && let Err(error) = write(&mut self.buffer)
        {
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

    /// Writes the output into the file (emptied first if it is a regular file). The error
    /// names the file and the flag; a file this created is then removed.
    pub fn finish(mut self) -> anyhow::Result<()> {
        let result = match self.error.take() {
            Some(error) => Err(error),
            None => self.write_out(),
        };
        match result {
            Ok(()) => {
                self.complete = true;
                Ok(())
            }
            Err(error) => Err(cannot_write(&self.path, self.what, &error)),
        }
    }

    fn write_out(&mut self) -> io::Result<()> {
        let output = std::mem::take(&mut self.buffer);
        match &mut self.sink {
            Sink::File(file) => {
                if !self.created && self.regular {
                    file.set_len(0)?;
                }
                file.write_all(&output)?;
                file.flush()
            }
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(&output)?;
                out.flush()
            }
            Sink::Stderr => io::stderr().lock().write_all(&output),
        }
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        // Only the file this created: not one another process put at the path since.
        if self.created && !self.complete && path_identity(&self.path) == self.id {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn cannot_write(path: &Path, what: &str, error: &io::Error) -> anyhow::Error {
    anyhow::anyhow!("cannot write {what} to {}: {error}", path.display())
}

/// Says so when `path` could not be opened because it is a symbolic link to nothing (the
/// open only says "no such file").
fn explain_missing_link(path: &Path, error: io::Error) -> io::Error {
    let link = path
        .symlink_metadata()
        .is_ok_and(|metadata| metadata.file_type().is_symlink());
    if link && error.kind() == io::ErrorKind::NotFound {
        io::Error::other("it is a symbolic link to a file that does not exist")
    } else {
        error
    }
}

/// A file's identity: its device and inode, the same for every name of the file.
type FileId = (u64, u64);

#[cfg(unix)]
fn id_of(metadata: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

#[cfg(unix)]
fn identity(file: &File) -> Option<FileId> {
    file.metadata().ok().map(|metadata| id_of(&metadata))
}

#[cfg(unix)]
fn path_identity(path: &Path) -> Option<FileId> {
    std::fs::metadata(path)
        .ok()
        .map(|metadata| id_of(&metadata))
}

#[cfg(not(unix))]
fn identity(_file: &File) -> Option<FileId> {
    None
}

#[cfg(not(unix))]
fn path_identity(_path: &Path) -> Option<FileId> {
    None
}

#[derive(Clone, Copy)]
enum StandardStream {
    Out,
    Err,
}

/// The identity of the file standard output or standard error goes to.
#[cfg(unix)]
fn standard_identity(stream: StandardStream) -> Option<FileId> {
    use std::os::fd::AsFd;
    let fd = match stream {
        StandardStream::Out => io::stdout().as_fd().try_clone_to_owned(),
        StandardStream::Err => io::stderr().as_fd().try_clone_to_owned(),
    };
    identity(&File::from(fd.ok()?))
}

#[cfg(not(unix))]
fn standard_identity(_stream: StandardStream) -> Option<FileId> {
    None
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

    /// A fresh directory for `test` holding `result.json` written by an earlier run.
    fn earlier_result(test: &str, text: &str) -> (PathBuf, PathBuf) {
        let dir = scratch(test);
        let path = dir.join("result.json");
        std::fs::write(&path, text).unwrap();
        (dir, path)
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
    fn a_new_file_stays_only_when_finished() {
        let dir = scratch("new");
        let path = dir.join("out.json");
        let mut output = OutputFile::open(&path, "the JSON (--json)").unwrap();
        output.write(|out| out.write_all(b"{}"));
        output.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");

        drop(OutputFile::open(&dir.join("unfinished.json"), "the JSON (--json)").unwrap());
        let mut failing = OutputFile::open(&dir.join("failed.json"), "the JSON (--json)").unwrap();
        failing.write(|out| {
            out.write_all(b"half")?;
            Err(io::Error::other("the disk is full"))
        });
        let error = failing.finish().unwrap_err().to_string();
        assert!(
            error.contains("the disk is full") && error.contains("--json"),
            "{error}"
        );
        assert_eq!(entries(&dir), ["out.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_earlier_file_is_replaced_whole_when_finished() {
        let (dir, path) = earlier_result("earlier", "an earlier and longer result");
        drop(OutputFile::open(&path, "the JSON (--json)").unwrap());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "an earlier and longer result"
        );
        let mut output = OutputFile::open(&path, "the JSON (--json)").unwrap();
        output.write(|out| out.write_all(b"new"));
        output.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_earlier_file_is_untouched_by_a_run_that_stops_or_fails_before_its_end() {
        let (dir, path) = earlier_result("stops", "earlier");
        let mut stopped = OutputFile::open(&path, "the JSON (--json)").unwrap();
        stopped.json_line(&"the first of many scenarios");
        drop(stopped);
        let mut failed = OutputFile::open(&path, "the JSON (--json)").unwrap();
        failed.write(|_| Err(io::Error::other("cannot encode")));
        assert!(failed.finish().is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_nothing_is_refused_saying_so() {
        let dir = scratch("dangling");
        let link = dir.join("dangling.json");
        std::os::unix::fs::symlink(dir.join("missing.json"), &link).unwrap();
        let error = OutputFile::open(&link, "the JSON (--json)").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("a symbolic link to a file that does not exist"),
            "{error}"
        );
        assert!(link.symlink_metadata().is_ok(), "the link stays");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn one_device_for_two_outputs_is_let_be() {
        let null = Path::new("/dev/null");
        let (first, second) = (
            OutputFile::open(null, "the JSON (--json)").unwrap(),
            OutputFile::open(null, "the trace (--trace)").unwrap(),
        );
        OutputFile::refuse_overwriting(&[&first, &second], &[]).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_same_file_named_twice_or_through_a_link_or_an_input_is_refused() {
        let dir = scratch("same");
        let first = OutputFile::open(&dir.join("a.svg"), "the samples (--json)").unwrap();
        let link = dir.join("link.svg");
        std::os::unix::fs::symlink(dir.join("a.svg"), &link).unwrap();
        let second = OutputFile::open(&link, "the plot (--plot)").unwrap();
        let error = OutputFile::refuse_overwriting(&[&first, &second], &[]).unwrap_err();
        assert!(error.to_string().contains("name the same file"), "{error}");

        let input = dir.join("game.ron");
        std::fs::write(&input, "scenario").unwrap();
        let hard_link = dir.join("trace.json");
        std::fs::hard_link(&input, &hard_link).unwrap();
        let over_input = OutputFile::open(&hard_link, "the trace (--trace)").unwrap();
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
