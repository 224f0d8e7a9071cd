//! Measures the memory loading a scenario takes, for the figures in RELIABILITY.md:
//! `load_memory MIB [components|inputs]` builds MIB MiB of scenario text made of the
//! smallest entries of one kind (checkpoint component names, or recorded inputs), loads it
//! and prints the text's size and the resident memory before and after.
//!
//! ```text
//! cargo build --release -p tickbus-tests --bin load_memory
//! target/release/load_memory 32 components
//! ```

use std::fmt::Write;

use tickbus::replay::LoadOptions;
use tickbus_tests::{blob::Blob, resident_kib};

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let kind = args.next().unwrap_or_else(|| "components".to_owned());
    let text = scenario_text(mib << 20, &kind);
    let before = resident_kib();
    let scenario = LoadOptions::new()
        .read::<Blob>(text.as_bytes(), "generated")
        .expect("the generated text loads");
    let after = resident_kib();
    println!(
        "{kind}: {} MiB of text -> {} checkpoint entries, {} inputs; resident {} MiB -> {} MiB \
         (+{:.1} x the text)",
        text.len() >> 20,
        scenario
            .checkpoints
            .iter()
            .map(|c| c.components.len())
            .sum::<usize>(),
        scenario.inputs.len(),
        before >> 10,
        after >> 10,
        (after - before) as f64 * 1024.0 / text.len() as f64
    );
}

/// About `bytes` bytes of a valid scenario of [`Blob`] whose bulk is entries of `kind`.
fn scenario_text(bytes: usize, kind: &str) -> String {
    let mut text =
        String::from("(format_version:1,game:\"blob\",seed:0,tick_rate:60,ticks:1,config:\"\",");
    if kind == "inputs" {
        text.push_str("checkpoints:[],inputs:[");
        while text.len() < bytes {
            text.push_str("(tick:0,event:0),");
        }
        text.push_str("])");
    } else {
        text.push_str("inputs:[],checkpoints:[(tick:0,hash:0,components:{");
        let mut entry = 0u64;
        while text.len() < bytes {
            write!(text, "\"{entry:x}\":0,").expect("writing to a String");
            entry += 1;
        }
        text.push_str("})])");
    }
    text
}
