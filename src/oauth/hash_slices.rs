//! Makes a long password hash offer its CPU back every [`SLICE`], so that a proxy thread
//! waiting for that CPU gets it within a slice instead of within a scheduler tick.
//!
//! Why, as measured on Linux 6.18 (`perf sched` during bench/auth.sh's login part): the
//! hash threads run under `SCHED_IDLE`, but the EEVDF scheduler picks among *eligible* tasks
//! only, and a proxy thread that has just used more than its share of the CPU is briefly
//! ineligible. When the upstream hands the CPU back at such a moment, the hash thread is the
//! one picked, and as no new wake-up follows (the proxy thread is already queued), nothing
//! takes the CPU from it until the next tick: 4 ms at `HZ=250`, during which the proxy's
//! requests wait although the proxy is runnable. A 15 ms hash meets such a moment often; at
//! 20 logins/s it tripled the proxy's p99.
//!
//! An argon2 computation cannot be cut into pieces, so a per-thread timer interrupts it:
//! every `SLICE` a signal arrives and its handler calls `sched_yield`, which makes the
//! scheduler pick again. By then the hash, at its tiny `SCHED_IDLE` weight, has run far past
//! its share, so the proxy thread is the eligible one and gets the CPU. When nothing else
//! waits, the yield returns at once; the cost is a timer interrupt and a system call per
//! slice, a few percent of a hash.
//!
//! This is the only `unsafe` code in the crate: `timer_create`, `sigaction` and the handler.
//! The handler calls only `sched_yield` and counts in a thread-local, and keeps `errno`.

#![allow(unsafe_code)]

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::Duration;

/// How often a running hash offers its CPU back. 100 µs measured no better than 200 µs (the
/// noise between rounds is larger); each slice costs a timer interrupt and a system call.
pub const SLICE: Duration = Duration::from_micros(200);

thread_local! {
    /// How many times this thread has offered its CPU back. Const-initialised and without a
    /// destructor, so the handler's access is a plain thread-local load and store.
    static STEPS: Cell<u64> = const { Cell::new(0) };
}

/// A timer that interrupts the thread that created it every [`SLICE`] while it is started.
pub struct Slicer {
    timer: libc::timer_t,
}

/// The real-time signal the timers send: above the two that glibc keeps for itself (its
/// `SIGRTMIN` already skips them), and not one that tokio or the standard library use.
fn slice_signal() -> libc::c_int {
    libc::SIGRTMIN() + 3
}

extern "C" fn step_aside(_signal: libc::c_int) {
    // SAFETY: `__errno_location` returns this thread's errno, valid for the thread's life;
    // `sched_yield` is a bare system call that touches no user-space state.
    unsafe {
        let errno = libc::__errno_location();
        let saved = *errno;
        libc::sched_yield();
        *errno = saved;
    }
    STEPS.with(|steps| steps.set(steps.get().wrapping_add(1)));
}

fn install_handler() -> bool {
    static INSTALL: Once = Once::new();
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    INSTALL.call_once(|| {
        // SAFETY: a zeroed `sigaction` is a valid value (no flags, empty mask) that is then
        // filled in; the handler is an `extern "C" fn(c_int)` that is async-signal-safe.
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = step_aside as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(slice_signal(), &action, std::ptr::null_mut()) == 0
        };
        INSTALLED.store(installed, Ordering::Release);
    });
    INSTALLED.load(Ordering::Acquire)
}

/// How many times the calling thread has offered its CPU back (for tests).
#[cfg(test)]
pub fn steps_on_this_thread() -> u64 {
    STEPS.with(Cell::get)
}

impl Slicer {
    /// A slicer for the calling thread, or `None` where the system refuses one (then hashes
    /// simply run uninterrupted).
    pub fn for_this_thread() -> Option<Slicer> {
        if !install_handler() {
            return None;
        }
        // SAFETY: plain system calls on values owned here; `timer` is written by
        // `timer_create` before it is used, and only used when that call succeeded.
        unsafe {
            let mut event: libc::sigevent = std::mem::zeroed();
            event.sigev_notify = libc::SIGEV_THREAD_ID;
            event.sigev_signo = slice_signal();
            event.sigev_notify_thread_id = libc::gettid();
            let mut timer: libc::timer_t = std::ptr::null_mut();
            if libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer) != 0 {
                return None;
            }
            Some(Slicer { timer })
        }
    }

    /// Starts interrupting this thread every [`SLICE`].
    pub fn start(&self) {
        self.set(SLICE);
    }

    /// Stops the interruptions.
    pub fn stop(&self) {
        self.set(Duration::ZERO);
    }

    fn set(&self, every: Duration) {
        let every = libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::c_long::try_from(every.as_nanos()).unwrap_or(0),
        };
        let spec = libc::itimerspec {
            it_interval: every,
            it_value: every,
        };
        // SAFETY: `self.timer` is a live timer from `timer_create` (deleted only in `drop`).
        unsafe {
            libc::timer_settime(self.timer, 0, &spec, std::ptr::null_mut());
        }
    }
}

impl Drop for Slicer {
    fn drop(&mut self) {
        // SAFETY: the timer is live and deleted once, here.
        unsafe {
            libc::timer_delete(self.timer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn busy_for(limit: Duration) -> u64 {
        let started = Instant::now();
        let mut x: u64 = 1;
        while started.elapsed() < limit {
            for i in 0..10_000u64 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
        }
        x
    }

    #[test]
    fn a_computation_steps_aside_every_slice_only_while_started_and_blocking_calls_survive() {
        let slicer = Slicer::for_this_thread();
        assert!(slicer.is_some(), "timer_create or sigaction failed");
        let slicer = slicer.unwrap();

        let before = STEPS.with(Cell::get);
        busy_for(Duration::from_millis(10));
        assert_eq!(STEPS.with(Cell::get), before, "not started: no steps");

        slicer.start();
        busy_for(Duration::from_millis(20));
        slicer.stop();
        let steps = STEPS.with(Cell::get) - before;
        // 100 slices of 200 µs; a loaded test machine delivers fewer, never none.
        assert!(steps >= 10, "only {steps} steps in 20 ms");

        let after = STEPS.with(Cell::get);
        busy_for(Duration::from_millis(10));
        assert_eq!(STEPS.with(Cell::get), after, "stopped: no more steps");

        // Blocking calls made while the signals come are resumed, not failed.
        slicer.start();
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(5));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            let _ = tx.send(7);
        });
        let received = rx.recv();
        slicer.stop();
        assert!(started.elapsed() >= Duration::from_millis(10));
        assert_eq!(received, Ok(7));
    }
}
