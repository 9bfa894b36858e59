//! A sink's disk buffer: one [`redb`] file, `<data_dir>/<org>/<sink>/buffer.redb`.
//!
//! The sink's worker drains its staging ring into **records**: one record is one batch of
//! events as canonical event JSON lines, under an increasing sequence number. Records are
//! written (and `fsync`ed) in groups, once they have waited for the SIEM a short while
//! (see `spool.rs`), and removed in a later commit only when every event in each is
//! delivered or has failed for good. After a stop, a crash or
//! `kill -9`, the next start finds the records left and delivers them (at least once).
//!
//! Why redb rather than a segmented append-only log of our own: redb gives transactions
//! with checksummed commits (a torn write rolls back to the last commit instead of
//! leaving half a record), crash recovery, and an exclusive file lock (a second process
//! is refused) — the parts a hand-written log gets wrong. Measured on the forward path
//! (BENCHMARKS.md): writing every record before sending cost 2.4–2.7× a memory buffer's
//! CPU (JSON, redb's page copies, `fsync`); with group commits and write-behind, what the
//! SIEM takes within 200 ms is never written.
//!
//! Damage: a record whose lines no longer parse loses only those lines (counted, logged,
//! the rest delivered); a file redb cannot open at all is moved aside as
//! `buffer.redb.damaged-<unix time>` (reported, kept for inspection) and a new one
//! started.
//!
//! A failed write (disk full, a file size limit): redb refuses every later read and write
//! of that handle, so the store closes it and opens the file again, back at its last
//! commit. Until that succeeds, reads answer "unavailable" (the records wait; nothing is
//! counted lost) and the next write tries the reopen first.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use redb::{Database, ReadableTable, ReadableTableMetadata as _, TableDefinition};
use siem_core::SecurityEvent;

const RECORDS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("records");
/// Records whose send was started: after a crash, their events may already be in the
/// SIEM, and replaying them may duplicate them (counted as `redelivered`).
const ATTEMPTED: TableDefinition<'_, u64, ()> = TableDefinition::new("attempted");

/// The file name of a sink's buffer inside its directory.
pub(crate) const FILE_NAME: &str = "buffer.redb";

/// A record found at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordMeta {
    pub(crate) seq: u64,
    pub(crate) events: usize,
    pub(crate) bytes: usize,
    pub(crate) attempted: bool,
}

/// What opening a buffer found.
#[derive(Debug, Default)]
pub(crate) struct Opened {
    pub(crate) records: Vec<RecordMeta>,
    /// Set when the file could not be opened and was moved aside to this path.
    pub(crate) quarantined: Option<PathBuf>,
}

/// One sink's buffer file. Methods block (file I/O, `fsync`): the worker calls them on
/// the blocking pool. Clones share the file.
#[derive(Debug, Clone)]
pub(crate) struct DiskStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    path: PathBuf,
    /// `None` while closed after a failed write, until reopened. Held only long enough to
    /// clone the handle: I/O never runs under the lock.
    db: Mutex<Option<Arc<Database>>>,
}

fn io_error(path: &Path, what: &str, e: impl std::fmt::Display) -> String {
    format!("{what} {}: {e}", path.display())
}

/// Creates `dir` and its missing parents with mode 0700 (owner only).
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), String> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| io_error(dir, "cannot create the buffer directory", e))?;
    restrict(dir, 0o700)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| io_error(path, "cannot restrict permissions of", e))
}

#[cfg(not(unix))]
fn restrict(_: &Path, _: u32) -> Result<(), String> {
    Ok(())
}

impl DiskStore {
    /// Opens (or creates) the buffer in `dir`; reports the records found.
    pub(crate) fn open(dir: &Path) -> Result<(Self, Opened), String> {
        Self::open_once(dir, true)
    }

