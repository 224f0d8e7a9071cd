//! Writing files so that a crash or a kill never leaves half of one.

use std::{
    fs,
    io::{self, Write},
    path::Path,
};

/// Writes `text` to `path` atomically: into a temporary file in the same directory, synced,
/// then renamed over `path`. Readers see the old file or the new one, never a torn one.
pub fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path.file_name().map_or_else(
        || "scenario".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    let temporary = directory.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}
