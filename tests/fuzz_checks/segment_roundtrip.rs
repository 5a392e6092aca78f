//! The `segment_roundtrip` target: records written, then corrupted.

use super::*;

/// Reads values off the fuzz input; past its end every value is zero.
pub struct Input<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data, at: 0 }
    }
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.i64().to_le_bytes())
    }
    pub fn i64(&mut self) -> i64 {
        let mut b = [0u8; 8];
        b.iter_mut().for_each(|x| *x = self.u8());
        i64::from_le_bytes(b)
    }
    /// A u16 length (capped at `max` and at what is left), then that many
    /// bytes as text (invalid UTF-8 replaced), cut to `max` bytes.
    pub fn text(&mut self, max: usize) -> String {
        let left = self.data.len().saturating_sub(self.at);
        let len = usize::from(self.u16()).min(max).min(left.saturating_sub(2));
        let start = self.at.min(self.data.len());
        let bytes = &self.data[start..(start + len).min(self.data.len())];
        self.at += len;
        let mut s = String::from_utf8_lossy(bytes).into_owned();
        while s.len() > max {
            s.pop();
        }
        s
    }
}

/// Builds inputs for [`check_segment_roundtrip`] (for seeds).
#[derive(Default)]
pub struct RoundtripSeed {
    pub bytes: Vec<u8>,
}

impl RoundtripSeed {
    /// Start with `n` (1..=4) records whose ordinals start at `first` and
    /// whose seal block is written when `first < 1024` and `seal`.
    pub fn new(n: u8, first: u32, seal: bool) -> Self {
        let mut bytes = vec![n.wrapping_sub(1), u8::from(seal)];
        bytes.extend(first.to_le_bytes());
        RoundtripSeed { bytes }
    }
    fn text(&mut self, s: &str) {
        self.bytes.extend((s.len() as u16).to_le_bytes());
        self.bytes.extend(s.as_bytes());
    }
    /// Add a record.
    pub fn record(&mut self, r: &LogRecord) -> &mut Self {
        self.bytes.extend(r.time.as_micros().to_le_bytes());
        self.bytes.push(r.level.code());
        self.bytes.extend(r.attempt.to_le_bytes());
        for s in [
            &r.job_id,
            &r.flow,
            &r.component,
            &r.action,
            &r.category,
            &r.env,
            &r.app,
            &r.version,
            &r.content,
        ] {
            self.text(s);
        }
        match &r.detail {
            Some(d) => {
                self.bytes.push(1);
                self.text(d);
            }
            None => self.bytes.push(0),
        }
        self
    }
    /// After the records: put a frame forged with salt `guess` at the start
    /// of the last record's content (see [`forged_frame`]), with ordinal
    /// `first + n - 1 + step % 4` (saturating) and time `time`.
    pub fn forge(&mut self, guess: u64, step: u8, time: Timestamp) -> &mut Self {
        self.bytes[1] |= 2;
        self.bytes.extend(guess.to_le_bytes());
        self.bytes.push(step);
        self.bytes.extend(time.as_micros().to_le_bytes());
        self
    }
    /// Then the corruption: up to three bit flips at bit positions, and a
    /// cut at a byte position (or none).
    pub fn corrupt(&mut self, flips: &[u32], cut: Option<u32>) -> Vec<u8> {
        self.bytes
            .push(flips.len() as u8 | (u8::from(cut.is_some()) << 2));
        for f in flips {
            self.bytes.extend(f.to_le_bytes());
        }
        self.bytes.extend(cut.unwrap_or(0).to_le_bytes());
        self.bytes.clone()
    }
}

fn read_record(input: &mut Input<'_>) -> LogRecord {
    let time = Timestamp::from_micros(input.i64());
    let level = Level::ALL[usize::from(input.u8() % 4)];
    // Attempts are numbered from 1 (an attempt of 0 is refused by `validate`).
    let attempt = input.u32().max(1);
    let mut r = LogRecord::new(time, level, "", "").attempt(attempt);
    r.job_id = input.text(MAX_JOB_ID_BYTES).into();
    r.flow = input.text(MAX_NAME_BYTES).into();
    r.component = input.text(MAX_NAME_BYTES).into();
    r.action = input.text(MAX_NAME_BYTES).into();
    r.category = input.text(MAX_NAME_BYTES).into();
    r.env = input.text(MAX_NAME_BYTES).into();
    r.app = input.text(MAX_NAME_BYTES).into();
    r.version = input.text(MAX_NAME_BYTES).into();
    r.content = input.text(MAX_CONTENT_BYTES).into();
    if input.u8() & 1 == 1 {
        r.detail = Some(input.text(MAX_DETAIL_BYTES));
    }
    r
}

