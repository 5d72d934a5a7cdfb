//! Every misuse of eventlib's macros is a clear error on the user's tokens
//! (`fail/`, each `.rs` with the `.stderr` it must produce), and every
//! supported form compiles and runs (`pass/`).
//!
//! After a deliberate change of a message, regenerate the snapshots with
//! `TRYBUILD=overwrite cargo test -p eventlib-ui-tests` and read each
//! changed `.stderr` before committing it: it is what users will see.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("fail/*.rs");
    t.pass("pass/*.rs");
}