    /// [`open`](Self::open); a damaged file is moved aside only when `may_move_aside`
    /// (once: a new file that fails too is an error, not a loop).
    fn open_once(dir: &Path, may_move_aside: bool) -> Result<(Self, Opened), String> {
        create_private_dir(dir)?;
        let path = dir.join(FILE_NAME);
        // Create the file owner-only before redb opens it, so it is never readable by
        // others, not even for a moment.
        {
            let mut options = fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            options
                .open(&path)
                .map_err(|e| io_error(&path, "cannot create", e))?;
            restrict(&path, 0o600)?;
        }
        let mut opened = Opened::default();
        let db = match open_db(&path) {
            Ok(db) => db,
            Err(OpenError::InUse) => {
                return Err(format!(
                    "{} is in use by another process (one process per data_dir)",
                    path.display()
                ))
            }
            // The disk refuses (full, a file size limit, read-only): not damage; moving the
            // file aside would not help.
            Err(OpenError::Io(e)) => return Err(io_error(&path, "cannot open", e)),
            Err(OpenError::Damaged(reason)) if !may_move_aside => {
                return Err(io_error(&path, "cannot start a new buffer in", reason))
            }
            Err(OpenError::Damaged(reason)) => {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let aside = dir.join(format!("{FILE_NAME}.damaged-{stamp}"));
                fs::rename(&path, &aside)
                    .map_err(|e| io_error(&path, "cannot move aside the damaged", e))?;
                tracing::error!(
                    file = %path.display(),
                    moved_to = %aside.display(),
                    reason = %reason,
                    "disk buffer damaged beyond repair: moved aside, starting a new one"
                );
                opened.quarantined = Some(aside);
                return Self::open_once(dir, false).map(|(store, mut again)| {
                    again.quarantined = opened.quarantined;
                    (store, again)
                });
            }
        };
        let store = Self {
            shared: Arc::new(Shared {
                path,
                db: Mutex::new(Some(Arc::new(db))),
            }),
        };
        opened.records = store.scan()?;
        Ok((store, opened))
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The open handle; `None` while closed after a failed write.
    fn db(&self) -> Option<Arc<Database>> {
        self.shared
            .db
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the file is open (not closed after a failed write, waiting to be reopened).
    pub(crate) fn is_open(&self) -> bool {
        self.db().is_some()
    }

    /// Closes the handle (redb refuses everything after a failed write) and opens the
    /// file again, back at its last commit. Fails while a read still holds the old
    /// handle, or when the disk still refuses: the store stays closed, to be reopened by
    /// the next write.
    fn reopen(&self) -> Result<Arc<Database>, String> {
        let path = self.path();
        let old = self
            .shared
            .db
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(old) = old {
            match Arc::try_unwrap(old) {
                // Dropped here: redb's file lock goes with it.
                Ok(db) => drop(db),
                Err(busy) => {
                    *self
                        .shared
                        .db
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(busy);
                    return Err(io_error(path, "cannot reopen (in use)", "retrying"));
                }
            }
        }
        let db = match open_db(path) {
            Ok(db) => Arc::new(db),
            Err(OpenError::InUse) => return Err(io_error(path, "cannot reopen", "in use")),
            Err(OpenError::Io(e)) => return Err(io_error(path, "cannot reopen", e)),
            Err(OpenError::Damaged(reason)) => return Err(io_error(path, "cannot reopen", reason)),
        };
        *self
            .shared
            .db
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&db));
        tracing::info!(file = %path.display(), "disk buffer reopened after a failed write");
        Ok(db)
    }

