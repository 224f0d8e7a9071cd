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
    /// `.NAME.PID.N.tmp`), flushed to disk, then renamed over `path`, and the directory is
    /// flushed where the platform allows it. So a crash or kill at any moment leaves either
    /// the previous file or the complete new one at `path` (a kill may leave the temporary
    /// file behind; it is never read). On an error (an unwritable or missing directory, a
    /// directory at `path`, a full disk) the previous file is untouched, the temporary file
    /// is removed, and the scenario is still in memory, so the save can be retried.
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

/// A new file beside `path`, with a name no other save (of this or another process) uses.
fn create_temporary(path: &Path) -> io::Result<(PathBuf, File)> {
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    loop {
        let save = SAVES.fetch_add(1, Ordering::Relaxed);
        let temp_name = format!(
            ".{}.{}.{save}.tmp",
            name.to_string_lossy(),
            std::process::id()
        );
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
