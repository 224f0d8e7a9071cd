//! The scenario loader on arbitrary bytes: never a panic, a hang or an unbounded allocation;
//! every error names the file; whatever loads writes back to text that loads the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tickbus::replay::{LoadOptions, Scenario, ScenarioInfo};
use tickbus_tests::particles::Particles;

const ORIGIN: &str = "fuzz.ron";

fuzz_target!(|data: &[u8]| {
    let loaded = LoadOptions::new().read::<Particles>(data, ORIGIN);
    let _ = ScenarioInfo::parse(&String::from_utf8_lossy(data), ORIGIN);
    match loaded {
        Err(error) => assert!(error.to_string().starts_with(ORIGIN), "{error}"),
        Ok(scenario) => {
            let text = scenario.to_ron().expect("a loaded scenario writes");
            let again = Scenario::parse::<Particles>(&text, ORIGIN).expect("what is written loads");
            assert_eq!(again.to_ron().expect("writes"), text);
        }
    }
});
