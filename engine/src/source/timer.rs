//! Timers: scheduled from systems, due timers become typed events at the start of a tick.
