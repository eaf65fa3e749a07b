//! The threads that compute password hashes, kept out of the proxy's way.
//!
//! argon2id is meant to be expensive (about 15 ms and 19 MiB per check here). On the tokio
//! blocking pool those threads compete with the request-serving workers as equals, and on a
//! one- or two-CPU machine a burst of logins then shows up as proxy latency. These threads
//! run at the lowest priority (`SCHED_IDLE`, see `crate::background`): logins use the idle
//! time the proxy leaves and slow down (never the proxy) when there is none; a CPU kept
//! 100 % busy by the proxy starves them, and the bounded queue then answers "busy". While a
//! hash runs it also offers its CPU back every 200 µs (`hash_slices.rs`): without that, the
//! scheduler at times left it the CPU for a whole 4 ms tick while a proxy thread waited.
//! `bench/auth.sh` (the login part) measured it: see bench/README.md. The queue is bounded;
//! a full queue is an immediate "busy", never an unbounded backlog, and once no worker is
//! left (none could start, or all died) every job is answered "busy" instead of waiting.
//!
//! Each worker keeps the argon2 memory of its last job ([`Scratch`]) and lends it to the next,
//! so that a run of logins does not allocate and zero 19 MiB per check (page faults and a
//! memset the proxy's CPU paid for); after [`RELEASE_AFTER`] without a job it is freed.
//!
//! A job whose caller stopped waiting (the login's deadline passed, or the client went away)
//! before a worker took it is dropped unrun and frees its place in the queue: on a starved
//! machine the pool would otherwise spend what little CPU it gets on hashes nobody reads, and
//! answer "busy" for a queue full of them.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use argon2::Block;
use tokio::sync::oneshot;

#[cfg(target_os = "linux")]
use super::hash_slices::Slicer;

type Job = Box<dyn FnOnce(&mut Scratch) + Send + 'static>;

/// A job in the queue, and whether its caller still waits for it.
struct Queued {
    job: Job,
    /// Held by [`HashPool::run`] until it has the answer or is dropped.
    waiter: Weak<()>,
}

impl Queued {
    fn abandoned(&self) -> bool {
        self.waiter.strong_count() == 0
    }
}

/// A worker frees its [`Scratch`] after this long without a job.
pub const RELEASE_AFTER: Duration = Duration::from_secs(10);

/// Memory a worker lends to each of its jobs: the argon2 blocks of the last hash, reused.
#[derive(Default)]
pub struct Scratch {
    blocks: Vec<Block>,
}

impl Scratch {
    /// `count` argon2 blocks, holding whatever the last job left there: argon2 writes every
    /// block before it reads it, so they need no zeroing.
    pub fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            self.blocks.resize(count, Block::default());
        }
        &mut self.blocks[..count]
    }
}

/// A small pool of low-priority threads.
pub struct HashPool {
    queue: Arc<Queue>,
}

/// The jobs waiting for a worker. A condition variable rather than a channel behind a mutex,
/// so that every idle worker times out on its own and frees its scratch memory (with a
/// shared receiver only the worker holding the lock would ever see the timeout).
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
    capacity: usize,
}

struct QueueState {
    jobs: VecDeque<Queued>,
    /// The pool is gone (workers finish what is queued, then exit), or no worker is left.
    closed: bool,
    /// Workers running.
    workers: usize,
    /// Bumped to make every worker free its scratch memory before its next job, whatever
    /// its idle time (tests: [`HashPool::release_now`]).
    release: u64,
}

/// What a worker does next.
enum Next {
    Job(Job),
    /// Nothing to do for the idle time: free the scratch memory.
    Idle,
    /// The pool is gone and nothing is queued.
    Exit,
}

/// Held by a running worker: when it ends (returns or unwinds), the last one closes the
/// queue and drops what waits there, which answers those jobs "busy".
struct Alive<'a>(&'a Queue);

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.workers -= 1;
        if state.workers == 0 {
            state.closed = true;
            state.jobs.clear();
        }
    }
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // Jobs run outside the lock, so a panic cannot leave the queue half-changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next job, waiting at most `idle` for one. `released` is the last
    /// [`QueueState::release`] this worker acted on.
    fn next(&self, idle: Duration, released: &mut u64) -> Next {
        let mut state = self.lock();
        loop {
            if state.release != *released {
                *released = state.release;
                return Next::Idle;
            }
            if let Some(queued) = state.jobs.pop_front() {
                if queued.abandoned() {
                    continue;
                }
                return Next::Job(queued.job);
            }
            if state.closed {
                return Next::Exit;
            }
            let (guard, wait) = self
                .ready
                .wait_timeout(state, idle)
                .unwrap_or_else(PoisonError::into_inner);
            state = guard;
            if wait.timed_out() && state.jobs.is_empty() && !state.closed {
                return Next::Idle;
            }
        }
    }
}

