//! Turns every ```rust block of the workspace README into a test of this crate, so the README's
//! example is compiled as an outside crate that depends on tickbus alone would compile it, and
//! cannot drift from the README.

use std::{env, fs, path::PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let readme = manifest_dir.join("../../README.md");
    println!("cargo::rerun-if-changed={}", readme.display());
    let text = fs::read_to_string(&readme).expect("the workspace README");
    let tests: String = rust_blocks(&text)
        .iter()
        .enumerate()
        .map(|(index, block)| as_test(index, block))
        .collect();
    assert!(!tests.is_empty(), "the README has no ```rust block");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("readme.rs");
    fs::write(out, tests).expect("OUT_DIR is writable");
}

/// The bodies of the ```rust blocks, with doctest-hidden lines (`# `) shown.
fn rust_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```rust") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => {
                let shown = line.strip_prefix("# ").unwrap_or(line);
                block.push_str(if line == "#" { "" } else { shown });
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// A block as a test function, the way rustdoc wraps a doctest (a block that ends in an
/// `Ok(..)` expression returns it).
fn as_test(index: usize, block: &str) -> String {
    let ends_in_ok = block
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .is_some_and(|line| line.trim_start().starts_with("Ok"));
    let tail = if ends_in_ok { "" } else { "    Ok(())\n" };
    format!(
        "#[test]\nfn readme_rust_block_{index}() -> Result<(), Box<dyn std::error::Error>> {{\n{block}{tail}}}\n\n"
    )
}
