//! The CPU time of the processes a scenario runs, read from Linux's
//! `/proc`: which of them an outbox path spends its time in.

use std::path::Path;

/// CPU time, in ns, that the live threads of process `pid` have run
/// (`/proc/PID/task/*/schedstat`; 0 when the process is gone or the
/// kernel keeps no such figures). Threads that ended are not counted:
/// take it of processes whose threads live through the measurement.
pub(crate) fn process_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// CPU time, in ns, of a PostgreSQL server: its postmaster `pid` and the
/// live children it started (a backend per connection, the WAL writer,
/// the checkpointer, autovacuum's workers).
pub(crate) fn postgres_ns(pid: u32) -> u64 {
    let children: u64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| parent(child) == Some(pid))
        .map(process_ns)
        .sum();
    process_ns(pid) + children
}

/// The parent of process `pid` (`/proc/PID/stat`'s fourth field, after
/// the command name in parentheses, which may hold spaces).
fn parent(pid: u32) -> Option<u32> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_runs_and_has_a_parent() {
        let me = std::process::id();
        let before = super::process_ns(me);
        let mut x = 0_u64;
        for i in 0..20_000_000_u64 {
            x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        assert!(
            super::process_ns(me) > before,
            "no CPU time read for this process"
        );
        assert!(super::parent(me).is_some());
    }
}
