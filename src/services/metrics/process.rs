//! Process metrics from `/proc/self` (Linux): resident memory and CPU time. Elsewhere they
//! stay at 0.

use std::sync::atomic::{AtomicU64, Ordering};

use super::families::Families;

/// Clock ticks per second of `/proc/<pid>/stat`'s CPU times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// Samples the process' RSS and CPU time; CPU time is a counter, so it keeps the ticks seen.
#[derive(Debug, Default)]
pub(crate) struct ProcessSampler {
    last_ticks: AtomicU64,
}

impl ProcessSampler {
    pub(crate) fn sample(&self, families: &Families) {
        if let Some(rss) = read_rss_bytes() {
            families
                .process_rss
                .set(i64::try_from(rss).unwrap_or(i64::MAX));
        }
        if let Some(ticks) = read_cpu_ticks() {
            let before = self.last_ticks.swap(ticks, Ordering::AcqRel);
            if ticks > before {
                families
                    .process_cpu
                    .inc_by((ticks - before) as f64 / TICKS_PER_SECOND);
            }
        }
    }
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn read_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// User plus system time of `/proc/self/stat`, in clock ticks.
fn read_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: fields are counted after its `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}
