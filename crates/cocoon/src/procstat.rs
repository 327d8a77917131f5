//! What Linux says of a process's resources (`/proc`), for the benchmarks and the soak:
//! resident memory, CPU time of a child role, and CPU time of reaped children (`hey`).

use std::time::Duration;

/// Resident memory of a process, in KiB (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User plus system CPU time a running process has used so far, all its threads together
/// (`utime` + `stime` of `/proc/<pid>/stat`, in clock ticks).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    parse_stat_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?, clock_ticks())
}

/// CPU time of the children this process has waited for (`getrusage(RUSAGE_CHILDREN)`): the
/// difference around a run of `hey` is what `hey` used.
pub fn reaped_children_cpu() -> Duration {
    match nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => timeval(u.user_time()) + timeval(u.system_time()),
        Err(_) => Duration::ZERO,
    }
}

fn timeval(t: nix::sys::time::TimeVal) -> Duration {
    Duration::from_secs(t.tv_sec().max(0) as u64) + Duration::from_micros(t.tv_usec().max(0) as u64)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`; 100 on every Linux we know of).
fn clock_ticks() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as u64,
        _ => 100,
    }
}

/// `utime + stime` from a `/proc/<pid>/stat` line. The command name (field 2) may hold spaces
/// and parentheses, so fields are counted after its closing parenthesis.
fn parse_stat_cpu(stat: &str, ticks_per_sec: u64) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state (3), ppid, pgrp, session, tty_nr, tpgid, flags, minflt, cminflt,
    // majflt, cmajflt, utime (14), stime (15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / ticks_per_sec.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_past_an_odd_command_name() {
        let stat = "4242 (cocoon (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 3 0 100 0 0";
        assert_eq!(parse_stat_cpu(stat, 100), Some(Duration::from_secs(3)));
        assert_eq!(parse_stat_cpu("garbage", 100), None);
        assert_eq!(parse_stat_cpu("1 (x) S 1 2", 100), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let own = cpu_time(std::process::id()).expect("own /proc/<pid>/stat");
        assert!(own > Duration::ZERO);
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
