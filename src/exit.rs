//! Exit codes, as Jepsen's CLI uses them, and the error that marks bad input.
//!
//! 0 valid, 1 invalid, 2 unknown, 254 bad arguments or input, 255 harness failure. Any
//! error that is not a [`BadInput`] is the harness's own failure.

use std::fmt;

/// Bad arguments or input (a file that does not parse, an unknown name).
pub const BAD_INPUT: i32 = 254;
/// The harness itself failed (a node would not start, a bug).
pub const HARNESS_FAILURE: i32 = 255;

/// An error in what the user gave us: exits with [`BAD_INPUT`]. The message says what is
/// wrong and what to do.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Shorthand for returning a [`BadInput`] from a function returning `anyhow::Result`.
macro_rules! bad_input {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::exit::BadInput(format!($($arg)*))))
    };
}
pub(crate) use bad_input;

/// The exit code for an error that ended a command.
pub fn code_for(error: &anyhow::Error) -> i32 {
    if error
        .chain()
        .any(|cause| cause.downcast_ref::<BadInput>().is_some())
    {
        BAD_INPUT
    } else {
        HARNESS_FAILURE
    }
}
