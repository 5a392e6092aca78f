//! Pages whose records borrow one buffer: [`PageView`] and [`RecordView`].
//!
//! A [`Page`](crate::Page) owns a [`StoredRecord`] per row, which costs an
//! allocation for each content string and one for the page's vector of
//! ~300-byte records. A `PageView` copies every string of every row into
//! one `String` as the rows are read (each string checked once, as a
//! page's are) and hands out [`RecordView`]s borrowing it: the cheaper way
//! to render a page, or to stream one out, when the records need not
//! outlive the page.

use crate::query::Cursor;
use crate::query::filter::Filter;
use crate::record::{Field, Level, LogRecord, RecordId, StoredRecord};
use crate::segment::format::{SUMMARY_FIELDS, SummaryRaw};
use crate::time::{ResolvedRange, Timestamp};

/// One record of a [`PageView`], its strings borrowed from the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Where the record lives; pass it to [`Project::get`](crate::Project::get) for the details.
    pub id: RecordId,
    /// When the record was written.
    pub time: Timestamp,
    /// Severity.
    pub level: Level,
    /// The attempt of the job that wrote it.
    pub attempt: u32,
    /// The execution's job ID.
    pub job_id: &'a str,
    /// The flow.
    pub flow: &'a str,
    /// The component.
    pub component: &'a str,
    /// The action.
    pub action: &'a str,
    /// The category.
    pub category: &'a str,
    /// The environment.
    pub env: &'a str,
    /// The app.
    pub app: &'a str,
    /// The app version.
    pub version: &'a str,
    /// The message.
    pub content: &'a str,
    /// Whether the stored record has a `detail` (read it with [`Project::get`](crate::Project::get)).
    pub has_detail: bool,
    /// Whether a later successful retry superseded the attempt that wrote
    /// it (see [`StoredRecord::superseded`]).
    pub superseded: bool,
}

impl RecordView<'_> {
    /// The value of `field` (`""` for [`Field::Detail`], which pages do not read).
    pub fn field(&self, field: Field) -> &str {
        match field {
            Field::JobId => self.job_id,
            Field::Flow => self.flow,
            Field::Component => self.component,
            Field::Action => self.action,
            Field::Category => self.category,
            Field::Env => self.env,
            Field::App => self.app,
            Field::Version => self.version,
            Field::Content => self.content,
            Field::Detail => "",
        }
    }

    /// The record, owned, as [`Project::query`](crate::Project::query) returns it.
    pub fn to_stored(&self) -> StoredRecord {
        StoredRecord {
            id: self.id,
            record: LogRecord {
                time: self.time,
                level: self.level,
                attempt: self.attempt,
                job_id: self.job_id.into(),
                flow: self.flow.into(),
                component: self.component.into(),
                action: self.action.into(),
                category: self.category.into(),
                env: self.env.into(),
                app: self.app.into(),
                version: self.version.into(),
                content: self.content.into(),
                detail: None,
            },
            has_detail: self.has_detail,
            superseded: self.superseded,
        }
    }
}

/// One row: the record's scalars and where its strings are in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    id: RecordId,
    time: Timestamp,
    attempt: u32,
    level: Level,
    has_detail: bool,
    superseded: bool,
    /// Where the row's first string starts in the text.
    start: usize,
    /// The end of each string of the summary (in the order of
    /// `SUMMARY_FIELDS`), from `start`;
    /// each string starts two bytes after the previous end (its stored
    /// length, when ASCII, or two spaces: never shown).
    ends: [u16; 9],
}

