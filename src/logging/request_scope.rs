//! The request id in every log line written while a request is handled: its decisions (a
//! refused token, a failed sign-in, a client that failed authentication) carry the same
//! `request_id` as its access line, so that one grep finds all of a request.
//!
//! How, and why not a span: `middleware::request_id` lends the request's id to this thread
//! while it polls the request's future ([`lend`]), and the log formatter ([`WithRequestId`])
//! adds it to any event written meanwhile. A `tracing` span per request would do the same and
//! was measured first: creating, entering and closing one cost about 7,000 instructions per
//! request with the fmt subscriber (callgrind, `bench/instructions.sh`). Lending costs two
//! thread-local swaps per poll and no allocation or reference count; only a line that is
//! actually written pays for the id (one formatting into a buffer).
//!
//! What the lending cannot reach: work the request hands to another task or thread (the
//! password-hash threads, back-channel logout sends, compaction). Those log without an id,
//! and none of them logs a decision about the request.

use std::cell::Cell;
use std::fmt;

use http::HeaderValue;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

thread_local! {
    /// The id of the request this thread is polling, if any.
    static CURRENT: Cell<Option<HeaderValue>> = const { Cell::new(None) };
}

/// Runs `poll` with the id in `slot` as this thread's current request id, and puts the id
/// back in `slot` afterwards (also if `poll` unwinds). The id moves; it is not cloned.
pub fn lend<R>(slot: &mut Option<HeaderValue>, poll: impl FnOnce() -> R) -> R {
    let previous = CURRENT.replace(slot.take());
    let _give_back = GiveBack { slot, previous };
    poll()
}

/// Restores the thread's previous id and returns the lent one to its owner.
struct GiveBack<'a> {
    slot: &'a mut Option<HeaderValue>,
    previous: Option<HeaderValue>,
}

impl Drop for GiveBack<'_> {
    fn drop(&mut self) {
        *self.slot = CURRENT.replace(self.previous.take());
    }
}

/// The id of the request being polled on this thread, if any (a clone: a reference count).
pub fn current() -> Option<HeaderValue> {
    let id = CURRENT.take();
    let copy = id.clone();
    CURRENT.set(id);
    copy
}

/// Calls `f` with the current request id as text, if a request is being polled.
fn with_current<R>(f: impl FnOnce(Option<&str>) -> R) -> R {
    let id = CURRENT.take();
    let result = f(id.as_ref().and_then(|v| v.to_str().ok()));
    CURRENT.set(id);
    result
}

/// How the wrapped formatter ends its lines, so the id can be added inside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineShape {
    /// `... key=value\n`: the id is appended as ` request_id=ID`.
    Text,
    /// `{...}\n`: the id is added as the object's last member.
    Json,
}

/// A [`FormatEvent`] that adds `request_id` to every event written while a request is
/// polled. (The access line has its own field and does not go through tracing.)
pub struct WithRequestId<F> {
    inner: F,
    shape: LineShape,
}

impl<F> WithRequestId<F> {
    /// Wraps `inner`, whose lines have the given shape.
    pub fn new(inner: F, shape: LineShape) -> Self {
        WithRequestId { inner, shape }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithRequestId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        with_current(|id| match id {
            None => self.inner.format_event(ctx, writer.by_ref(), event),
            Some(id) => {
                let mut line = String::new();
                self.inner
                    .format_event(ctx, Writer::new(&mut line), event)?;
                writer.write_str(&add_id(&line, id, self.shape))
            }
        })
    }
}

/// `line` (one formatted event, newline-terminated) with `request_id` added. The id is
/// plain (`A-Z a-z 0-9 . _ : -`, checked or made by `middleware::request_id`), so it needs
/// no quoting in either shape.
fn add_id(line: &str, id: &str, shape: LineShape) -> String {
    let body = line.strip_suffix('\n').unwrap_or(line);
    match (shape, body.strip_suffix('}')) {
        (LineShape::Json, Some(open)) => format!("{open},\"request_id\":\"{id}\"}}\n"),
        _ => format!("{body} request_id={id}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    fn id(text: &'static str) -> Option<HeaderValue> {
        Some(HeaderValue::from_static(text))
    }

    fn log_all() {
        tracing::info!(reason = "expired", "bearer token refused");
        let mut slot = id("req-1");
        lend(&mut slot, || {
            tracing::info!(reason = "expired", "bearer token refused");
            tracing::info!(status = 401, "answered");
            let mut inner = id("req-2");
            lend(&mut inner, || tracing::warn!("nested"));
            assert_eq!(inner, id("req-2"), "the nested id came back");
            tracing::info!("after nested");
        });
        assert_eq!(slot, id("req-1"), "the id came back to its owner");
        tracing::info!("outside again");
    }

    #[test]
    fn text_lines_carry_the_id_only_while_it_is_lent() {
        let out = Captured::default();
        let format = tracing_subscriber::fmt::format().with_ansi(false);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(out.clone())
            .event_format(WithRequestId::new(format, LineShape::Text))
            .finish();
        tracing::subscriber::with_default(subscriber, log_all);
        let lines = out.lines();
        assert_eq!(lines.len(), 6, "{lines:#?}");
        assert!(!lines[0].contains("request_id"), "{}", lines[0]);
        assert!(
            lines[1].ends_with("reason=\"expired\" request_id=req-1"),
            "{}",
            lines[1]
        );
        assert_eq!(lines[2].matches("request_id").count(), 1, "{}", lines[2]);
        assert!(
            lines[3].ends_with("nested request_id=req-2"),
            "{}",
            lines[3]
        );
        assert!(
            lines[4].ends_with("after nested request_id=req-1"),
            "{}",
            lines[4]
        );
        assert!(!lines[5].contains("request_id"), "{}", lines[5]);
    }

    #[test]
    fn json_lines_stay_json_with_the_id_as_a_member() {
        let out = Captured::default();
        let format = tracing_subscriber::fmt::format().json().flatten_event(true);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(out.clone())
            .event_format(WithRequestId::new(format, LineShape::Json))
            .finish();
        tracing::subscriber::with_default(subscriber, log_all);
        let lines = out.lines();
        let parsed: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let ids: Vec<Option<&str>> = parsed.iter().map(|v| v["request_id"].as_str()).collect();
        assert_eq!(
            ids,
            [
                None,
                Some("req-1"),
                Some("req-1"),
                Some("req-2"),
                Some("req-1"),
                None
            ]
        );
        assert_eq!(parsed[1]["reason"], "expired");
    }

    #[test]
    fn an_unwinding_poll_still_gives_the_id_back() {
        let mut slot = id("req-9");
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            lend(&mut slot, || panic!("inside"));
        }));
        assert!(caught.is_err());
        assert_eq!(slot, id("req-9"));
        assert_eq!(with_current(|id| id.map(str::to_owned)), None);
    }
}
