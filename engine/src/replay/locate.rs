//! Where a value of a parsed scenario is written: found on the error path only, by reading
//! the text again with RON itself and stopping right after that value, so the position is
//! RON's own (comments, raw strings and extensions included) and valid files are parsed
//! once.

use std::fmt;

use serde::{
    Deserializer,
    de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor},
};

use super::{
    error::{TextPosition, ValuePath, position_in},
    load::NESTING_LIMIT,
};

/// The marker error that stops the second reading at the value.
const FOUND: &str = "tickbus: the value is here";

/// Where the value at `path` starts in `text` (a scenario that parsed); `None` if it is not
/// there (the scenario was edited in memory).
pub(crate) fn locate(text: &str, path: ValuePath) -> Option<TextPosition> {
    let steps = steps(path);
    let options = ron::Options::default().with_recursion_limit(NESTING_LIMIT);
    match options.from_str_seed(text, Walk(&steps)) {
        Err(error) if error.code == ron::Error::Message(FOUND.to_owned()) => {
            Some(position_in(text, &error))
        }
        _ => None,
    }
}

/// One step from a value to a value inside it.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// A field of the struct of this name.
    Field {
        within: &'static str,
        name: &'static str,
    },
    /// An element of a list.
    Index(usize),
    /// The value inside `Some(..)`.
    Some,
    /// Stop where the value begins, without reading it.
    Start,
}

fn steps(path: ValuePath) -> Vec<Step> {
    let field = |within, name| Step::Field { within, name };
    match path {
        ValuePath::Field(name) => vec![field("Scenario", name)],
        ValuePath::FieldStart(name) => vec![field("Scenario", name), Step::Start],
        ValuePath::ElementTick(list, index) => {
            let element = if list == "inputs" {
                "TimedInput"
            } else {
                "Checkpoint"
            };
            vec![
                field("Scenario", list),
                Step::Index(index),
                field(element, "tick"),
            ]
        }
        ValuePath::CrashTick => vec![
            field("Scenario", "crash"),
            Step::Some,
            field("RecordedCrash", "tick"),
        ],
    }
}

/// Follows the steps, skipping every other value; at the end, reads the value and stops
/// with [`FOUND`].
struct Walk<'p>(&'p [Step]);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.0.first() {
            None => {
                deserializer.deserialize_ignored_any(IgnoredAny)?;
                Err(de::Error::custom(FOUND))
            }
            Some(Step::Field { within, .. }) => deserializer.deserialize_struct(within, &[], self),
            Some(Step::Index(_)) => deserializer.deserialize_seq(self),
            Some(Step::Some) => deserializer.deserialize_option(self),
            Some(Step::Start) => Err(de::Error::custom(FOUND)),
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scenario")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some(Step::Field { name, .. }) = self.0.first() else {
            return Ok(());
        };
        while let Some(key) = map.next_key::<String>()? {
            if key == *name {
                return map.next_value_seed(Walk(&self.0[1..]));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some(Step::Index(index)) = self.0.first() else {
            return Ok(());
        };
        for _ in 0..*index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(Walk(&self.0[1..])).map(drop)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        Walk(&self.0[1..]).deserialize(deserializer)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}