/// A page of results whose records borrow one buffer: what
/// [`Project::query_view`](crate::Project::query_view) and
/// [`Project::job_logs_view`](crate::Project::job_logs_view) return.
///
/// ```
/// # use runlog::{LogRecord, Level, Query, Store, Timestamp, ManualClock, StoreOptions};
/// # let dir = tempfile::tempdir()?;
/// # let clock = ManualClock::new(Timestamp::from_secs(1_764_000_000));
/// # let store = StoreOptions::new().clock(clock).open(dir.path())?;
/// let logs = store.project("billing")?;
/// logs.append(&LogRecord::new(Timestamp::from_secs(1_764_000_000), Level::Error, "job-1", "timeout"))?;
/// let page = logs.query_view(&Query::new().level(Level::Error))?;
/// for r in page.iter() {
///     println!("{} {} {}", r.time, r.job_id, r.content);
/// }
/// assert_eq!(page.get(0).unwrap().content, "timeout");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct PageView {
    text: String,
    rows: Vec<Row>,
    /// Where to continue, if more records may follow (as [`Page::next`](crate::Page::next)).
    pub next: Option<Cursor>,
    /// The range searched (`None` for a job's logs, which have no range).
    pub range: Option<ResolvedRange>,
}

impl PageView {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the page holds no record.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Record `i`, if the page has that many.
    pub fn get(&self, i: usize) -> Option<RecordView<'_>> {
        self.rows.get(i).map(|row| view_of(&self.text, row))
    }

    /// The records, in the page's order: newest first for
    /// [`Project::query_view`](crate::Project::query_view), oldest first
    /// for [`Project::job_logs_view`](crate::Project::job_logs_view).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = RecordView<'_>> + '_ {
        self.rows.iter().map(|row| view_of(&self.text, row))
    }

    /// The records, owned.
    pub fn to_records(&self) -> Vec<StoredRecord> {
        self.iter().map(|r| r.to_stored()).collect()
    }
}

/// Pages are equal when they hold the same records, cursor and range.
impl PartialEq for PageView {
    fn eq(&self, other: &Self) -> bool {
        self.next == other.next && self.range == other.range && self.iter().eq(other.iter())
    }
}

impl Eq for PageView {}

impl std::fmt::Debug for PageView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageView")
            .field("records", &self.iter().collect::<Vec<_>>())
            .field("next", &self.next)
            .field("range", &self.range)
            .finish()
    }
}

// Row offsets within a record's strings are `u16`.
const _: () = assert!(crate::segment::format::MAX_SUMMARY_LEN <= u16::MAX as usize);

/// Record `row` of a page whose strings are `text`.
fn view_of<'a>(text: &'a str, row: &Row) -> RecordView<'a> {
    let content = text
        .get(row.start + usize::from(row.ends[7]) + 2..row.start + usize::from(row.ends[8]))
        .unwrap_or("");
    view_parts(text, content, row)
}

/// Record `row` with its first eight strings in `text` (from `row.start`)
/// and its content given apart.
fn view_parts<'a>(text: &'a str, content: &'a str, row: &Row) -> RecordView<'a> {
    let mut at = row.start;
    // Each string follows two separator bytes, and was checked to start
    // and end on character boundaries. (A loop: `array::map` here cost 4 %
    // of a page.)
    let mut s = [""; 8];
    for (piece, &end) in s.iter_mut().zip(&row.ends) {
        let end = row.start + usize::from(end);
        *piece = text.get(at + 2..end).unwrap_or("");
        at = end;
    }
    RecordView {
        id: row.id,
        time: row.time,
        level: row.level,
        attempt: row.attempt,
        job_id: s[0],
        flow: s[1],
        component: s[2],
        action: s[3],
        category: s[4],
        env: s[5],
        app: s[6],
        version: s[7],
        content,
        has_detail: row.has_detail,
        superseded: row.superseded,
    }
}

/// The row of `s` (starting at 0), its strings' ends computed from their lengths.
fn row_of(id: RecordId, s: &SummaryRaw<'_>, superseded: bool) -> Row {
    let mut ends = [0u16; 9];
    let mut at = 0usize;
    for (end, piece) in ends.iter_mut().zip(s.strings) {
        at += 2 + piece.len();
        // A summary is under 64 KiB (MAX_SUMMARY_LEN).
        *end = at as u16;
    }
    Row {
        id,
        time: s.time,
        attempt: s.attempt,
        level: s.level,
        has_detail: s.has_detail,
        superseded,
        start: 0,
        ends,
    }
}

