//! Request bodies whose events are known by position, for encoders that serve both
//! [`SiemSink::encode`](siem_core::SiemSink::encode) (a borrowed batch: each request gets
//! clones of its events) and [`SiemSink::encode_owned`](siem_core::SiemSink::encode_owned)
//! (a batch handed over: the requests take the events themselves, so encoding a batch
//! costs no atomic reference-count operation per event).

use std::sync::Arc;

use siem_core::{EncodeError, Encoded, EncodedRequest, RejectedEvent, SecurityEvent};

use crate::finish_body;

/// What an encoder decided for a batch, by event position: the bodies in order, each
/// holding the events up to an end position, and the events rejected on the way.
///
/// ```
/// use std::sync::Arc;
/// use siem_core::{EncodeError, SecurityEvent};
/// use siem_http::RequestPlan;
///
/// let events: Vec<Arc<SecurityEvent>> =
///     siem_core::testing::sample_events().into_iter().map(Arc::new).collect();
/// let mut plan = RequestPlan::new(false);
/// plan.close_body(2, b"first two".to_vec());
/// plan.reject(2, EncodeError::TooLarge {
///     event_id: events[2].event_id().to_string(),
///     size: 9,
///     limit: 8,
///     what: "an example limit",
/// });
/// plan.close_body(events.len(), b"the rest".to_vec());
///
/// let encoded = plan.moving(events);
/// assert_eq!(encoded.requests[0].events.len(), 2);
/// assert_eq!(encoded.requests[1].events.len(), 3);
/// assert_eq!(encoded.rejected.len(), 1);
/// ```
#[derive(Debug)]
pub struct RequestPlan {
    gzip: bool,
    /// Each finished request (without its events yet) and the position one past its last
    /// event.
    requests: Vec<(usize, EncodedRequest)>,
    rejected: Vec<(usize, EncodeError)>,
}

impl RequestPlan {
    /// An empty plan; bodies are gzip-compressed as they are closed when `gzip` is true.
    pub fn new(gzip: bool) -> Self {
        Self {
            gzip,
            requests: Vec::new(),
            rejected: Vec::new(),
        }
    }

    /// A finished body. It holds every event before position `end` that is not in an
    /// earlier body and was not rejected. Compressed now (when configured), while the
    /// body is still in the cache.
    pub fn close_body(&mut self, end: usize, body: Vec<u8>) {
        debug_assert!(self.requests.last().is_none_or(|(last, _)| *last <= end));
        self.requests
            .push((end, finish_body(Vec::new(), body, self.gzip)));
    }

    /// The event at `index` can never be sent; it goes in no body.
    pub fn reject(&mut self, index: usize, reason: EncodeError) {
        self.rejected.push((index, reason));
    }

    /// The result for a borrowed batch: each request gets clones of its events.
    pub fn cloning(self, events: &[Arc<SecurityEvent>]) -> Encoded {
        self.distribute(events.iter().cloned())
    }

    /// The result for a batch handed over: the requests take the events themselves.
    pub fn moving(mut self, mut events: Vec<Arc<SecurityEvent>>) -> Encoded {
        if !self.rejected.is_empty() {
            return self.distribute(events);
        }
        // Without rejections each body holds a contiguous run: split the vector from the
        // back (one body, the usual case, takes the vector as it is).
        for i in (0..self.requests.len()).rev() {
            let start = if i == 0 { 0 } else { self.requests[i - 1].0 };
            let start = start.min(events.len());
            self.requests[i].1.events = if start == 0 {
                std::mem::take(&mut events)
            } else {
                events.split_off(start)
            };
        }
        Encoded {
            requests: self.requests.into_iter().map(|(_, r)| r).collect(),
            rejected: Vec::new(),
        }
    }