    fn scan(&self) -> Result<Vec<RecordMeta>, String> {
        let path = self.path();
        let fail = |e: &dyn std::fmt::Display| io_error(path, "cannot read", e);
        let db = self.db().ok_or_else(|| fail(&"closed"))?;
        let txn = db.begin_read().map_err(|e| fail(&e))?;
        let attempted: std::collections::HashSet<u64> = match txn.open_table(ATTEMPTED) {
            Ok(t) => t
                .iter()
                .map_err(|e| fail(&e))?
                .filter_map(Result::ok)
                .map(|(k, _)| k.value())
                .collect(),
            Err(redb::TableError::TableDoesNotExist(_)) => Default::default(),
            Err(e) => return Err(fail(&e)),
        };
        let table = match txn.open_table(RECORDS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(fail(&e)),
        };
        let mut records = Vec::with_capacity(table.len().unwrap_or(0) as usize);
        for item in table.iter().map_err(|e| fail(&e))? {
            let (k, v) = match item {
                Ok(kv) => kv,
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "disk buffer: unreadable record skipped");
                    continue;
                }
            };
            let bytes = v.value();
            let seq = k.value();
            records.push(RecordMeta {
                seq,
                events: memchr::memchr_iter(b'\n', bytes).count(),
                bytes: bytes.len(),
                attempted: attempted.contains(&seq),
            });
        }
        Ok(records)
    }

    /// Reads one record back: its events, and how many of its lines were damaged;
    /// `Ok(None)` while the file is closed after a failed write (the record waits).
    pub(crate) fn read(&self, seq: u64) -> Result<Option<Decoded>, String> {
        let fail = |e: &dyn std::fmt::Display| io_error(self.path(), "cannot read", e);
        let Some(db) = self.db() else {
            return Ok(None);
        };
        let txn = match db.begin_read() {
            Ok(txn) => txn,
            Err(redb::TransactionError::Storage(redb::StorageError::PreviousIo)) => {
                return Ok(None)
            }
            Err(e) => return Err(fail(&e)),
        };
        let table = txn.open_table(RECORDS).map_err(|e| fail(&e))?;
        let value = match table.get(seq) {
            Ok(Some(value)) => value,
            Ok(None) => return Ok(Some((Vec::new(), 0))),
            Err(redb::StorageError::PreviousIo) => return Ok(None),
            Err(e) => return Err(fail(&e)),
        };
        Ok(Some(decode_record(value.value())))
    }

    /// One transaction: adds records (encoding them here, off the caller's thread),
    /// marks records attempted, removes finished ones; durable when it returns. The size
    /// of each record written is left in `changes.written`.
    /// A failed write closes the file and reopens it (see the module's documentation).
    pub(crate) fn commit(&self, changes: &mut Changes) -> Result<(), String> {
        let db = match self.db() {
            Some(db) => db,
            None => self.reopen()?,
        };
        let result = self.commit_to(&db, changes);
        if result.is_err() {
            drop(db);
            // Best effort now; when it fails, the next write tries again.
            let _ = self.reopen();
        }
        result
    }

    fn commit_to(&self, db: &Database, changes: &mut Changes) -> Result<(), String> {
        let fail = |e: &dyn std::fmt::Display| io_error(self.path(), "cannot write", e);
        let txn = db.begin_write().map_err(|e| fail(&e))?;
        changes.written.clear();
        {
            let mut records = txn.open_table(RECORDS).map_err(|e| fail(&e))?;
            let mut attempted = txn.open_table(ATTEMPTED).map_err(|e| fail(&e))?;
            let mut scratch = std::mem::take(&mut changes.scratch);
            for (seq, events) in &changes.append {
                encode_record_into(events, &mut scratch);
                records
                    .insert(*seq, scratch.as_slice())
                    .map_err(|e| fail(&e))?;
                changes.written.push((*seq, scratch.len()));
            }
            changes.scratch = scratch;
            for seq in &changes.attempted {
                attempted.insert(*seq, ()).map_err(|e| fail(&e))?;
            }
            for seq in &changes.remove {
                records.remove(*seq).map_err(|e| fail(&e))?;
                attempted.remove(*seq).map_err(|e| fail(&e))?;
            }
        }
        txn.commit().map_err(|e| fail(&e))
    }
}

/// What one commit changes.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// New records: their events, encoded by the commit.
    pub(crate) append: Vec<(u64, Vec<Arc<SecurityEvent>>)>,
    pub(crate) attempted: Vec<u64>,
    pub(crate) remove: Vec<u64>,
    /// The size of each record the last commit wrote.
    pub(crate) written: Vec<(u64, usize)>,
    /// How many events the last successful commit wrote (its `append`, emptied by then).
    pub(crate) written_events: usize,
    /// The encoding buffer, reused from commit to commit (a fresh ~300 KB buffer per
    /// record cost a page fault per 4 KiB).
    pub(crate) scratch: Vec<u8>,
}

impl Changes {
    pub(crate) fn is_empty(&self) -> bool {
        self.append.is_empty() && self.attempted.is_empty() && self.remove.is_empty()
    }
}

enum OpenError {
    InUse,
    Io(std::io::Error),
    Damaged(String),
}