impl Drop for HashPool {
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.ready.notify_all();
    }
}

/// The pool could not take the job now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolBusy;

impl HashPool {
    /// Starts `threads` workers with a queue of `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> HashPool {
        Self::with_release(threads, queue, RELEASE_AFTER)
    }

    /// The same, with workers that free their scratch memory after `release_after` idle.
    fn with_release(threads: usize, queue: usize, release_after: Duration) -> HashPool {
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState {
                jobs: VecDeque::with_capacity(queue),
                closed: false,
                workers: 0,
                release: 0,
            }),
            ready: Condvar::new(),
            capacity: queue,
        });
        for n in 0..threads.max(1) {
            // Counted before it starts, so that a worker ending early cannot close the queue
            // while others are still being started.
            queue.lock().workers += 1;
            let worker = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("authgate-hash-{n}"))
                .spawn(move || work(&worker, release_after));
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a password-hash thread");
                drop(Alive(&queue));
            }
        }
        HashPool { queue }
    }

    /// Runs `f` on a pool thread, lending it the thread's scratch memory, and waits for its
    /// result.
    pub async fn run<T, F>(&self, f: F) -> Result<T, PoolBusy>
    where
        T: Send + 'static,
        F: FnOnce(&mut Scratch) -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |scratch| {
            let _ = tx.send(f(scratch));
        });
        let waiter = Arc::new(());
        {
            let mut state = self.queue.lock();
            if state.jobs.len() >= self.queue.capacity {
                state.jobs.retain(|queued| !queued.abandoned());
            }
            if state.closed || state.jobs.len() >= self.queue.capacity {
                return Err(PoolBusy);
            }
            state.jobs.push_back(Queued {
                job,
                waiter: Arc::downgrade(&waiter),
            });
        }
        self.queue.ready.notify_one();
        let answer = rx.await;
        // Until here (or until this future is dropped) the job is wanted.
        drop(waiter);
        answer.map_err(|_| PoolBusy)
    }

    /// Makes every worker free its scratch memory before its next job, as if its idle time
    /// had passed: the tests' stand-in for [`RELEASE_AFTER`], so that they do not depend on
    /// how the threads are scheduled.
    #[cfg(test)]
    fn release_now(&self) {
        self.queue.lock().release += 1;
        self.queue.ready.notify_all();
    }
}