/// What [`in_place`] found.
enum InPlace<'a> {
    /// The strings are UTF-8: the section up to the content's length
    /// (the first eight strings, each after its two length bytes) and the
    /// content.
    Text { head: &'a str, content: &'a str },
    /// A string is not UTF-8.
    NotText,
    /// One of the first eight strings is 128 bytes or longer (its
    /// length's low byte may not be ASCII): check a copy ([`check`]).
    Unknown,
}

/// Check `s`'s strings where they lie, without copying them. The first
/// eight strings are short: when each is under 128 bytes, both bytes of
/// each one's length are ASCII, so the section up to the content's length
/// is UTF-8 exactly when those strings are, and each of them then starts
/// and ends on a character boundary (next to an ASCII byte). The content
/// is checked by itself. Two checks, no copy: the usual case.
fn in_place<'a>(s: &SummaryRaw<'a>) -> InPlace<'a> {
    let [head_strings @ .., content] = &s.strings;
    if head_strings.iter().any(|p| p.len() >= 0x80) {
        return InPlace::Unknown;
    }
    let Some(head) = s
        .section
        .len()
        .checked_sub(2 + content.len())
        .and_then(|n| s.section.get(..n))
    else {
        return InPlace::Unknown;
    };
    match (std::str::from_utf8(head), std::str::from_utf8(content)) {
        (Ok(head), Ok(content)) => InPlace::Text { head, content },
        _ => InPlace::NotText,
    }
}

/// Copy `s`'s string section into `scratch`, each 2-byte length turned
/// into two spaces so the whole is text (never shown: a row's strings
/// start after them), and check it with one UTF-8 check; each string must
/// then also start and end on a character boundary for it to be UTF-8 by
/// itself. Returns the checked text and the row (starting at 0 in it).
/// For the summaries [`in_place`] cannot check.
fn check<'s>(
    scratch: &'s mut Vec<u8>,
    id: RecordId,
    s: &SummaryRaw<'_>,
    superseded: bool,
) -> Option<(&'s str, Row)> {
    debug_assert_eq!(
        s.section.len(),
        s.strings.iter().map(|p| 2 + p.len()).sum::<usize>()
    );
    let row = row_of(id, s, superseded);
    scratch.clear();
    scratch.extend_from_slice(s.section);
    let mut from = 0usize;
    for &end in &row.ends {
        scratch[from] = b' ';
        scratch[from + 1] = b' ';
        from = usize::from(end);
    }
    let all = std::str::from_utf8(scratch).ok()?;
    let mut from = 0usize;
    for &end in &row.ends {
        if !all.is_char_boundary(from + 2) || !all.is_char_boundary(usize::from(end)) {
            return None;
        }
        from = usize::from(end);
    }
    Some((all, row))
}

/// Builds a [`PageView`]: each record's strings are checked to be UTF-8
/// as it is added, then appended to the page's text. The check takes two
/// `from_utf8` calls where the strings lie ([`in_place`]: the first eight
/// strings with their lengths, then the content), or, for a record with
/// a string of 128 bytes or more among the first eight, one call over a
/// copy whose lengths are spaces plus a boundary test at each string
/// ([`check`]); either way each string is UTF-8 by itself.
#[derive(Debug, Default)]
pub(crate) struct ViewBuilder {
    text: String,
    rows: Vec<Row>,
    /// A record's string section, being checked.
    scratch: Vec<u8>,
}

impl ViewBuilder {
    /// A builder with room for about `records` records.
    pub(crate) fn with_capacity(records: usize) -> Self {
        ViewBuilder {
            // About what the summaries of a typical log line take.
            text: String::with_capacity(records * 320),
            rows: Vec::with_capacity(records),
            scratch: Vec::new(),
        }
    }

    /// Add a record read in place; `false` (and nothing added) if a
    /// string is not UTF-8.
    pub(crate) fn push(&mut self, id: RecordId, s: &SummaryRaw<'_>, superseded: bool) -> bool {
        let start = self.text.len();
        match in_place(s) {
            InPlace::Text { head, content } => {
                self.text.push_str(head);
                self.text.push_str("  ");
                self.text.push_str(content);
                let row = row_of(id, s, superseded);
                self.rows.push(Row { start, ..row });
                true
            }
            InPlace::NotText => false,
            InPlace::Unknown => {
                let Some((all, row)) = check(&mut self.scratch, id, s, superseded) else {
                    return false;
                };
                self.text.push_str(all);
                self.rows.push(Row { start, ..row });
                true
            }
        }
    }