/// redb's page cache per buffer. Records are written once and read back at most once, so
/// a cache buys little; redb's default (1 GiB) let a forward of 200,000 events grow to
/// 66 MiB of RSS, against 16 MiB with a memory buffer.
const CACHE_BYTES: usize = 16 << 20;

fn open_db(path: &Path) -> Result<Database, OpenError> {
    // redb reports damage as errors, but a file damaged in the wrong place can also make
    // it panic: either way the file is moved aside, never a crash of the process.
    let attempt = std::panic::catch_unwind(|| {
        let mut builder = redb::Builder::new();
        builder.set_cache_size(CACHE_BYTES);
        #[cfg(test)]
        if let Some(backend) = tests::failing_backend(path)? {
            return builder.create_with_backend(backend);
        }
        builder.create(path)
    });
    match attempt {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => Err(OpenError::InUse),
        // redb reports failed checksums as invalid data: damage. Other I/O errors are
        // the disk refusing (full, size limit, read-only, permissions).
        Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))))
            if !matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            Err(OpenError::Io(e))
        }
        Ok(Err(e)) => Err(OpenError::Damaged(e.to_string())),
        Err(_) => Err(OpenError::Damaged(
            "the store panicked while opening".into(),
        )),
    }
}

/// The record of a batch: one canonical JSON line per event.
#[cfg(test)]
pub(crate) fn encode_record(events: &[Arc<SecurityEvent>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 320);
    encode_record_into(events, &mut out);
    out
}

/// [`encode_record`] into a buffer that is reused.
pub(crate) fn encode_record_into(events: &[Arc<SecurityEvent>], out: &mut Vec<u8>) {
    out.clear();
    for event in events {
        event.write_json(out);
        out.push(b'\n');
    }
}

/// A record's events, and how many of its lines were damaged.
pub(crate) type Decoded = (Vec<Arc<SecurityEvent>>, usize);

