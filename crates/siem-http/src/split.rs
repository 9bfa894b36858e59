//! The one splitter every encoder uses: items written one after another into a body,
//! framed by the platform (`[a,b]` or one envelope a line), bodies closed when the next
//! item would pass a limit, items too large on their own rejected.

use std::sync::Arc;

use siem_core::{EncodeError, SecurityEvent};

use crate::RequestPlan;

/// How a platform frames the items of one body: `open`, the items with `separator`
/// between them, `close` (`[`, `,`, `]` for a JSON array; nothing for concatenated
/// envelopes).
#[derive(Debug, Clone, Copy)]
pub struct Framing {
    /// Written before the first item.
    pub open: &'static [u8],
    /// Written between two items.
    pub separator: &'static [u8],
    /// Written after the last item.
    pub close: &'static [u8],
}

impl Framing {
    /// A JSON array: `[item,item]`.
    pub const ARRAY: Framing = Framing {
        open: b"[",
        separator: b",",
        close: b"]",
    };
    /// Items one after another, nothing around them (each item ends its own line).
    pub const CONCATENATED: Framing = Framing {
        open: b"",
        separator: b"",
        close: b"",
    };
}

/// How a platform's bodies are laid out: framing, compression, the limits of one request
/// and how [`EncodeError::TooLarge`] names them.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// What goes around and between the items.
    pub framing: Framing,
    /// Whether bodies are gzip-compressed as they are closed.
    pub gzip: bool,
    /// A guess of one item's size, so buffers rarely grow.
    pub per_item: usize,
    /// The largest uncompressed body, framing included.
    pub max_body_bytes: usize,
    /// The largest single item (`usize::MAX`: only the body limit).
    pub max_item_bytes: usize,
    /// The most items in one body (`usize::MAX`: no count limit).
    pub max_items: usize,
    /// What the body limit is called, e.g. `a Splunk HEC request body (max_body_bytes)`.
    pub body_limit_name: &'static str,
    /// What the item limit is called.
    pub item_limit_name: &'static str,
}

impl Layout {
    /// Items framed by `framing`, gzip-compressed when `gzip`, in bodies of at most
    /// `max_body_bytes` (called `body_limit_name`); no item or count limit.
    pub const fn new(
        framing: Framing,
        gzip: bool,
        max_body_bytes: usize,
        body_limit_name: &'static str,
    ) -> Self {
        Self {
            framing,
            gzip,
            per_item: 256,
            max_body_bytes,
            max_item_bytes: usize::MAX,
            max_items: usize::MAX,
            body_limit_name,
            item_limit_name: body_limit_name,
        }
    }
}

/// Writes `events` with `write` into bodies laid out as `layout` says, and returns which
/// events each body holds. An item over `max_item_bytes`, or too large for a body on its
/// own, is rejected and the others still go; the size reported is the item's (for the
/// item limit) or the body it alone would make (for the body limit).
#[inline]
pub fn split(
    events: &[Arc<SecurityEvent>],
    layout: &Layout,
    mut write: impl FnMut(&mut Vec<u8>, &SecurityEvent),
) -> RequestPlan {
    let (framing, limits, per_item) = (layout.framing, layout, layout.per_item);
    let mut plan = RequestPlan::new(layout.gzip);
    if events.is_empty() {
        return plan;
    }
    let max_body = limits.max_body_bytes;
    let frame = framing.open.len() + framing.close.len();
    let capacity = |remaining: usize| {
        remaining
            .min(limits.max_items)
            .saturating_mul(per_item)
            .min(max_body)
            + per_item
    };
    let mut body: Vec<u8> = Vec::with_capacity(capacity(events.len()));
    body.extend_from_slice(framing.open);
    // Items in the body being written.
    let mut items = 0;
    for (i, event) in events.iter().enumerate() {
        let start = body.len();
        if items > 0 {
            body.extend_from_slice(framing.separator);
        }
        let item_start = body.len();
        write(&mut body, event);
        let len = body.len() - item_start;
        let over = if len > limits.max_item_bytes {
            Some((len, limits.max_item_bytes, limits.item_limit_name))
        } else if len + frame > max_body {
            Some((len + frame, max_body, limits.body_limit_name))
        } else {
            None
        };
        if let Some((size, limit, what)) = over {
            body.truncate(start);
            plan.reject(
                i,
                EncodeError::TooLarge {
                    event_id: event.event_id().to_string(),
                    size,
                    limit,
                    what,
                },
            );
            continue;
        }
        if items == limits.max_items || body.len() + framing.close.len() > max_body {
            // The item starts the next body; the one so far (not empty, since the item
            // alone fits) is closed and goes as one request.
            let mut next = Vec::with_capacity(capacity(events.len() - i));
            next.extend_from_slice(framing.open);
            next.extend_from_slice(&body[item_start..]);
            body.truncate(start);
            body.extend_from_slice(framing.close);
            plan.close_body(i, std::mem::replace(&mut body, next));
            items = 0;
        }
        items += 1;
    }
    if items > 0 {
        body.extend_from_slice(framing.close);
        plan.close_body(events.len(), body);
    }
    plan
}
