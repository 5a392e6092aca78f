//! The runs of one project on disk and in memory: journal files, recovery,
//! event recording (write, then sync by policy, then apply), retention,
//! and following another process's writes in a read-only store.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock, RwLockReadGuard};

use crate::cuts::{Cut, Cuts};
use crate::error::Damage;
use crate::error::{Error, Result};
use crate::runs::journal::{
    self, Event, HEADER_LEN, JournalFile, JournalHeader, journal_path, parse_journal_name,
};
use crate::runs::table::{RunTable, Superseding};

/// Most journal files kept open at once; others are reopened on use.
const MAX_OPEN: usize = 16;

#[derive(Debug)]
pub(crate) struct Ledger {
    dir: PathBuf,
    read_only: bool,
    /// Sync every event before it is applied (`SyncPolicy::Always`);
    /// otherwise the store's sync thread or `sync()` does.
    sync_each: bool,
    /// Partition length (µs), for checking that runs are in their partition.
    partition_len: i64,
    state: RwLock<LedgerState>,
    /// Serializes syncs (see `Core::syncing` in `project/core.rs`).
    syncing: Mutex<()>,
    /// The project's cut log (writer): a journal cut back past a whole
    /// frame, which a reader may have replayed, is recorded there.
    cuts: Option<Cuts>,
}

#[derive(Debug, Default)]
pub(crate) struct LedgerState {
    pub(crate) table: RunTable,
    files: BTreeMap<(u32, u32), JournalFile>,
    /// Files set aside (unreadable header): their IDs stay taken.
    set_aside: BTreeMap<(u32, u32), PathBuf>,
    poisoned: Option<(PathBuf, String)>,
    uses: u64,
    /// Whether the journal directory is known to exist durably.
    dir_ready: bool,
    /// Partitions before this one are past retention: never read again.
    first_kept: u32,
    /// Events already applied in memory whose write failed, to write
    /// again (superseded markers: facts, valid in any order).
    deferred: Vec<(Event, u32)>,
}

/// What replaying events found: runs that supersede earlier failures,
/// and damage.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    pub(crate) superseding: Vec<Superseding>,
    pub(crate) damage: Vec<Damage>,
    /// A reader replayed every journal from the start (the writer cut one
    /// back): what was superseded before counts no more, only `superseding`.
    pub(crate) full: bool,
    /// Entries of the journal directory that runlog did not make.
    pub(crate) foreign: Vec<PathBuf>,
}

