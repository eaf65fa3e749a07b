//! The threads that compute password hashes, kept out of the proxy's way.
//!
//! argon2id is meant to be expensive (about 15 ms and 19 MiB per check here). On the tokio
//! blocking pool those threads compete with the request-serving workers as equals, and on a
//! one- or two-CPU machine a burst of logins then shows up as proxy latency. These threads
//! run at the lowest normal priority (`SCHED_BATCH`, nice 19): under load they get what the
//! proxy leaves, so logins slow down before proxied requests do. The queue is bounded; a
//! full queue is an immediate "busy", never an unbounded backlog.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

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
    loop {
        let job = match receiver.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// `SCHED_BATCH` at nice 19 for this thread; a failure only costs the priority, so it is
/// logged and ignored.
fn lower_priority() {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadPriority, ThreadSchedulePolicy,
    };
    let policy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
    if let Err(err) =
        set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, policy)
    {
        tracing::debug!(error = ?err, "could not lower the password-hash thread's priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
