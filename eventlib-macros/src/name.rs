//! The name grammar, compiled from the runtime crate's own source file so
//! that the compile-time checks and `eventlib::name` cannot drift (the
//! runtime crate cannot be a dependency of this one).

#[allow(unreachable_pub)] // `pub` for `eventlib::name`, which re-exports the same file
#[path = "../../eventlib/src/name_grammar.rs"]
mod grammar;

pub(crate) use grammar::{validate_group, validate_name, validate_pattern};