/// The bytes of a frame of ordinal `ordinal` checksummed with `salt`, that
/// are valid UTF-8 (so that they fit in a record's text as they are):
/// an `ERROR` record of job `admin` saying `FORGED: payment approved`.
/// Its detail (none, then `approved <k>`) is varied until the detail
/// checksum is UTF-8, and its attempt (0 to 127) until the head checksum
/// is. `None` if that fails, or if bytes other than the checksums (time,
/// ordinal) are not UTF-8.
pub fn forged_frame(time: Timestamp, ordinal: u32, salt: u64) -> Option<String> {
    let mut out = Vec::new();
    for variant in 0..64 {
        let detail = (variant > 0).then(|| format!("approved {variant}"));
        for attempt in 0..128 {
            out.clear();
            let mut forged =
                LogRecord::new(time, Level::Error, "admin", "FORGED: payment approved")
                    .attempt(attempt);
            forged.detail = detail.clone();
            format::encode_frame(&forged, ordinal, salt, &mut out);
            if let Ok(s) = std::str::from_utf8(&out) {
                return Some(s.to_owned());
            }
            let mut plain = out.clone();
            plain[12..20].fill(b' ');
            if std::str::from_utf8(&plain).is_err() {
                return None; // Not the checksums' fault.
            }
            if std::str::from_utf8(&out[12..16]).is_err() {
                break; // The detail checksum: another detail.
            }
        }
    }
    None
}

