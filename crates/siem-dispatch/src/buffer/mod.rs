//! Where a sink's events wait: in memory (a bounded lock-free ring) or on disk (a staging
//! ring drained by the sink's worker into a [`redb`] file, removed only after the SIEM
//! acknowledged them).

use serde::{Deserialize, Serialize};

pub(crate) mod disk;
pub(crate) mod memory;
pub(crate) mod spool;

/// Default bound of a memory buffer, in events.
pub const DEFAULT_BUFFER_MAX_EVENTS: usize = 20_000;
/// Default bound of a memory buffer, in estimated bytes.
pub const DEFAULT_BUFFER_MAX_BYTES: usize = 32 * 1024 * 1024;
/// Default bound of a disk buffer, in events.
pub const DEFAULT_DISK_BUFFER_MAX_EVENTS: usize = 10_000_000;
/// Default bound of a disk buffer, in bytes on disk (canonical event JSON).
pub const DEFAULT_DISK_BUFFER_MAX_BYTES: usize = 1 << 30;
/// The largest memory buffer in events (its ring is allocated up front, 16 bytes a slot).
pub const MAX_BUFFER_EVENTS: usize = 1 << 22;
/// The largest buffer in bytes.
pub const MAX_BUFFER_BYTES: usize = 1 << 38;

/// Where a sink's events wait until they are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BufferKind {
    /// A bounded ring in memory: lost if the process dies.
    #[default]
    Memory,
    /// A file per sink under the dispatcher's data directory: events survive a stop, a
    /// crash or `kill -9` and are delivered at least once (after the next start).
    Disk,
}

/// What happens to an event when its sink's buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Callers that can wait (`emit_wait*`, e.g. `siem forward`) wait for room while the
    /// sink is healthy: lossless backpressure. Once the sink's circuit is open it stops
    /// holding others up: a memory buffer then drops (cause "circuit open"), a disk
    /// buffer keeps taking events until it is full. The gateway's `emit` never waits.
    #[default]
    Block,
    /// The newest event is dropped and counted, whoever the caller.
    DropNewest,
}

/// A sink's buffer: kind, bounds and what happens when full.
///
/// ```
/// use siem_dispatch::{BufferPolicy, WhenFull};
/// let memory = BufferPolicy::memory().max_events(5_000);
/// let disk = BufferPolicy::disk().max_bytes(256 << 20).when_full(WhenFull::DropNewest);
/// assert_eq!(memory.max_events, 5_000);
/// assert_eq!(disk.max_bytes, 256 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BufferPolicy {
    /// Memory or disk.
    #[serde(rename = "type")]
    pub kind: BufferKind,
    /// Bound in events.
    pub max_events: usize,
    /// Bound in bytes (memory: estimated; disk: as written).
    pub max_bytes: usize,
    /// What happens when full.
    pub when_full: WhenFull,
}

impl Default for BufferPolicy {
    fn default() -> Self {
        Self::memory()
    }
}

impl BufferPolicy {
    /// A memory buffer with the default bounds.
    pub fn memory() -> Self {
        Self {
            kind: BufferKind::Memory,
            max_events: DEFAULT_BUFFER_MAX_EVENTS,
            max_bytes: DEFAULT_BUFFER_MAX_BYTES,
            when_full: WhenFull::Block,
        }
    }

    /// A disk buffer with the default bounds (needs the dispatcher's data directory).
    pub fn disk() -> Self {
        Self {
            kind: BufferKind::Disk,
            max_events: DEFAULT_DISK_BUFFER_MAX_EVENTS,
            max_bytes: DEFAULT_DISK_BUFFER_MAX_BYTES,
            when_full: WhenFull::Block,
        }
    }

    setters! {
        /// Sets the bound in events.
        max_events: usize;

        /// Sets the bound in bytes.
        max_bytes: usize;

        /// Sets what happens when full.
        when_full: WhenFull;
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        let max_events = match self.kind {
            BufferKind::Memory => MAX_BUFFER_EVENTS,
            BufferKind::Disk => usize::MAX >> 1,
        };
        if self.max_events == 0 || self.max_events > max_events {
            return Err(format!(
                "buffer.max_events must be between 1 and {max_events}"
            ));
        }
        if self.max_bytes == 0 || self.max_bytes > MAX_BUFFER_BYTES {
            return Err(format!(
                "buffer.max_bytes must be between 1 and {MAX_BUFFER_BYTES}"
            ));
        }
        Ok(())
    }
}
