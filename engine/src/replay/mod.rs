//! Scenarios: the RON format, recorder, replayer, state hashing and divergence reports.
