//! How a ledger stores a record: as a *packed* blob, the record's JSON compressed with zstd against
//! a fixed dictionary of typical records. SQLite keeps it in `record_json` since schema version 4
//! (rows written earlier hold the JSON as text, packed when the ledger is first opened at version
//! 4; both are read); PostgreSQL in `record_packed` since version 5 (rows written earlier hold
//! `jsonb` in `record_json`, packed when the database is first opened at version 5).
//!
//! A record is mostly texts every run repeats (field names, the sources and notes of the bundled
//! factors), which compression against the dictionary turns into short references: a record of
//! 3–4 KB packs to a few hundred bytes. The first byte of a blob names its dictionary (byte 1:
//! [`DICTIONARY_V1`]); a dictionary, once released, never changes, so every blob stays readable.
//! The typed report columns beside it are what SQL and dashboards query.
//!
//! This module only encodes and decodes bytes.

use std::cell::RefCell;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, Value, ValueRef};

/// Version 1 of the dictionary: records as ecotrace wrote them when it was made (a measured run,
/// a CodeCarbon import), one JSON object a line. Never edit it: blobs packed with it must stay
/// readable; a better dictionary is a new file with the next byte.
const DICTIONARY_V1: &[u8] = include_bytes!("record-dictionary-1.json");

/// The first byte of a blob packed with [`DICTIONARY_V1`].
const V1: u8 = 1;

/// zstd level: fast enough for a million-run import.
const LEVEL: i32 = 3;

/// log2 of the entries of the compressor's two match tables.
const TABLE_LOG: u32 = 12;

thread_local! {
    /// One compressor and decompressor per thread, the dictionary loaded once.
    static PACKER: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static UNPACKER: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// `json` packed.
pub(crate) fn pack(json: &str) -> std::io::Result<Vec<u8>> {
    PACKER.with(|p| {
        let mut p = p.borrow_mut();
        if p.is_none() {
            let mut c = zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARY_V1)?;
            // Match tables sized for records (a few kB) and the 7 kB dictionary, not for the
            // level's large inputs: 2^12 entries each instead of 2^15-2^17, about 0.2 MB less
            // memory per writer (a running tracker's resident size, docs/benchmarks.md), the
            // same format and, on records, the same ratio.
            c.set_parameter(zstd::stream::raw::CParameter::HashLog(TABLE_LOG))?;
            c.set_parameter(zstd::stream::raw::CParameter::ChainLog(TABLE_LOG))?;
            *p = Some(c);
        }
        let frame = p.as_mut().expect("made above").compress(json.as_bytes())?;
        let mut out = Vec::with_capacity(frame.len() + 1);
        out.push(V1);
        out.extend_from_slice(&frame);
        Ok(out)
    })
}

/// A packed blob back to its JSON.
pub(crate) fn unpack(blob: &[u8]) -> Result<String, String> {
    match blob.split_first() {
        Some((&V1, frame)) => UNPACKER.with(|u| {
            let mut u = u.borrow_mut();
            if u.is_none() {
                *u = Some(
                    zstd::bulk::Decompressor::with_dictionary(DICTIONARY_V1)
                        .map_err(|e| e.to_string())?,
                );
            }
            let size = zstd::zstd_safe::get_frame_content_size(frame)
                .ok()
                .flatten()
                .ok_or("the packed record does not say its size")?;
            let bytes = u
                .as_mut()
                .expect("made above")
                .decompress(frame, usize::try_from(size).unwrap_or(usize::MAX))
                .map_err(|e| format!("the packed record is damaged: {e}"))?;
            String::from_utf8(bytes).map_err(|e| e.to_string())
        }),
        Some((v, _)) => Err(format!(
            "the record is packed with dictionary {v}, which this ecotrace does not know (written by a newer one?)"
        )),
        None => Err("the stored record is empty".into()),
    }
}

/// The value to store for a record's `json`: packed, or the text itself should packing fail.
pub(crate) fn stored_value(json: &str) -> Value {
    match pack(json) {
        Ok(b) => Value::Blob(b),
        Err(_) => Value::Text(json.to_string()),
    }
}

/// A record's JSON as read from `record_json`: text as it is, a packed blob unpacked.
pub(crate) struct StoredJson(pub String);

impl FromSql for StoredJson {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        match v {
            ValueRef::Text(t) => std::str::from_utf8(t)
                .map(|s| StoredJson(s.to_string()))
                .map_err(|e| FromSqlError::Other(Box::new(e))),
            ValueRef::Blob(b) => unpack(b)
                .map(StoredJson)
                .map_err(|e| FromSqlError::Other(e.into())),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_pack_small_and_come_back_whole() {
        for line in std::str::from_utf8(DICTIONARY_V1).unwrap().lines() {
            // Another record like these: other id, numbers and notes.
            let json = line
                .replace("\"id\":\"", "\"id\":\"x9")
                .replace("0.0", "0.123456");
            let blob = pack(&json).unwrap();
            assert_eq!(blob[0], V1);
            assert!(
                blob.len() * 5 < json.len(),
                "{} of {}",
                blob.len(),
                json.len()
            );
            assert_eq!(unpack(&blob).unwrap(), json);
        }
        let big = "x".repeat(100_000);
        assert_eq!(unpack(&pack(&big).unwrap()).unwrap(), big);
    }

    #[test]
    fn unknown_or_damaged_blobs_are_errors_not_panics() {
        assert!(unpack(&[9, 1, 2, 3]).unwrap_err().contains("dictionary 9"));
        assert!(unpack(&[]).is_err());
        let mut blob = pack("{\"a\": 1}").unwrap();
        blob.truncate(blob.len() - 2);
        assert!(unpack(&blob).is_err());
    }
}