    /// Check a record read in place as [`push`](Self::push) does and
    /// return it, borrowing either the record's bytes or this builder's
    /// scratch space (nothing is added): for a caller that copies the
    /// record out at once.
    pub(crate) fn read<'s, 'a: 's>(
        &'s mut self,
        id: RecordId,
        s: &SummaryRaw<'a>,
        superseded: bool,
    ) -> Option<RecordView<'s>> {
        match in_place(s) {
            InPlace::Text { head, content } => {
                Some(view_parts(head, content, &row_of(id, s, superseded)))
            }
            InPlace::NotText => None,
            InPlace::Unknown => {
                let (all, row) = check(&mut self.scratch, id, s, superseded)?;
                Some(view_of(all, &row))
            }
        }
    }

    /// Whether the last record added matches `filter`, reading only the
    /// strings it filters on.
    pub(crate) fn last_matches(&self, filter: &Filter) -> bool {
        let Some(row) = self.rows.last() else {
            return false;
        };
        filter.confirm_with(row.level, |f| {
            let Some(k) = SUMMARY_FIELDS.iter().position(|g| *g == f) else {
                return "";
            };
            let from = if k == 0 { 0 } else { row.ends[k - 1] };
            let (from, end) = (
                row.start + usize::from(from),
                row.start + usize::from(row.ends[k]),
            );
            self.text.get(from + 2..end).unwrap_or("")
        })
    }

    /// Remove the last record.
    pub(crate) fn pop(&mut self) {
        if let Some(row) = self.rows.pop() {
            self.text.truncate(row.start);
        }
    }

    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The last record's key, for a cursor.
    pub(crate) fn last_key(&self) -> Option<(Timestamp, RecordId)> {
        self.rows.last().map(|r| (r.time, r.id))
    }

    /// Order the rows oldest first (ties by ID), knowing that they were
    /// collected segment by segment, newest first.
    pub(crate) fn oldest_first(&mut self) {
        self.rows.reverse();
        if !self.rows.is_sorted_by_key(|r| (r.time, r.id)) {
            // Late records in another generation of a partition.
            self.rows.sort_unstable_by_key(|r| (r.time, r.id));
        }
    }

    /// Mark rows of attempts before `ok` superseded; drop them unless `keep`.
    pub(crate) fn supersede_before(&mut self, ok: u32, keep: bool) {
        for r in &mut self.rows {
            r.superseded = r.attempt < ok;
        }
        if !keep {
            self.rows.retain(|r| !r.superseded);
        }
    }

    /// The page.
    pub(crate) fn finish(self, next: Option<Cursor>, range: Option<ResolvedRange>) -> PageView {
        PageView {
            text: self.text,
            rows: self.rows,
            next,
            range,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SegmentId;
    use crate::segment::format::{self, decode_summary_raw, decode_summary_ref};
    use proptest::prelude::*;

    fn id(ordinal: u32) -> RecordId {
        RecordId {
            segment: SegmentId {
                partition: 1,
                generation: 0,
            },
            ordinal,
        }
    }

    /// The summary of a record with these strings, as stored.
    fn summary(strings: &[String; 9]) -> Vec<u8> {
        let mut r = LogRecord::new(
            Timestamp::from_secs(1_764_000_000),
            Level::Warn,
            strings[0].as_str(),
            strings[8].as_str(),
        )
        .flow(strings[1].as_str())
        .component(strings[2].as_str())
        .action(strings[3].as_str())
        .category(strings[4].as_str())
        .env(strings[5].as_str())
        .app(strings[6].as_str())
        .version(strings[7].as_str());
        r.attempt = 3;
        let mut buf = Vec::new();
        format::encode_frame(&r, 0, 7, &mut buf);
        let frame = format::parse_frame(&buf, 7).unwrap().unwrap();
        frame.summary.to_vec()
    }

    /// Short strings, or (a third of them) 50 to 320 bytes long, whose
    /// length has a byte that is not ASCII when over 127: the builder
    /// checks those in a copy.
    fn text() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec!["a", "Z", "0", " ", "é", "ß", "日本", "🦀", "\u{0}"]);
        prop_oneof![
            2 => prop::collection::vec(piece.clone(), 0..12),
            1 => prop::collection::vec(piece, 50..80),
        ]
        .prop_map(|v| v.concat())
    }

    /// Nine strings within the fields' limits (a job ID takes 128 bytes).
    fn strings() -> impl Strategy<Value = [String; 9]> {
        prop::array::uniform9(text()).prop_map(|mut a| {
            for (s, f) in a.iter_mut().zip(format::SUMMARY_FIELDS) {
                let mut cut = s.len().min(f.max_bytes());
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
            }
            a
        })
    }

    proptest! {
        /// A builder accepts a summary exactly when the per-string decoder
        /// does, and then shows the same strings; bytes overwritten inside
        /// the strings (breaking UTF-8, or a boundary) are refused whole.
        #[test]
        fn the_builder_checks_utf8_as_the_decoder_does(
            strings in strings(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        ) {
            let mut s = summary(&strings);
            let raw = decode_summary_raw(&s).unwrap();
            // Offsets of the strings' bytes in `s` (never the lengths).
            let mut at: Vec<usize> = Vec::new();
            for piece in raw.strings {
                let start = piece.as_ptr() as usize - s.as_ptr() as usize;
                at.extend(start..start + piece.len());
            }
            if !at.is_empty() {
                for (i, b) in &flips {
                    let k = at[i.index(at.len())];
                    s[k] = *b;
                }
            }
            let mut b = ViewBuilder::with_capacity(2);
            // A record before and after, to check offsets are per row.
            let good = summary(&std::array::from_fn(|i| format!("row{i}")));
            prop_assert!(b.push(id(0), &decode_summary_raw(&good).unwrap(), false));
            let accepted = b.push(id(1), &decode_summary_raw(&s).unwrap(), true);
            let reference = decode_summary_ref(&s);
            prop_assert_eq!(accepted, reference.is_ok());
            // Reading it (for an owned page) checks the same.
            let mut scratch = ViewBuilder::default();
            let read = scratch.read(id(1), &decode_summary_raw(&s).unwrap(), false);
            prop_assert_eq!(
                read.map(|v| v.to_stored().record),
                reference.as_ref().ok().map(|r| r.to_record())
            );
            prop_assert!(b.push(id(2), &decode_summary_raw(&good).unwrap(), false));
            let page = b.finish(None, None);
            prop_assert_eq!(page.len(), if accepted { 3 } else { 2 });
            if let Ok(r) = reference {
                let v = page.get(1).unwrap();
                let shown: Vec<&str> = format::SUMMARY_FIELDS.iter().map(|f| v.field(*f)).collect();
                prop_assert_eq!(shown, r.strings.to_vec());
                prop_assert_eq!((v.id, v.time, v.level, v.attempt), (id(1), r.time, r.level, 3));
                prop_assert!(v.superseded);
                prop_assert_eq!(v.to_stored().record, r.to_record());
            }
            let last = page.get(page.len() - 1).unwrap();
            prop_assert_eq!(last.flow, "row1");
            prop_assert_eq!(page.get(0).unwrap().content, "row8");
        }
    }

    #[test]
    fn pop_and_order() {
        let mut b = ViewBuilder::with_capacity(0);
        for (ord, name) in ["c", "a", "b"].iter().enumerate() {
            let mut s: [String; 9] = Default::default();
            s[8] = (*name).to_string();
            assert!(b.push(
                id(ord as u32),
                &decode_summary_raw(&summary(&s)).unwrap(),
                false
            ));
        }
        b.pop();
        assert_eq!(b.len(), 2);
        b.oldest_first();
        // Same time: by ID.
        let page = b.finish(None, None);
        let contents: Vec<&str> = page.iter().map(|r| r.content).collect();
        assert_eq!(contents, ["c", "a"]);
        assert!(PageView::default().is_empty());
    }
}