fn work(queue: &Queue, release_after: Duration) {
    let _alive = Alive(queue);
    crate::background::lower_priority("password hashes");
    let mut scratch = Scratch::default();
    let slicer = Slicer::for_this_thread();
    let mut released = 0;
    if slicer.is_none() {
        // A seccomp filter without timer_create or rt_sigaction, or not Linux.
        tracing::debug!("password-hash time slices unavailable; hashes run unsliced");
    }
    loop {
        match queue.next(release_after, &mut released) {
            Next::Job(job) => {
                if let Some(slicer) = &slicer {
                    slicer.start();
                }
                job(&mut scratch);
                if let Some(slicer) = &slicer {
                    slicer.stop();
                }
            }
            Next::Idle => scratch = Scratch::default(),
            Next::Exit => return,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_threads_run_at_the_idle_policy() {
        use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
        let pool = HashPool::new(1, 1);
        // Also shows that a job still completes at SCHED_IDLE when the CPU has idle time.
        let policy = pool
            .run(|_| thread_priority::thread_schedule_policy())
            .await;
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
            .run(|_| {
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
        assert_eq!(pool.run(|_| 2 + 2).await, Ok(4));
        // Block the only worker, fill the queue, then the next job is refused at once.
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let blocked = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move |_| {
                    let _ = started_tx.send(());
                    let _ = hold.recv();
                })
                .await
            }
        });
        started_rx.await.unwrap();
        let queued = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|_| 1).await }
        });
        // The queued job is in the channel once its task has been polled (this test runs on a
        // single-threaded runtime, so yielding polls it).
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(|_| 0).await, Err(PoolBusy));
        let _ = release.send(());
        assert!(blocked.await.unwrap().is_ok());
        assert_eq!(queued.await.unwrap(), Ok(1));
    }

    /// Long enough that no test sees a worker free its memory by itself: the tests that
    /// want it freed say so with [`HashPool::release_now`].
    const NEVER: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn a_worker_lends_its_memory_to_the_next_job_then_frees_it_when_released() {
        let pool = HashPool::with_release(1, 1, NEVER);
        let address = |scratch: &mut Scratch| scratch.blocks(64).as_ptr() as usize;
        let first = pool.run(address).await.unwrap();
        let second = pool.run(address).await.unwrap();
        assert_eq!(first, second, "the next job gets the same memory");
        let grown = pool.run(|s| s.blocks(32).len() + s.blocks(128).len()).await;
        assert_eq!(grown, Ok(32 + 128), "a job may ask for less or more");
        let kept = pool.run(|s| s.blocks.len()).await.unwrap();
        assert_eq!(kept, 128);
        pool.release_now();
        let after_idle = pool.run(|s| s.blocks.len()).await.unwrap();
        assert_eq!(after_idle, 0, "freed before the next job");
    }

    #[tokio::test]
    async fn an_idle_worker_frees_its_memory_after_the_release_time() {
        let pool = HashPool::with_release(1, 1, Duration::from_millis(50));
        pool.run(|s| s.blocks(64).len()).await.unwrap();
        // Looks again after gaps of four release times (each look is a job, which starts
        // the idle time again, and allocates nothing), until a deadline: a loaded machine
        // may wake the worker late, which only takes more looks.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if pool.run(|s| s.blocks.len()).await.unwrap() == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still held 10 s after its last job"
            );
        }
    }

    #[tokio::test]
    async fn every_idle_worker_frees_its_memory() {
        // Two jobs that wait for each other run on both workers at once.
        let pool = HashPool::with_release(2, 2, NEVER);
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let job = |barrier: Arc<std::sync::Barrier>| {
            move |scratch: &mut Scratch| {
                let before = scratch.blocks.len();
                scratch.blocks(64);
                barrier.wait();
                before
            }
        };
        let both = || {
            let (a, b) = (job(barrier.clone()), job(barrier.clone()));
            let pool = &pool;
            async move { tokio::join!(pool.run(a), pool.run(b)) }
        };
        assert_eq!(both().await, (Ok(0), Ok(0)));
        assert_eq!(
            both().await,
            (Ok(64), Ok(64)),
            "each worker kept its memory"
        );
        pool.release_now();
        assert_eq!(both().await, (Ok(0), Ok(0)), "and each freed it when idle");
    }

    #[tokio::test]
    async fn a_job_nobody_waits_for_any_more_is_not_run() {
        let pool = Arc::new(HashPool::new(1, 4));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let blocked = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move |_| {
                    let _ = started_tx.send(());
                    let _ = hold.recv();
                })
                .await
            }
        });
        started_rx.await.unwrap();
        // Queued behind the held worker, then given up on (as a login's deadline does).
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let gave_up = tokio::time::timeout(
            Duration::from_millis(10),
            pool.run(move |_| flag.store(true, std::sync::atomic::Ordering::SeqCst)),
        )
        .await;
        assert!(gave_up.is_err());
        let _ = release.send(());
        assert!(blocked.await.unwrap().is_ok());
        // A job queued after it runs, so the abandoned one has been taken by now.
        assert_eq!(pool.run(|_| 1).await, Ok(1));
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_pool_without_workers_answers_busy_instead_of_waiting() {
        let pool = HashPool::new(1, 4);
        // The only worker dies in a job (a panic, as a bug would): that job and every later
        // one are answered "busy", none waits for ever.
        let died = pool.run(|_| -> u8 { std::panic::panic_any("a bug") }).await;
        assert_eq!(died, Err(PoolBusy));
        for _ in 0..50 {
            if pool.queue.lock().closed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let later = tokio::time::timeout(Duration::from_secs(5), pool.run(|_| 1)).await;
        assert_eq!(later, Ok(Err(PoolBusy)));
    }
}