    /// Hands each event, in order, to its body or to the rejected ones.
    fn distribute(self, events: impl IntoIterator<Item = Arc<SecurityEvent>>) -> Encoded {
        let mut requests = self.requests.into_iter().peekable();
        let mut rejected = self.rejected.into_iter().peekable();
        let mut out = Encoded::default();
        let mut current: Option<(usize, EncodedRequest)> = None;
        for (index, event) in events.into_iter().enumerate() {
            if rejected.peek().is_some_and(|(at, _)| *at == index) {
                if let Some((_, reason)) = rejected.next() {
                    out.rejected.push(RejectedEvent { event, reason });
                }
                continue;
            }
            while current.as_ref().is_none_or(|(end, _)| *end <= index) {
                match requests.next() {
                    Some(next) => {
                        if let Some((_, done)) = current.replace(next) {
                            out.requests.push(done);
                        }
                    }
                    // An event after the last body: an encoder bug; it stays out of the
                    // requests and the dispatcher accounts it as lost.
                    None => break,
                }
            }
            match &mut current {
                Some((end, request)) if index < *end => request.events.push(event),
                _ => {}
            }
        }
        out.requests.extend(current.map(|(_, r)| r));
        out.requests.extend(requests.map(|(_, r)| r));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: usize) -> Vec<Arc<SecurityEvent>> {
        siem_core::testing::sample_events()
            .into_iter()
            .cycle()
            .take(n)
            .map(Arc::new)
            .collect()
    }

    fn too_large(event: &SecurityEvent) -> EncodeError {
        EncodeError::TooLarge {
            event_id: event.event_id().to_string(),
            size: 2,
            limit: 1,
            what: "a test limit",
        }
    }

    /// Which input positions each request holds, and which were rejected (by pointer).
    fn positions(encoded: &Encoded, input: &[Arc<SecurityEvent>]) -> (Vec<Vec<usize>>, Vec<usize>) {
        let at = |e: &Arc<SecurityEvent>| input.iter().position(|x| Arc::ptr_eq(x, e)).unwrap();
        (
            encoded
                .requests
                .iter()
                .map(|r| r.events.iter().map(at).collect())
                .collect(),
            encoded.rejected.iter().map(|r| at(&r.event)).collect(),
        )
    }

    #[test]
    fn moving_and_cloning_give_each_body_the_same_events_whatever_the_layout() {
        let input = events(7);
        // (body ends, rejected positions)
        let layouts: &[(&[usize], &[usize])] = &[
            (&[7], &[]),
            (&[3, 7], &[]),
            (&[1, 2, 7], &[]),
            (&[3, 7], &[0]),
            (&[3, 7], &[3]),
            (&[3, 7], &[2, 6]),
            (&[4, 7], &[4, 5]),
            (&[], &[0, 1, 2, 3, 4, 5, 6]),
        ];
        for (ends, rejected) in layouts {
            let plan = || {
                let mut plan = RequestPlan::new(false);
                let mut next_reject = rejected.iter().peekable();
                for (i, end) in ends.iter().enumerate() {
                    while let Some(&&r) = next_reject.peek() {
                        if r >= *end {
                            break;
                        }
                        plan.reject(r, too_large(&input[r]));
                        next_reject.next();
                    }
                    plan.close_body(*end, format!("body {i}").into_bytes());
                }
                for &r in next_reject {
                    plan.reject(r, too_large(&input[r]));
                }
                plan
            };
            let mut expected = Vec::new();
            let mut start = 0;
            for end in *ends {
                expected.push(
                    (start..*end)
                        .filter(|i| !rejected.contains(i))
                        .collect::<Vec<_>>(),
                );
                start = *end;
            }
            let want = (expected, rejected.to_vec());
            let cloned = plan().cloning(&input);
            let moved = plan().moving(input.clone());
            assert_eq!(
                positions(&cloned, &input),
                want,
                "cloning {ends:?} {rejected:?}"
            );
            assert_eq!(
                positions(&moved, &input),
                want,
                "moving {ends:?} {rejected:?}"
            );
            let bodies = |e: &Encoded| {
                e.requests
                    .iter()
                    .map(|r| r.body.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(bodies(&cloned), bodies(&moved));
            assert_eq!(cloned.requests.len(), ends.len());
        }
    }

    #[test]
    fn one_body_takes_the_batch_vector_itself() {
        let input = events(5);
        let allocation = input.as_ptr();
        let mut plan = RequestPlan::new(false);
        plan.close_body(5, b"all".to_vec());
        let encoded = plan.moving(input);
        assert_eq!(encoded.requests[0].events.as_ptr(), allocation);
    }

    #[test]
    fn bodies_are_compressed_when_configured() {
        let input = events(1);
        let mut plan = RequestPlan::new(true);
        plan.close_body(1, br#"{"a":1}"#.repeat(100));
        let encoded = plan.moving(input);
        let request = &encoded.requests[0];
        assert!(request.gzip);
        assert_eq!(request.uncompressed_len, 700);
        assert!(request.body.len() < 700);
    }
}
