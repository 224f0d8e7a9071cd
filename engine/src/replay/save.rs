//! Writing scenarios atomically: the text goes to a new temporary file beside the target,
//! is flushed to disk, and only then renamed over the target. A crash, a kill or a full disk
//! at any moment leaves either the old file or the new one, never a torn one.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use serde::Serialize;

use super::{Scenario, ScenarioError};

impl<C: Serialize, I: Serialize> Scenario<C, I> {
    /// Writes the scenario to `path` as pretty RON, atomically.
    ///
    /// The text is written to a temporary file in the same directory (named
    /// `.NAME.PID.N.tmp`, with `NAME` cut to its first 32 bytes so that any valid file name
    /// leaves room for the rest), flushed to disk, then renamed over `path`, and the directory
    /// is flushed where the platform allows it. So a crash or kill at any moment leaves either
    /// the previous file or the complete new one at `path` (a kill may leave the temporary
    /// file behind; it is never read). On an error (an unwritable or missing directory, a
    /// directory at `path`, a full disk) the previous file is untouched, the temporary file
    /// is removed, and the scenario is still in memory, so the save can be retried.
    ///
    /// A symbolic link at `path` stays a link: the file it points to (through any chain of
    /// links) is the one replaced, atomically, in its own directory. A read-only file at
    /// `path` (or at the end of the link) is refused with a `Write` error of kind
    /// `PermissionDenied` and left as it is, also for a user (such as root) whom the file
    /// system would let replace it. A file replaced keeps its permissions.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ScenarioError> {
        let text = self.to_ron()?;
        write_atomically(path.as_ref(), text.as_bytes())
    }
}

/// Replaces the file at `path` by `bytes`, atomically (see [`Scenario::save`]).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ScenarioError> {
    let write_error = |source| ScenarioError::Write {
        file: path.display().to_string(),
        source,
    };
    let path = &final_target(path).map_err(write_error)?;
    refuse_read_only(path).map_err(write_error)?;
    let (temp_path, temp) = create_temporary(path).map_err(write_error)?;
    let written = fill(temp, bytes, path).and_then(|()| fs::rename(&temp_path, path));
    if let Err(error) = written {
        // The target was not touched; only our own temporary file is left to clean up.
        let _ = fs::remove_file(&temp_path);
        return Err(write_error(error));
    }
    sync_directory(path);
    Ok(())
}

/// Writes `bytes` to the temporary file and flushes them to disk, with the permissions of
/// the file it will replace (if any).
fn fill(mut temp: File, bytes: &[u8], target: &Path) -> io::Result<()> {
    temp.write_all(bytes)?;
    if let Ok(metadata) = fs::metadata(target) {
        temp.set_permissions(metadata.permissions())?;
    }
    temp.sync_all()
}

/// How many links are followed before giving up (the limit Linux applies, `ELOOP`).
const MAX_LINKS: usize = 40;

/// The file a save to `path` replaces: `path` itself, or where the symbolic link(s) at
/// `path` lead (which need not exist yet). Renaming over the link itself would replace it by
/// a plain file and leave the file it pointed to stale.
fn final_target(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other(format!(
        "more than {MAX_LINKS} symbolic links in a row (a loop?)"
    )))
}

/// A read-only target is not replaced: the rename would succeed wherever the directory is
/// writable (and for root always), silently overriding the file's protection.
fn refuse_read_only(path: &Path) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(metadata) if metadata.is_file() && metadata.permissions().readonly() => {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the file is read-only; make it writable to replace it",
            ))
        }
        _ => Ok(()),
    }
}

/// At most this many bytes of the target's name go into the temporary file's name, so that
/// the name stays within the usual 255-byte limit for any valid target name.
const TEMP_NAME_PREFIX: usize = 32;

/// The start of `name`, at most [`TEMP_NAME_PREFIX`] bytes, cut at a character boundary.
fn name_prefix(name: &str) -> &str {
    let mut end = name.len().min(TEMP_NAME_PREFIX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// A new file beside `path`, with a name no other save (of this or another process) uses.
fn create_temporary(path: &Path) -> io::Result<(PathBuf, File)> {
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?
        .to_string_lossy();
    loop {
        let save = SAVES.fetch_add(1, Ordering::Relaxed);
        let temp_name = format!(".{}.{}.{save}.tmp", name_prefix(&name), std::process::id());
        let temp_path = path.with_file_name(temp_name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
        {
            Ok(file) => return Ok((temp_path, file)),
            // Left behind by a killed process that had our id: take the next number.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}

/// Flushes the directory entry of the rename, where directories can be opened (Unix). The
/// new file is complete either way; this only makes the rename itself durable sooner.
fn sync_directory(path: &Path) {
    #[cfg(unix)]
    {
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if let Ok(directory) = File::open(directory) {
            let _ = directory.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::name_prefix;

    #[test]
    fn temporary_names_keep_at_most_32_bytes_of_the_target_name_on_a_char_boundary() {
        assert_eq!(name_prefix("run.ron"), "run.ron");
        assert_eq!(name_prefix(&"x".repeat(300)).len(), 32);
        let accented = "é".repeat(20); // two bytes each: byte 32 is a boundary
        assert_eq!(name_prefix(&accented).len(), 32);
        let shifted = format!("a{accented}"); // byte 32 falls inside an é
        assert_eq!(name_prefix(&shifted).len(), 31);
    }
}
