//! The scheduling priority of the gateway's background threads (password hashes, store
//! compaction): the lowest there is, so that they use the CPU requests leave over.
//!
//! `SCHED_IDLE` is Linux's lowest class: such a thread only gets a CPU that nothing else
//! wants, and a request-serving thread that wakes up preempts it at once. Where it is refused
//! (a seccomp profile, a non-Linux system) the thread falls back to `SCHED_BATCH` at nice 19,
//! which still gives way but keeps a small share under load.

/// Lowers the calling thread's priority as far as allowed; a failure only costs the priority,
/// so it is logged (naming `what` the thread does) and ignored.
pub fn lower_priority(what: &str) {
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
        tracing::debug!(error = ?err, thread = what, "could not lower a background thread's priority");
    }
}