/// Parses a record; a line that no longer parses is skipped and counted.
pub(crate) fn decode_record(bytes: &[u8]) -> Decoded {
    let mut events = Vec::with_capacity(memchr::memchr_iter(b'\n', bytes).count());
    let mut damaged = 0;
    for line in bytes.split(|b| *b == b'\n') {
        if line.is_empty() {
            continue;
        }
        match SecurityEvent::from_json_slice(line) {
            Ok(event) => events.push(Arc::new(event)),
            Err(_) => damaged += 1,
        }
    }
    (events, damaged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use siem_core::testing::sample_events;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Files whose writes fail while their switch is on (a disk that fills up and frees).
    static FAILING: Mutex<Vec<(PathBuf, Arc<AtomicBool>)>> = Mutex::new(Vec::new());

    /// redb's file backend, with writes that fail on demand.
    #[derive(Debug)]
    pub(super) struct FailingBackend {
        file: redb::backends::FileBackend,
        fail: Arc<AtomicBool>,
    }

    impl FailingBackend {
        fn check(&self) -> Result<(), std::io::Error> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(std::io::Error::other("no space left (injected)"));
            }
            Ok(())
        }
    }

    impl redb::StorageBackend for FailingBackend {
        fn len(&self) -> Result<u64, std::io::Error> {
            self.file.len()
        }
        fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, std::io::Error> {
            self.file.read(offset, len)
        }
        fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
            self.check()?;
            self.file.set_len(len)
        }
        fn sync_data(&self, eventual: bool) -> Result<(), std::io::Error> {
            self.check()?;
            self.file.sync_data(eventual)
        }
        fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
            self.check()?;
            self.file.write(offset, data)
        }
    }

    /// The backend for `path` when a test made its writes fail on demand.
    pub(super) fn failing_backend(
        path: &Path,
    ) -> Result<Option<FailingBackend>, redb::DatabaseError> {
        let fail = FAILING
            .lock()
            .unwrap()
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, f)| Arc::clone(f));
        let Some(fail) = fail else {
            return Ok(None);
        };
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(Some(FailingBackend {
            file: redb::backends::FileBackend::new(file)?,
            fail,
        }))
    }

    #[test]
    fn after_a_failed_write_the_buffer_reopens_and_loses_nothing_it_had_written() {
        let dir = tempdir("refuses");
        let fail = Arc::new(AtomicBool::new(false));
        FAILING
            .lock()
            .unwrap()
            .push((dir.join(FILE_NAME), Arc::clone(&fail)));
        let (store, _) = DiskStore::open(&dir).unwrap();
        let batch = events();
        let append = |seqs: &[u64]| Changes {
            append: seqs.iter().map(|s| (*s, batch.clone())).collect(),
            ..Changes::default()
        };
        store.commit(&mut append(&[1, 2])).unwrap();

        fail.store(true, Ordering::SeqCst);
        let err = store.commit(&mut append(&[3])).unwrap_err();
        assert!(err.contains("cannot write"), "{err}");
        // While the disk refuses, what was written waits; it is never read as lost.
        for seq in [1, 2] {
            if let Some((back, damaged)) = store.read(seq).unwrap() {
                assert_eq!((back.len(), damaged), (batch.len(), 0));
            }
        }
        assert!(store.commit(&mut append(&[3])).is_err());

        fail.store(false, Ordering::SeqCst);
        store.commit(&mut append(&[3])).unwrap();
        assert!(store.is_open());
        for seq in [1, 2, 3] {
            let (back, damaged) = store.read(seq).unwrap().expect("open again");
            assert_eq!(damaged, 0);
            assert_eq!(back, batch);
        }
        drop(store);
        let (_store, opened) = DiskStore::open(&dir).unwrap();
        let seqs: Vec<u64> = opened.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
    }

    fn events() -> Vec<Arc<SecurityEvent>> {
        sample_events().into_iter().map(Arc::new).collect()
    }

    #[test]
    fn records_round_trip_and_survive_a_reopen() {
        let dir = tempdir("round-trip");
        let (store, opened) = DiskStore::open(&dir).unwrap();
        assert!(opened.records.is_empty());
        let batch = events();
        let mut changes = Changes {
            append: vec![(1, batch.clone()), (2, batch.clone())],
            attempted: vec![2],
            ..Changes::default()
        };
        store.commit(&mut changes).unwrap();
        assert_eq!(changes.written.len(), 2);
        assert_eq!(changes.written[0].1, encode_record(&batch).len());
        let (back, damaged) = store.read(1).unwrap().unwrap();
        assert_eq!(damaged, 0);
        assert_eq!(back, batch);
        store
            .commit(&mut Changes {
                remove: vec![1],
                ..Changes::default()
            })
            .unwrap();
        drop(store);
        let (_store, opened) = DiskStore::open(&dir).unwrap();
        assert_eq!(opened.records.len(), 1);
        assert_eq!(opened.records[0].seq, 2);
        assert_eq!(opened.records[0].events, batch.len());
        assert!(opened.records[0].attempted);
    }

    #[test]
    fn a_second_opener_is_refused_while_the_first_holds_the_file() {
        let dir = tempdir("lock");
        let (_store, _) = DiskStore::open(&dir).unwrap();
        let err = DiskStore::open(&dir).unwrap_err();
        assert!(err.contains("in use by another process"), "{err}");
    }

    #[test]
    fn a_damaged_line_loses_only_itself() {
        let batch = events();
        let mut bytes = encode_record(&batch);
        let second_line = memchr::memchr(b'\n', &bytes).unwrap() + 1;
        bytes[second_line + 3] = b'#';
        let (back, damaged) = decode_record(&bytes);
        assert_eq!(damaged, 1);
        assert_eq!(back.len(), batch.len() - 1);
    }

    #[cfg(unix)]
    #[test]
    fn files_and_directories_are_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempdir("perms").join("org").join("sink");
        let (_store, _) = DiskStore::open(&dir).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(FILE_NAME)), 0o600);
    }

    #[test]
    fn a_file_that_is_not_a_buffer_is_moved_aside_and_a_new_one_started() {
        let dir = tempdir("garbage");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(FILE_NAME), vec![0x5a; 10_000]).unwrap();
        let (store, opened) = DiskStore::open(&dir).unwrap();
        let aside = opened.quarantined.expect("moved aside");
        assert!(aside.exists());
        assert!(opened.records.is_empty());
        store
            .commit(&mut Changes {
                append: vec![(1, events())],
                ..Changes::default()
            })
            .unwrap();
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "siem-disk-{name}-{}-{}",
            std::process::id(),
            uuid_like()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn uuid_like() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }
}
