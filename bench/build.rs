//! Writes the invocations that declare the registry-scaling events: 1,000
//! event types with one handler each (`bench.s1.*`) and 1,000 more that
//! also match fifteen wildcard handlers (`bench.s16.*`). A `macro_rules!`
//! cannot make up type names, so this script lists them.

use std::fmt::Write as _;
use std::path::PathBuf;

/// Events per group; `src/registry.rs` measures 10 of them against all.
const EVENTS: usize = 1_000;

fn main() {
    let mut source = String::new();
    for group in ["s1", "s16"] {
        writeln!(source, "pub(crate) mod {group} {{").unwrap();
        writeln!(source, "    crate::registry::declare_events! {{").unwrap();
        for i in 0..EVENTS {
            writeln!(source, "        E{i} \"bench.{group}.E{i}\",").unwrap();
        }
        writeln!(source, "    }}\n}}").unwrap();
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("registry_events.rs"), source).expect("cannot write OUT_DIR");
    // The compiler, for the table's heading.
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    println!("cargo::rustc-env=BENCH_RUSTC_VERSION={}", version.trim());
    println!("cargo::rerun-if-changed=build.rs");
}
