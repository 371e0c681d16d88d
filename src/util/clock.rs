//! Two readings of one monotonic clock, in nanoseconds.
//!
//! Hooks read [`coarse`]: the kernel's last tick (a few ns, no TSC read,
//! a few ms of resolution). A task's age in a report is `precise() -
//! coarse_then`: the same clock, so never shorter than what really elapsed
//! (a coarse reading lags, never leads), at worst longer by the lag. Poll
//! activity compares two coarse readings instead, so that a short poll
//! does not read as long.

#[cfg(not(target_os = "linux"))]
use std::sync::LazyLock;
use std::time::Duration;
#[cfg(not(target_os = "linux"))]
use std::time::Instant;

/// The coarse clock, plus one so that 0 can mean "never".
#[inline]
pub(crate) fn coarse() -> u64 {
    #[cfg(target_os = "linux")]
    return read(libc::CLOCK_MONOTONIC_COARSE) + 1;
    #[cfg(not(target_os = "linux"))]
    return precise();
}

/// The same clock at full resolution (Linux: `CLOCK_MONOTONIC`, which
/// `CLOCK_MONOTONIC_COARSE` trails).
pub(crate) fn precise() -> u64 {
    #[cfg(target_os = "linux")]
    return read(libc::CLOCK_MONOTONIC) + 1;
    #[cfg(not(target_os = "linux"))]
    {
        static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
        EPOCH.elapsed().as_nanos() as u64 + 1
    }
}

/// How long ago `then` (a [`coarse`] or [`precise`] reading) was, seen
/// from `now` (a [`precise`] reading).
pub(crate) fn since(now: u64, then: u64) -> Duration {
    Duration::from_nanos(now.saturating_sub(then))
}

#[cfg(target_os = "linux")]
#[inline]
fn read(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; both clocks exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coarse_reading_never_leads_the_precise_clock() {
        for _ in 0..1000 {
            let c = coarse();
            let p = precise();
            assert!(c <= p, "coarse {c} after precise {p}");
        }
    }

    #[test]
    fn ages_from_a_coarse_start_are_not_short() {
        let start = coarse();
        let real = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        let elapsed = real.elapsed();
        assert!(since(precise(), start) >= elapsed);
    }
}
