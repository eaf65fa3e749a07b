//! The threads that compute password hashes, kept out of the proxy's way.
//!
//! argon2id is meant to be expensive (about 15 ms and 19 MiB per check here). On the tokio
//! blocking pool those threads compete with the request-serving workers as equals, and on a
//! one- or two-CPU machine a burst of logins then shows up as proxy latency. These threads
//! run under `SCHED_IDLE`, Linux's lowest class: they only get a CPU that nothing else
//! wants, and a proxy thread that wakes up preempts a running hash at once. So logins use the
//! idle time the proxy leaves and slow down (never the proxy) when there is none; a CPU kept
//! 100 % busy by the proxy starves them, and the bounded queue then answers "busy". While a
//! hash runs it also offers its CPU back every 200 µs (`hash_slices.rs`): without that, the
//! scheduler at times left it the CPU for a whole 4 ms tick while a proxy thread waited. Where
//! `SCHED_IDLE` is refused (a seccomp profile, a non-Linux system) they fall back to
//! `SCHED_BATCH` at nice 19, which still gives way but keeps a small share under load.
//! `bench/auth.sh` (the login part) measured both: see bench/README.md. The queue is
//! bounded; a full queue is an immediate "busy", never an unbounded backlog.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

#[cfg(target_os = "linux")]
use super::hash_slices::Slicer;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A small pool of low-priority threads.
pub struct HashPool {
    jobs: SyncSender<Job>,
}

/// The pool could not take the job now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolBusy;

impl HashPool {
    /// Starts `threads` workers with a queue of `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> HashPool {
        let (jobs, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads.max(1) {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("authgate-hash-{n}"))
                .spawn(move || work(&receiver));
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a password-hash thread");
            }
        }
        HashPool { jobs }
    }

    /// Runs `f` on a pool thread and waits for its result.
    pub async fn run<T, F>(&self, f: F) -> Result<T, PoolBusy>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        match self.jobs.try_send(job) {
            Ok(()) => rx.await.map_err(|_| PoolBusy),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(PoolBusy),
        }
    }
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    lower_priority();
    let slicer = Slicer::for_this_thread();
    if slicer.is_none() {
        // A seccomp filter without timer_create or rt_sigaction, or not Linux.
        tracing::debug!("password-hash time slices unavailable; hashes run unsliced");
    }
    loop {
        let job = match receiver.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => {
                if let Some(slicer) = &slicer {
                    slicer.start();
                }
                job();
                if let Some(slicer) = &slicer {
                    slicer.stop();
                }
            }
            Err(_) => return,
        }
    }
}

/// Elsewhere than on Linux hashes run unsliced: other schedulers were not measured.
#[cfg(not(target_os = "linux"))]
struct Slicer;

#[cfg(not(target_os = "linux"))]
impl Slicer {
    fn for_this_thread() -> Option<Slicer> {
        None
    }
    fn start(&self) {}
    fn stop(&self) {}
}

/// `SCHED_IDLE` for this thread, else `SCHED_BATCH` at nice 19; a failure only costs the
/// priority, so it is logged and ignored.
fn lower_priority() {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadPriority, ThreadSchedulePolicy,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
    let lowered = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
        .or_else(|_| {
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, batch)
        });
    if let Err(err) = lowered {
        tracing::debug!(error = ?err, "could not lower the password-hash thread's priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_threads_run_at_the_idle_policy() {
        use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
        let pool = HashPool::new(1, 1);
        // Also shows that a job still completes at SCHED_IDLE when the CPU has idle time.
        let policy = pool.run(thread_priority::thread_schedule_policy).await;
        let policy = policy.unwrap().unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(
                policy,
                ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_job_runs_in_time_slices() {
        use crate::oauth::hash_slices::steps_on_this_thread;
        let pool = HashPool::new(1, 1);
        let (steps, took) = pool
            .run(|| {
                let before = steps_on_this_thread();
                let started = std::time::Instant::now();
                // A fixed amount of work (tens of milliseconds of CPU), not a wall-clock
                // span: at SCHED_IDLE on a busy machine the thread may wait to run at all.
                let mut x = 1u64;
                for i in 0..5_000_000u64 {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                }
                (steps_on_this_thread() - before, started.elapsed())
            })
            .await
            .unwrap();
        assert!(steps >= 2, "{steps} steps in a job of {took:?}");
    }

    #[tokio::test]
    async fn runs_jobs_and_refuses_when_full() {
        let pool = Arc::new(HashPool::new(1, 1));
        assert_eq!(pool.run(|| 2 + 2).await, Ok(4));
        // Block the only worker, fill the queue, then the next job is refused at once.
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let blocked = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move || {
                    let _ = started_tx.send(());
                    let _ = hold.recv();
                })
                .await
            }
        });
        started_rx.await.unwrap();
        let queued = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| 1).await }
        });
        // The queued job is in the channel once its task has been polled (this test runs on a
        // single-threaded runtime, so yielding polls it).
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(|| 0).await, Err(PoolBusy));
        let _ = release.send(());
        assert!(blocked.await.unwrap().is_ok());
        assert_eq!(queued.await.unwrap(), Ok(1));
    }
}
