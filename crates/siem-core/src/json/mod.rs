//! The event's JSON, read and written by hand on the hot paths, in one place: the reader
//! (`read.rs`, behind [`SecurityEvent::from_json`](crate::SecurityEvent::from_json)), the
//! writer every encoder builds its bodies with (this module's functions, and
//! [`Details::write_json`](crate::Details::write_json) beside the details types), and the
//! eight-bytes-at-a-time scans both share (`scan.rs`).

pub(crate) mod read;
pub(crate) mod scan;
mod write;

pub use write::{
    is_plain, push_epoch_seconds_millis, push_event_id, push_str, push_str_contents,
    push_str_contents_replacing, push_u64,
};
pub(crate) use write::{push_f64, push_labels, push_word_field};
