//! Answers shared by every query that asks the same question of the same state.
//!
//! One check flip on a service with 5,000 instances wakes every query parked on it; built per
//! query, the same answer would be gathered, filtered and encoded ten thousand times. Instead a
//! woken query looks its [`Question`] up at the state's last applied index: the first one builds
//! the answer and encodes it, the others wait for it and send the same bytes (and the same
//! gzip-compressed bytes, made once). A wake then costs one answer per question, whatever the
//! number of watchers.
//!
//! The latest answer of each question is kept while queries ask it; answers nobody holds go
//! once there are more than 64 questions or 64 MiB of them, so memory stays near one answer
//! per question being watched.

use crate::catalog::WatchKey;
use bytes::Bytes;
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What a query asks, in words that identify its answer: the route, its path arguments and
/// every parameter that shapes the answer (not `index`, `wait`, the token or the consistency
/// mode, which only decide when and whether it is read).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Question(String);

/// Parameters that say when or how a read happens, not what it answers.
const PER_REQUEST: &[&str] = &["index", "wait", "token", "stale", "consistent", "cached"];

impl Question {
    /// `endpoint` names the route, `args` are its path arguments (always as many for one
    /// endpoint), `params` the request's query pairs in any order.
    pub fn new<'a>(
        endpoint: &'static str,
        args: &[&str],
        params: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let mut shaping: Vec<(&str, &str)> =
            params.filter(|(k, _)| !PER_REQUEST.contains(k)).collect();
        shaping.sort_unstable();
        // Each part length-prefixed: no route argument or value can run into the next.
        let mut q = String::with_capacity(64);
        let parts = std::iter::once(endpoint)
            .chain(args.iter().copied())
            .chain(shaping.into_iter().flat_map(|(k, v)| [k, v]));
        for part in parts {
            q.push_str(&part.len().to_string());
            q.push(':');
            q.push_str(part);
        }
        Question(q)
    }
}

/// One encoded answer: its index, what it watches, and its body.
#[derive(Debug)]
pub struct Encoded {
    index: u64,
    watch: Vec<WatchKey>,
    /// The state's last applied index when the answer was read.
    read_at: u64,
    filtered: bool,
    body: Bytes,
    gzip: tokio::sync::OnceCell<Bytes>,
}

impl Encoded {
    /// `index` is the answer's `X-Consul-Index` (made at least 1), `filtered` whether ACLs
    /// removed part of it.
    pub fn new(index: u64, watch: Vec<WatchKey>, filtered: bool, body: Vec<u8>) -> Self {
        Encoded {
            index: index.max(1),
            watch,
            read_at: 0,
            filtered,
            body: Bytes::from(body),
            gzip: tokio::sync::OnceCell::new(),
        }
    }

    pub fn index(&self) -> u64 {
        self.index
    }

    pub fn filtered(&self) -> bool {
        self.filtered
    }

    pub(super) fn watch(&self) -> &[WatchKey] {
        &self.watch
    }

    pub(super) fn read_at(&self) -> u64 {
        self.read_at
    }

    pub(super) fn set_read_at(&mut self, at: u64) {
        self.read_at = at;
    }

    /// The JSON body.
    pub fn body(&self) -> Bytes {
        self.body.clone()
    }

    /// The body gzip-compressed at Go's default level (what Consul's gzip handler uses), made
    /// by the first request that asks for it while the others wait without holding a thread.
    pub async fn gzip(&self) -> Bytes {
        self.gzip
            .get_or_init(|| async {
                let mut z = flate2::write::GzEncoder::new(
                    Vec::with_capacity(self.body.len() / 8 + 64),
                    flate2::Compression::default(),
                );
                // Writing to a Vec cannot fail.
                let done = z.write_all(&self.body).and_then(|_| z.finish());
                Bytes::from(done.unwrap_or_default())
            })
            .await
            .clone()
    }
}

/// The state's answers to the questions being asked, the latest one per question.
#[derive(Default)]
pub struct SharedAnswers {
    slots: Mutex<Slots>,
    /// Body bytes of the answers the slots hold.
    bytes: Arc<AtomicUsize>,
}

#[derive(Default)]
struct Slots {
    map: HashMap<Question, Arc<Slot>>,
    /// Sizes past which idle answers are swept next: twice what a sweep left, so that a map
    /// full of answers being waited on is not walked at every insert.
    sweep_len: usize,
    sweep_bytes: usize,
}

/// Answers nobody holds are kept while there are at most this many questions...
const KEEP_QUESTIONS: usize = 64;
/// ...and their bodies take at most this much.
const KEEP_BYTES: usize = 64 << 20;

/// The answer to one question at one state.
pub(super) struct Slot {
    at: u64,
    answer: tokio::sync::OnceCell<Arc<Encoded>>,
    size: AtomicUsize,
    bytes: Arc<AtomicUsize>,
}