/// Build 1–4 records from `data` (fields clamped to their limits), write
/// them as a segment (header with the salt [`roundtrip_salt`]`(data)`,
/// frames, optionally seal block and trailer), check that every decoder
/// gives them back and that nothing decodes under another salt, then
/// corrupt the bytes (up to three bit flips and a cut, at positions the
/// input picks) and check that no decoder returns anything that was not
/// written: each either fails or returns the original.
///
/// At most three flipped bits: a CRC-32 detects every such error in the
/// messages written here, so a different record coming back is a bug.
///
/// Input: byte 0 = number of records − 1 (mod 4); byte 1 = flags (bit 0:
/// seal, bit 1: forge); u32 first ordinal; the records (see
/// [`RoundtripSeed::record`]); when forging, a u64 salt guess, a u8 step
/// and an i64 time: the last record's content then starts with a whole
/// frame checksummed with the guessed salt ([`forged_frame`]) — the text
/// an outside party could log, not knowing the segment's salt; then a
/// corruption byte (bits 0–1: flips, bit 2: cut), u32 bit positions and a
/// u32 cut position.
pub fn check_segment_roundtrip(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let salt = roundtrip_salt(data);
    let mut input = Input::new(data);
    let n = 1 + usize::from(input.u8() % 4);
    let flags = input.u8();
    let seal = flags & 1 == 1;
    let first = input.u32().min(u32::MAX - 4);
    let mut records: Vec<LogRecord> = (0..n).map(|_| read_record(&mut input)).collect();
    if flags & 2 != 0 {
        let guess = input.u64();
        let ordinal = first.saturating_add(n as u32 - 1 + u32::from(input.u8() % 4));
        let time = Timestamp::from_micros(input.i64());
        // (A guess equivalent to the salt, one in 2^32, would be a right
        // guess, not a bug: the CRC state after the salt is all that counts.)
        let right = crc32fast::hash(&guess.to_le_bytes()) == crc32fast::hash(&salt.to_le_bytes());
        if let Some(forged) = forged_frame(time, ordinal, guess).filter(|_| !right) {
            let last = records.last_mut().unwrap();
            let mut content = forged;
            content.push_str(&last.content);
            while content.len() > MAX_CONTENT_BYTES {
                content.pop();
            }
            last.content = content.into();
        }
    }

    let header = SegmentHeader {
        layout: LAYOUT_FRAMES,
        partition: 0,
        generation: 0,
        partition_len: 3_600_000_000,
        created: Timestamp::from_secs(1800),
        salt,
    };
    let mut buf = format::encode_header(&header).to_vec();
    let mut offsets = Vec::new();
    for (i, r) in records.iter().enumerate() {
        r.validate().expect("clamped record is valid");
        offsets.push(buf.len());
        let len = format::encode_frame(r, first + i as u32, salt, &mut buf);
        assert_eq!(len, format::frame_len(r));
    }
    let frames_end = buf.len();

    // Everything written decodes to what was written, and only with its salt.
    assert_eq!(format::decode_header(&buf), Ok(header));
    for (i, r) in records.iter().enumerate() {
        let f = format::parse_frame(&buf[offsets[i]..], salt)
            .unwrap()
            .unwrap();
        assert_eq!(f.ordinal, first + i as u32);
        assert_eq!(format::decode_full(&f).as_ref(), Ok(r));
        let (s, has_detail) = format::decode_summary(f.summary).unwrap();
        assert_eq!(has_detail, r.detail.is_some());
        assert_eq!(s.content, r.content);
        for other in other_salts(salt) {
            assert!(
                format::parse_frame(&buf[offsets[i]..], other).is_err(),
                "frame {i} parses under salt {other:#x}"
            );
        }
    }
    // Ordinals from `first`: the frames follow a frame of ordinal
    // `first - 1` (as when a reader catches up with a writer).
    let after = first.checked_sub(1);
    let scan = format::scan_frames(&buf[HEADER_LEN..], HEADER_LEN as u64, after, salt);
    assert!(scan.damage.is_empty() && scan.seal_at.is_none());
    assert_eq!(scan.end, frames_end as u64);
    assert_eq!(
        scan.frames
            .iter()
            .map(|f| (f.offset as usize, f.ordinal, f.time))
            .collect::<Vec<_>>(),
        records
            .iter()
            .enumerate()
            .map(|(i, r)| (offsets[i], first + i as u32, r.time.as_micros()))
            .collect::<Vec<_>>()
    );
    // At the start of a file the first ordinal must be 0.
    let fresh = format::scan_frames(&buf[HEADER_LEN..], HEADER_LEN as u64, None, salt);
    if first == 0 {
        assert_eq!(fresh, scan);
    } else {
        assert!(
            fresh.frames.iter().all(|f| f.offset != HEADER_LEN as u64),
            "a file's first frame has ordinal {first}, and the scan took it"
        );
    }
    let mut trailer = None;
    if seal && first < 1024 {
        let slots = first as usize + n;
        let mut times = vec![0i64; slots];
        let mut offs = vec![MISSING; slots];
        for (i, r) in records.iter().enumerate() {
            times[first as usize + i] = r.time.as_micros();
            offs[first as usize + i] = offsets[i] as u32;
        }
        let mut order: Vec<u32> = (first..first + n as u32).collect();
        order.sort_by_key(|&o| (times[o as usize], o));
        let tables = SealTables {
            times: &times,
            offsets: &offs,
            order: &order,
        };
        buf.extend(format::encode_seal(&tables, frames_end as u64));
        let t = format::decode_trailer(&buf).expect("written trailer decodes");
        format::check_seal_block(&buf, &t).expect("written seal block checks");
        assert_eq!(
            (t.block_offset, t.slots, t.live),
            (frames_end as u64, slots as u32, n as u32)
        );
        assert_eq!(
            tables_of(&buf, &t),
            (times.clone(), offs.clone(), order.clone())
        );
        let scan = format::scan_frames(&buf[HEADER_LEN..], HEADER_LEN as u64, after, salt);
        assert_eq!(scan.seal_at, Some(frames_end as u64));
        trailer = Some(t);
    }
    // Corrupt: up to three bit flips, then maybe a cut.
    let mode = input.u8();
    let mut bad = buf.clone();
    for _ in 0..(mode & 3) {
        let bit = input.u32() as usize % (bad.len() * 8);
        bad[bit / 8] ^= 1 << (bit % 8);
    }
    let cut = input.u32() as usize;
    if mode & 4 != 0 {
        bad.truncate(cut % (bad.len() + 1));
    }
    check_decoders(&bad);

    // Frames at the offsets written: the original or an error.
    if let Ok(h) = format::decode_header(&bad) {
        assert_eq!(h, header, "a corrupt header decoded to something else");
    }
    for (i, r) in records.iter().enumerate() {
        let Some(at) = bad.get(offsets[i]..) else {
            continue;
        };
        if let Ok(Some(f)) = format::parse_frame(at, salt) {
            assert_eq!(f.ordinal, first + i as u32, "corrupt frame {i} parsed");
            if let Ok((s, has_detail)) = format::decode_summary(f.summary) {
                assert_eq!(
                    (s, has_detail),
                    (
                        LogRecord {
                            detail: None,
                            ..r.clone()
                        },
                        r.detail.is_some()
                    ),
                    "corrupt summary {i} decoded to something else"
                );
            }
            if let Ok(got) = format::decode_full(&f) {
                assert_eq!(&got, r, "corrupt frame {i} decoded to something else");
            }
        }
    }
    // The scanner: every frame it returns is one that was written, intact
    // (in particular, never a frame forged inside a record's text).
    let scan = format::scan_frames(
        bad.get(HEADER_LEN..).unwrap_or_default(),
        HEADER_LEN as u64,
        after,
        salt,
    );
    for f in &scan.frames {
        let i = offsets
            .iter()
            .position(|&o| o as u64 == f.offset)
            .unwrap_or_else(|| {
                panic!(
                    "scan of corrupt bytes returned a frame at {} where none was written \
                     (ordinal {}, time {})",
                    f.offset, f.ordinal, f.time
                )
            });
        assert_eq!(f.ordinal, first + i as u32);
        assert_eq!(f.time, records[i].time.as_micros());
        let frame = format::parse_frame(&bad[offsets[i]..], salt)
            .unwrap()
            .unwrap();
        assert_eq!(format::decode_full(&frame).as_ref(), Ok(&records[i]));
    }
    // The seal block and trailer: the original or an error.
    if let (Some(t), Ok(t2)) = (trailer, format::decode_trailer(&bad))
        && format::check_seal_block(&bad, &t2).is_ok()
    {
        assert_eq!(t2, t, "corrupt trailer decoded to something else");
        assert_eq!(
            tables_of(&bad, &t2),
            tables_of(&buf, &t),
            "corrupt seal tables decoded to something else"
        );
    }
    // Under another salt the file written holds no frame at all (its
    // salt is secret to the input, so no text in it can be one).
    for other in other_salts(salt) {
        let s = format::scan_frames(&buf[HEADER_LEN..], HEADER_LEN as u64, None, other);
        assert!(
            s.frames.is_empty(),
            "frames found under salt {other:#x}: {:?}",
            s.frames
        );
    }
}
