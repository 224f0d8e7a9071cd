//! Shared helpers for the cross-crate tests.

pub mod alloc_count;
pub mod blob;
pub mod build_scale;
pub mod input_log;
pub mod overlap;
pub mod particles;
pub mod scenario_support;

/// A fresh, empty directory under the system's temporary directory, unique to this process
/// and `name` (the caller removes it when done).
pub fn fresh_temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tickbus-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// Resident memory of this process in KiB, from `/proc/self/status` (Linux; 0 elsewhere).
pub fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}
