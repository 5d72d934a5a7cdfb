//! The name grammar, from the crate the runtime crate re-exports as
//! `eventlib::name`, so that the compile-time checks and the runtime's
//! cannot drift (the runtime crate cannot be a dependency of this one).

pub(crate) use eventlib_names::{validate_group, validate_name, validate_pattern};