impl Ledger {
    /// Open the journal in `project_dir/runs`: recover every file (a writer
    /// cuts torn tails) and replay it.
    /// `cuts` is the project's cut log (`None` in a read-only store).
    pub(crate) fn open(
        project_dir: &Path,
        read_only: bool,
        sync_each: bool,
        partition_len: i64,
        cuts: Option<Cuts>,
    ) -> Result<(Ledger, Replay)> {
        let ledger = Ledger {
            dir: project_dir.join(journal::JOURNAL_DIR),
            read_only,
            sync_each,
            partition_len,
            state: RwLock::new(LedgerState::default()),
            syncing: Mutex::new(()),
            cuts,
        };
        let mut replay = Replay::default();
        {
            let mut st = ledger.state.write();
            ledger.load_new(&mut st, &mut replay)?;
        }
        Ok((ledger, replay))
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, LedgerState> {
        self.state.read()
    }

    /// Read files not read yet, and (read-only) what was appended to the
    /// ones already read.
    fn load_new(&self, st: &mut LedgerState, replay: &mut Replay) -> Result<()> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("read directory", &self.dir)(e)),
        };
        let mut names = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(Error::io("read directory", &self.dir))?;
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            match entry
                .file_name()
                .to_str()
                .and_then(parse_journal_name)
                .filter(|_| is_file)
            {
                Some(id) => {
                    names.insert(id, entry.path());
                }
                None => replay.foreign.push(entry.path()),
            }
        }
        for (id, path) in names {
            if st.set_aside.contains_key(&id) || id.0 < st.first_kept {
                // Set aside, or past retention (a reader: the writer
                // deletes it when its retention runs).
                continue;
            }
            if let Some(f) = st.files.get_mut(&id) {
                if self.read_only {
                    self.follow(f, id.0, &mut st.table, replay)?;
                }
                continue;
            }
            match self.recover(&path, id, &mut st.table, replay) {
                Ok(Some(f)) => {
                    st.files.insert(id, f);
                }
                Ok(None) => {}
                // Removed meanwhile (retention in the writer).
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
                // Not a journal runlog can read: reported and set aside.
                Err(e @ (Error::Corrupt { .. } | Error::UnsupportedVersion { .. })) => {
                    replay.damage.push(Damage::from_error(&path, &e));
                    st.set_aside.insert(id, path);
                }
                // Anything else (out of file handles, say) fails the open:
                // setting a readable journal aside would lose its runs.
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Open one file: check its header, scan its frames, cut a torn tail
    /// (writer), replay its events. `None`: a file a crash left without a
    /// whole header (removed by a writer).
    fn recover(
        &self,
        path: &Path,
        id: (u32, u32),
        table: &mut RunTable,
        replay: &mut Replay,
    ) -> Result<Option<JournalFile>> {
        let bytes = fs::read(path).map_err(Error::io("read", path))?;
        if bytes.len() < HEADER_LEN {
            if !self.read_only {
                fs::remove_file(path).map_err(Error::io("remove", path))?;
            }
            return Ok(None);
        }
        let header = journal::decode_header(&bytes).map_err(|e| e.into_error(path))?;
        if (header.partition, header.generation) != id {
            return Err(Error::corrupt(
                path,
                12,
                "header does not match the file name",
            ));
        }
        let scan = journal::scan(&bytes, header.salt);
        let mut f = JournalFile {
            path: path.to_path_buf(),
            header,
            file: None,
            end: scan.end,
            next_seq: scan.next_seq,
            dirty: false,
            used: 0,
        };
        if scan.torn && !self.read_only {
            // No valid frame follows the end (see `journal::scan`), but what
            // is cut may have been a whole event when a reader replayed it,
            // damaged since: recorded, so readers replay the journals again.
            let h = f.handle(false)?;
            let truncate = || {
                h.set_len(scan.end)
                    .and_then(|()| h.sync_all())
                    .map_err(Error::io("truncate", path))
            };
            match &self.cuts {
                Some(cuts) => cuts.cut(
                    Cut::Journal {
                        partition: id.0,
                        generation: id.1,
                        salt: f.header.salt,
                        offset: scan.end,
                    },
                    truncate,
                )?,
                None => truncate()?,
            }
            f.file = None;
        }
        for (offset, reason) in scan.damage {
            replay.damage.push(Damage {
                path: path.to_path_buf(),
                offset,
                reason,
            });
        }
        self.replay(path, id.0, scan.events, table, replay);
        Ok(Some(f))
    }

    fn replay(
        &self,
        path: &Path,
        partition: u32,
        events: Vec<(u64, Event)>,
        table: &mut RunTable,
        replay: &mut Replay,
    ) {
        for (offset, event) in events {
            if let Event::Start { trigger_time, .. } = &event
                && trigger_time.div_euclid(self.partition_len) != i64::from(partition)
            {
                replay.damage.push(Damage {
                    path: path.to_path_buf(),
                    offset,
                    reason: format!(
                        "event skipped: a run triggered at {} does not belong in partition {partition}",
                        crate::time::Timestamp::from_micros(*trigger_time)
                    ),
                });
                continue;
            }
            match table.check(&event) {
                Ok(()) => replay.superseding.extend(table.apply(event, partition)),
                Err(e) => replay.damage.push(Damage {
                    path: path.to_path_buf(),
                    offset,
                    reason: format!("event skipped: {e}"),
                }),
            }
        }
    }

    /// Read-only: replay what the writer appended to `f` since the last look.
    fn follow(
        &self,
        f: &mut JournalFile,
        partition: u32,
        table: &mut RunTable,
        replay: &mut Replay,
    ) -> Result<()> {
        let len = match fs::metadata(&f.path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("stat", &f.path)(e)),
        };
        if len <= f.end {
            return Ok(());
        }
        // Only the bytes appended since the last look.
        let mut tail = vec![0u8; (len - f.end) as usize];
        let read = File::open(&f.path).and_then(|file| file.read_exact_at(&mut tail, f.end));
        match read {
            Ok(()) => {}
            // Removed (retention), or cut back by the writer meanwhile.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                return Ok(());
            }
            Err(e) => return Err(Error::io("read", &f.path)(e)),
        }
        let scan = journal::scan_from(&tail, 0, f.next_seq, f.header.salt);
        let events = scan
            .events
            .into_iter()
            .map(|(offset, e)| (offset + f.end, e))
            .collect();
        // A torn tail here is most likely a write in progress: read it next time.
        f.end += scan.end;
        f.next_seq = scan.next_seq;
        self.replay(&f.path, partition, events, table, replay);
        Ok(())
    }

    /// Read-only stores: pick up what the writer did since the last look;
    /// with `again`, forget every event read and replay every journal from
    /// the start (the writer cut one back since: see
    /// [`cuts`](crate::cuts)).
    pub(crate) fn refresh(&self, first_kept: u32, again: bool) -> Result<Replay> {
        let mut replay = Replay::default();
        if self.read_only {
            let mut st = self.state.write();
            if again {
                *st = LedgerState {
                    first_kept: st.first_kept,
                    ..LedgerState::default()
                };
                replay.full = true;
            }
            st.first_kept = st.first_kept.max(first_kept);
            self.load_new(&mut st, &mut replay)?;
            st.table.drop_before(first_kept);
            st.files.retain(|id, _| id.0 >= first_kept);
        }
        Ok(replay)
    }

    /// The oldest partition with a journal file, if any.
    pub(crate) fn first_partition(&self) -> Option<u32> {
        let st = self.state.read();
        let files = st.files.keys().next().map(|id| id.0);
        let aside = st.set_aside.keys().next().map(|id| id.0);
        files.into_iter().chain(aside).min()
    }

    /// The failed sync that poisoned the journal's writer, if one did.
    pub(crate) fn poisoned(&self) -> Option<Error> {
        self.state
            .read()
            .poisoned
            .as_ref()
            .map(|(path, reason)| Error::Poisoned {
                path: path.clone(),
                reason: reason.clone(),
            })
    }

    fn check_writable(&self, st: &LedgerState) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.dir.clone(),
            });
        }
        match &st.poisoned {
            Some((path, reason)) => Err(Error::Poisoned {
                path: path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Write `event` to partition `partition` later: at the next event or
    /// sync (a superseded marker whose write failed; it is already in effect
    /// in memory).
    pub(crate) fn defer(&self, event: Event, partition: u32) {
        self.state.write().deferred.push((event, partition));
    }

    /// Try to write the deferred events; those that fail stay deferred,
    /// and the first failure is returned.
    fn write_deferred(&self, st: &mut LedgerState) -> Result<()> {
        let deferred = std::mem::take(&mut st.deferred);
        for (i, (event, partition)) in deferred.iter().enumerate() {
            if let Err(e) = self.write_event(st, event, *partition) {
                st.deferred.extend(deferred[i..].iter().cloned());
                return Err(e);
            }
        }
        Ok(())
    }

    /// Write one event at the end of its partition's journal (synced under
    /// `SyncPolicy::Always`), without applying it.
    fn write_event(&self, st: &mut LedgerState, event: &Event, partition: u32) -> Result<()> {
        let key = self.writable(st, partition)?;
        let mut buf = Vec::with_capacity(128);
        let f = st
            .files
            .get_mut(&key)
            .expect("writable returned an open file");
        journal::encode_frame(event, f.next_seq, f.header.salt, &mut buf)?;
        f.write(&buf)?;
        if self.sync_each {
            // Tests pause here, with the frame written, to look from a reader.
            let _ = crate::fs::fault("journal::written");
            let synced = f.handle(false).and_then(|h| {
                crate::fs::fault("journal::sync")
                    .and_then(|()| h.sync_data())
                    .map_err(Error::io("sync", &f.path))
            });
            if let Err(e) = synced {
                // The frame is whole, so a reader may have replayed it: the
                // cut is recorded (a short write in `f.write` cuts a torn
                // frame, which no reader replays).
                let cut = Cut::Journal {
                    partition: key.0,
                    generation: key.1,
                    salt: f.header.salt,
                    offset: f.end,
                };
                let (handle, end, path) = (f.handle(false), f.end, &f.path);
                let truncate =
                    || handle.and_then(|h| h.set_len(end).map_err(Error::io("truncate", path)));
                let _ = match &self.cuts {
                    Some(cuts) => cuts.cut(cut, truncate),
                    None => truncate(),
                };
                let path = f.path.clone();
                return Err(self.poison(st, path, e));
            }
            f.dirty = false;
        }
        f.commit(buf.len(), 1);
        Ok(())
    }

    /// Record events one after another under one lock: each is built by
    /// `make` from the current state (`None` ends the sequence), checked,
    /// written to its partition's journal (synced under
    /// `SyncPolicy::Always`), then applied. Returns what each applied
    /// event superseded, in order; stops at the first error (events
    /// before it stay recorded).
    pub(crate) fn record<T>(
        &self,
        mut make: impl FnMut(&RunTable) -> Result<Option<(Event, u32, T)>>,
        mut done: impl FnMut(&RunTable, T, Option<Superseding>),
    ) -> Result<()> {
        let mut st = self.state.write();
        self.check_writable(&st)?;
        if !st.deferred.is_empty() {
            // Best effort here: the caller's event does not depend on it
            // (a failed sync poisons, which the check below reports).
            let _ = self.write_deferred(&mut st);
            self.check_writable(&st)?;
        }
        while let Some((event, partition, extra)) = make(&st.table)? {
            st.table.check(&event)?;
            self.write_event(&mut st, &event, partition)?;
            let superseded = st.table.apply(event, partition);
            done(&st.table, extra, superseded);
        }
        Ok(())
    }

    fn poison(&self, st: &mut LedgerState, path: PathBuf, e: Error) -> Error {
        let reason = match &e {
            Error::Io { source, .. } => source.to_string(),
            other => other.to_string(),
        };
        st.poisoned = Some((path.clone(), reason.clone()));
        Error::Poisoned { path, reason }
    }

    /// The file that takes events of `partition` (the newest generation,
    /// created if needed), with an open handle; closes the least recently
    /// used handle when too many are open.
    fn writable(&self, st: &mut LedgerState, partition: u32) -> Result<(u32, u32)> {
        let range = (partition, 0)..=(partition, u32::MAX);
        let newest_file = st.files.range(range.clone()).next_back().map(|(id, _)| *id);
        let newest_aside = st.set_aside.range(range).next_back().map(|(id, _)| *id);
        let mut created = false;
        let key = match (newest_file, newest_aside) {
            (Some(f), aside) if aside.is_none_or(|a| a < f) => f,
            (f, aside) => {
                let generation = f.max(aside).map_or(Some(0), |(_, g)| g.checked_add(1));
                let generation = generation.ok_or_else(|| Error::InvalidArgument {
                    what: "run",
                    reason: format!("run partition {partition} has no journal generation left"),
                })?;
                if !st.dir_ready {
                    // Durably: the directory's own entry must survive a power loss too.
                    crate::fs::create_dir(&self.dir)?;
                    st.dir_ready = true;
                }
                let header = JournalHeader {
                    partition,
                    generation,
                    salt: crate::segment::format::new_salt(),
                };
                let f = JournalFile::create(&self.dir, header, self.cuts.as_ref())?;
                st.files.insert((partition, generation), f);
                created = true;
                (partition, generation)
            }
        };
        st.uses += 1;
        let uses = st.uses;
        let f = st.files.get_mut(&key).expect("just found or inserted");
        f.used = uses;
        if f.file.is_some() && !created {
            return Ok(key);
        }
        f.handle(false)?;
        Self::cap_handles(st, Some(key));
        Ok(key)
    }

    /// Close the least recently used handles (but `keep`'s) while more
    /// than [`MAX_OPEN`] are open.
    fn cap_handles(st: &mut LedgerState, keep: Option<(u32, u32)>) {
        let mut open: Vec<_> = st
            .files
            .iter()
            .filter(|(_, f)| f.file.is_some())
            .map(|(id, f)| (f.used, *id))
            .filter(|(_, id)| Some(*id) != keep)
            .collect();
        let limit = MAX_OPEN - usize::from(keep.is_some());
        if open.len() > limit {
            open.sort_unstable();
            for (_, id) in &open[..open.len() - limit] {
                if let Some(f) = st.files.get_mut(id) {
                    f.file = None;
                }
            }
        }
    }

    /// Delete the journal files of partitions before `first_kept`, and
    /// forget their runs. Returns how many files were deleted.
    pub(crate) fn drop_before(&self, first_kept: u32) -> Result<usize> {
        if self.read_only {
            return Ok(0);
        }
        let mut st = self.state.write();
        st.first_kept = st.first_kept.max(first_kept);
        st.table.drop_before(first_kept);
        let old: Vec<(u32, u32)> = st
            .files
            .range(..(first_kept, 0))
            .map(|(id, _)| *id)
            .collect();
        let aside: Vec<(u32, u32)> = st
            .set_aside
            .range(..(first_kept, 0))
            .map(|(id, _)| *id)
            .collect();
        let mut n = 0;
        for id in old {
            let path = journal_path(&self.dir, id.0, id.1);
            st.files.remove(&id);
            crate::fs::remove_if_exists(&path)?;
            n += 1;
        }
        // Set-aside files past retention are runlog's own files too.
        for id in aside {
            if let Some(path) = st.set_aside.remove(&id) {
                crate::fs::remove_if_exists(&path)?;
                n += 1;
            }
        }
        if n > 0 {
            crate::fs::sync_dir(&self.dir)?;
        }
        Ok(n)
    }

    pub(crate) fn is_dirty(&self) -> bool {
        let st = self.state.read();
        !st.deferred.is_empty() || st.files.values().any(|f| f.dirty)
    }

    /// `fsync` every journal file written since the last sync.
    pub(crate) fn sync(&self) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        let _one_at_a_time = self.syncing.lock();
        let mut deferred = Ok(());
        let files = {
            let mut st = self.state.write();
            self.check_writable(&st)?;
            if !st.deferred.is_empty() {
                // Still synced below whatever happens to it; its failure is
                // returned: the marker is not durable yet.
                deferred = self.write_deferred(&mut st);
            }
            let mut files = Vec::new();
            for f in st.files.values_mut().filter(|f| f.dirty) {
                files.push((f.handle(false)?, f.path.clone()));
            }
            // Counted as synced only once every handle is in hand (a failed
            // sync then poisons the writer: nothing relies on the flags).
            for f in st.files.values_mut() {
                f.dirty = false;
            }
            files
        };
        for (file, path) in files {
            if let Err(e) = crate::fs::fault("journal::sync").and_then(|()| file.sync_data()) {
                let mut st = self.state.write();
                return Err(self.poison(&mut st, path.clone(), Error::io("sync", path)(e)));
            }
        }
        let mut st = self.state.write();
        // Handles reopened to sync count against the cap too.
        Self::cap_handles(&mut st, None);
        deferred?;
        self.check_writable(&st)
    }

    /// Every journal file (for `verify`), with its valid length.
    pub(crate) fn files(&self) -> Vec<(PathBuf, Option<u64>)> {
        let st = self.state.read();
        st.files
            .values()
            .map(|f| (f.path.clone(), Some(f.end)))
            .chain(st.set_aside.values().map(|p| (p.clone(), None)))
            .collect()
    }
}

/// Check every frame of the journal file at `path` (its valid length `end`
/// when known): the damage found.
pub(crate) fn verify_file(path: &Path, end: Option<u64>) -> Vec<Damage> {
    let damage = |offset, reason: String| Damage {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => return vec![damage(0, e.to_string())],
    };
    let header = match journal::decode_header(&bytes) {
        Ok(h) => h,
        Err(e) => return vec![Damage::from_error(path, &e.into_error(path))],
    };
    let limit = end.map_or(bytes.len(), |e| (e as usize).min(bytes.len()));
    let scan = journal::scan(&bytes[..limit], header.salt);
    let mut out: Vec<Damage> = scan.damage.into_iter().map(|(o, r)| damage(o, r)).collect();
    if scan.torn {
        out.push(damage(scan.end, "torn frame at the end".into()));
    }
    out
}