impl Slot {
    /// The slot's answer, built by `build` if nobody did yet; `true` when this call built it.
    pub(super) async fn answer<E>(
        &self,
        build: impl FnOnce() -> Result<Arc<Encoded>, E>,
    ) -> Result<(Arc<Encoded>, bool), E> {
        let built = AtomicBool::new(false);
        let e = self
            .answer
            .get_or_try_init(|| async {
                let e = build()?;
                self.size.store(e.body.len(), Ordering::Relaxed);
                self.bytes.fetch_add(e.body.len(), Ordering::Relaxed);
                built.store(true, Ordering::Relaxed);
                Ok(e)
            })
            .await?;
        Ok((e.clone(), built.load(Ordering::Relaxed)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.bytes
            .fetch_sub(self.size.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

impl SharedAnswers {
    /// The slot for `q` at state index `at`: the latest one, when it was made for this state
    /// or a later one, else a new one. The latest slot of a question is kept after its askers
    /// are answered, so that watchers woken together but served one after another share it;
    /// answers nobody holds are dropped once there are many questions or many bytes.
    pub(super) fn slot(&self, q: &Question, at: u64) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = slots.map.get(q) {
            if s.at >= at {
                return s.clone();
            }
        }
        let s = Arc::new(Slot {
            at,
            answer: tokio::sync::OnceCell::new(),
            size: AtomicUsize::new(0),
            bytes: self.bytes.clone(),
        });
        slots.map.insert(q.clone(), s.clone());
        let bytes = self.bytes.load(Ordering::Relaxed);
        if slots.map.len() > slots.sweep_len.max(KEEP_QUESTIONS)
            || bytes > slots.sweep_bytes.max(KEEP_BYTES)
        {
            slots.map.retain(|_, s| Arc::strong_count(s) > 1);
            slots.sweep_len = 2 * slots.map.len();
            slots.sweep_bytes = 2 * self.bytes.load(Ordering::Relaxed);
        }
        s
    }

    /// Forgets every answer (the whole state was replaced).
    pub(super) fn clear(&self) {
        *self.slots.lock().unwrap_or_else(|p| p.into_inner()) = Slots::default();
    }

    /// Questions with a kept answer, and the bytes of their bodies.
    pub fn kept(&self) -> (usize, usize) {
        let n = self.slots.lock().map(|s| s.map.len()).unwrap_or(0);
        (n, self.bytes.load(Ordering::Relaxed))
    }
}

/// Whether an `Accept-Encoding` value takes gzip (a `q=0` refuses it).
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_question_ignores_parameter_order_and_per_request_ones() {
        let ask = |svc: &str, params: &[(&'static str, &'static str)]| {
            Question::new("health/service", &[svc], params.iter().copied())
        };
        let a = ask("web", &[("passing", ""), ("index", "7"), ("tag", "a")]);
        assert_eq!(
            a,
            ask("web", &[("tag", "a"), ("wait", "5s"), ("passing", "")])
        );
        assert_ne!(a, ask("web", &[("tag", "b"), ("passing", "")]));
        assert_ne!(ask("we", &[("b", "")]), ask("web", &[("", "")]));
    }

    #[test]
    fn a_slot_is_shared_at_one_state_and_renewed_after_a_write() {
        let answers = SharedAnswers::default();
        let q = Question::new("catalog/service", &["web"], std::iter::empty());
        let first = answers.slot(&q, 5);
        assert!(Arc::ptr_eq(&first, &answers.slot(&q, 5)));
        // A reader that saw an older state takes the newer answer.
        assert!(Arc::ptr_eq(&first, &answers.slot(&q, 4)));
        drop(first);
        let later = answers.slot(&q, 6);
        assert_eq!(answers.kept().0, 1, "one answer per question");
        drop(later);
        assert_eq!(
            answers.kept().0,
            1,
            "the latest answer is kept for the next asker"
        );
    }

    #[tokio::test]
    async fn idle_answers_go_beyond_the_budget_and_bytes_are_counted() {
        let answers = SharedAnswers::default();
        let body = |n: usize| Ok::<_, ()>(Arc::new(Encoded::new(1, vec![], false, vec![b' '; n])));
        let held = answers.slot(&Question::new("kv", &["held"], std::iter::empty()), 1);
        assert!(held.answer(|| body(10)).await.unwrap().1);
        assert!(!held.answer(|| body(99)).await.unwrap().1, "built once");
        for i in 0..100 {
            let k = i.to_string();
            let s = answers.slot(&Question::new("kv", &[&k], std::iter::empty()), 1);
            s.answer(|| body(1)).await.unwrap();
        }
        let (n, bytes) = answers.kept();
        assert!(n <= KEEP_QUESTIONS + 1, "{n} kept");
        assert_eq!(bytes, 10 + (n - 1), "bytes of what is kept");
        assert!(Arc::ptr_eq(
            &held,
            &answers.slot(&Question::new("kv", &["held"], std::iter::empty()), 1)
        ));
    }

    #[tokio::test]
    async fn gzip_is_made_once_and_decodes_to_the_body() {
        let e = Encoded::new(3, vec![], false, br#"[{"Node":"a"},{"Node":"a"}]"#.to_vec());
        let z = e.gzip().await;
        assert_eq!(z.as_ptr(), e.gzip().await.as_ptr());
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&z[..]), &mut out).unwrap();
        assert_eq!(out, &e.body()[..]);
    }

    #[test]
    fn accept_encoding_is_read_as_http_says() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip(""));
    }
}
