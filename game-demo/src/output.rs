//! Output files named on a command line (`replay --trace FILE`, `--json=FILE`,
//! `tickbus-bench --json FILE --plot FILE.svg`), opened before the run: a path that cannot be
//! written fails at once, not after the whole run, and a run that fails before writing leaves
//! no new file and an earlier one as it was.

use std::{
    fs::{File, OpenOptions},
    io::{self, BufWriter, Seek, Write},
    path::{Path, PathBuf},
};

use serde::Serialize;

/// An output file opened before the run, written in place (as a shell's `>` would).
///
/// A file that did not exist is created at once and removed again unless its output is
/// written in full ([`finish`](Self::finish)). A file that existed is left as it was until
/// the first write, so a run that cannot start loses nothing of it; from the first write on
/// it holds the new output (a write that fails part-way, such as a full disk, leaves part of
/// it). The path may be a symbolic link (the file it names is written) or a device; a path
/// that names the file standard output or standard error already goes to (`/dev/stdout`,
/// or the log a shell redirected them to) is written through them, after what they printed.
/// A run killed by a signal leaves the file it created (empty until the output is written).
#[derive(Debug)]
pub struct OutputFile {
    path: PathBuf,
    /// What the file receives and the flag that named it, for errors: "the trace (--trace)".
    what: &'static str,
    sink: Sink,
    /// This created the file (it did not exist before).
    created: bool,
    /// The first write happened (an existing regular file was emptied for it).
    started: bool,
    /// The first write error (later writes are skipped; [`finish`](Self::finish) reports it).
    error: Option<io::Error>,
    /// Everything was written and flushed: the file stays.
    complete: bool,
}

/// Where the output goes.
#[derive(Debug)]
enum Sink {
    /// The file, through a handle of its own.
    File(BufWriter<File>),
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
                // Not truncated yet: an earlier file survives a run that cannot start.
                (
                    OpenOptions::new().write(true).open(path).map_err(cannot)?,
                    false,
                )
            }
            Err(error) => return Err(cannot(error)),
        };
        let sink = match identity(&file) {
            Some(id) if Some(id) == standard_identity(StandardStream::Out) => Sink::Stdout,
            Some(id) if Some(id) == standard_identity(StandardStream::Err) => Sink::Stderr,
            _ => Sink::File(BufWriter::new(file)),
        };
        Ok(Self {
            path: path.to_path_buf(),
            what,
            sink,
            created,
            started: false,
            error: None,
            complete: false,
        })
    }

    /// Refuses to write over an input of the run (a scenario being replayed), or over another
    /// output (the same file named twice, also through a link): its content would be lost,
    /// or the outputs mixed.
    pub fn refuse_overwriting(outputs: &[&OutputFile], inputs: &[PathBuf]) -> anyhow::Result<()> {
        for (index, output) in outputs.iter().enumerate() {
            let Some(id) = output.identity() else {
                continue;
            };
            if let Some(other) = outputs[..index]
                .iter()
                .find(|other| other.identity() == Some(id))
            {
                anyhow::bail!(
                    "{} and {} name the same file, {}",
                    other.what,
                    output.what,
                    output.path.display()
                );
            }
            let is_input =
                |input: &PathBuf| File::open(input).is_ok_and(|input| identity(&input) == Some(id));
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

    /// The file's identity, for an output with a handle of its own.
    fn identity(&self) -> Option<FileId> {
        match &self.sink {
            Sink::File(out) => identity(out.get_ref()),
            Sink::Stdout | Sink::Stderr => None,
        }
    }

    /// Writes with `write`. After an error nothing more is written; [`finish`](Self::finish)
    /// reports it.
    pub fn write(&mut self, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
        if self.error.is_some() {
            return;
        }
        let written = self.start().and_then(|()| match &mut self.sink {
            Sink::File(out) => write(out),
            Sink::Stdout => write(&mut io::stdout().lock()),
            Sink::Stderr => write(&mut io::stderr().lock()),
        });
        if let Err(error) = written {
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

    /// Empties an existing regular file before the first write (a device or a pipe is
    /// written as it is).
    fn start(&mut self) -> io::Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        if let Sink::File(out) = &mut self.sink {
            let file = out.get_mut();
            if !self.created && file.metadata()?.is_file() {
                file.set_len(0)?;
                file.rewind()?;
            }
        }
        Ok(())
    }

    /// Flushes the output. The error names the file and the flag; a file this created is
    /// then removed (it holds only part of the output).
    pub fn finish(mut self) -> anyhow::Result<()> {
        let result = match self.error.take() {
            Some(error) => Err(error),
            None => self.start().and_then(|()| match &mut self.sink {
                Sink::File(out) => out.flush(),
                Sink::Stdout => io::stdout().flush(),
                Sink::Stderr => io::stderr().flush(),
            }),
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

/// A file's identity: its device and inode, the same for every name of the file.
type FileId = (u64, u64);

#[cfg(unix)]
fn identity(file: &File) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    file.metadata()
        .ok()
        .map(|metadata| (metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn identity(_file: &File) -> Option<FileId> {
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
    fn an_earlier_file_is_kept_until_the_first_write_then_replaced_whole() {
        let dir = scratch("earlier");
        let path = dir.join("result.json");
        std::fs::write(&path, "an earlier and longer result").unwrap();
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
