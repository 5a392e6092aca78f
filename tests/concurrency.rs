//! Several writer threads and reader threads on one project: every
//! acknowledged record is readable exactly once, and readers always see a
//! strictly ordered, duplicate-free newest-first sequence.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use common::*;
use runlog::{LogRecord, RecordId, TimeRange, Timestamp};

#[test]
fn writers_and_readers_share_a_project() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let done = Arc::new(AtomicBool::new(false));

    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let p = p.clone();
            thread::spawn(move || {
                let mut acked: Vec<(RecordId, LogRecord)> = Vec::new();
                for round in 0..60u64 {
                    let n = 1 + (round * 7 + w) % 40;
                    let batch: Vec<_> = (0..n)
                        .map(|k| {
                            let i = w * 1_000_000 + round * 100 + k;
                            // Spread over two hours so writes hit two partitions.
                            rec(T0.saturating_sub(secs((i * 37) % 7200)), i)
                        })
                        .collect();
                    let ids = if n == 1 {
                        vec![p.append(&batch[0]).unwrap()]
                    } else {
                        p.append_batch(&batch).unwrap()
                    };
                    acked.extend(ids.into_iter().zip(batch));
                }
                acked
            })
        })
        .collect();

    let readers: Vec<_> = (0..2)
        .map(|_| {
            let p = p.clone();
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let mut passes = 0;
                while !done.load(Ordering::Acquire) || passes < 2 {
                    let mut prev: Option<(Timestamp, RecordId)> = None;
                    for s in p.scan(TimeRange::all()) {
                        let s = s.unwrap();
                        let key = (s.record.time, s.id);
                        assert!(
                            prev.is_none_or(|p| key < p),
                            "out of order or repeated: {key:?} after {prev:?}"
                        );
                        prev = Some(key);
                    }
                    passes += 1;
                }
                passes
            })
        })
        .collect();

    let mut acked = HashMap::new();
    for w in writers {
        for (id, r) in w.join().unwrap() {
            assert!(acked.insert(id, r).is_none(), "ID {id} handed out twice");
        }
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() >= 2);
    }

    let got = all(&p);
    assert_eq!(got.len(), acked.len());
    for s in &got {
        let want = &acked[&s.id];
        assert_eq!(
            s.record,
            LogRecord {
                detail: None,
                ..want.clone()
            }
        );
    }
    // And after a reopen.
    drop((p, store));
    let store = open(dir.path(), &clock);
    assert_eq!(all(&store.project("p").unwrap()).len(), acked.len());
}
