//! A small RFC 4180 CSV reader for the bundled tables (quoted fields, doubled quotes, CRLF).
//! The tables are compiled in, so any error here is a bug in the bundled data: callers panic.

use std::borrow::Cow;
use std::sync::Mutex;

/// A parsed table: header names and rows of fields.
pub(crate) struct Table {
    header: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
    name: &'static str,
}

impl Table {
    /// Parses `text`; `name` is the file name, used in panic messages.
    pub(crate) fn parse(name: &'static str, text: &str) -> Result<Table, String> {
        Table::parse_matching(name, text, |_, _| true)
    }

    /// Parses `text` keeping only the rows for which `keep(table, row)` holds (the table gives
    /// the columns: `table.col("id")`). A lookup of one row then costs a scan of the text, not a
    /// copy of the whole table: the rows left out are never stored.
    pub(crate) fn parse_matching(
        name: &'static str,
        text: &str,
        keep: impl Fn(&Table, &[Cow<'_, str>]) -> bool,
    ) -> Result<Table, String> {
        Table::parse_up_to(name, text, keep, usize::MAX)
    }

    /// As [`parse_matching`](Self::parse_matching), stopping at the first row kept: a lookup by
    /// a unique key reads the text only up to its row (the rest is neither parsed nor paged in:
    /// `ecotrace run`'s resident memory, docs/benchmarks.md). The whole tables are checked by
    /// their tests.
    pub(crate) fn parse_first(
        name: &'static str,
        text: &str,
        keep: impl Fn(&Table, &[Cow<'_, str>]) -> bool,
    ) -> Result<Table, String> {
        Table::parse_up_to(name, text, keep, 1)
    }

    fn parse_up_to(
        name: &'static str,
        text: &str,
        keep: impl Fn(&Table, &[Cow<'_, str>]) -> bool,
        max: usize,
    ) -> Result<Table, String> {
        let mut records = Records::new(text);
        let header: Vec<String> = match records.next() {
            None => return Err(format!("{name}: empty file")),
            Some(r) => r
                .map_err(|e| format!("{name}: {e}"))?
                .into_iter()
                .map(Cow::into_owned)
                .collect(),
        };
        let mut table = Table {
            header,
            rows: Vec::new(),
            name,
        };
        for (i, r) in records.enumerate() {
            let r = r.map_err(|e| format!("{name}: {e}"))?;
            if r.len() != table.header.len() {
                return Err(format!(
                    "{name}: row {} has {} fields, header has {}",
                    i + 2,
                    r.len(),
                    table.header.len()
                ));
            }
            if keep(&table, &r) {
                table
                    .rows
                    .push(r.into_iter().map(Cow::into_owned).collect());
                if table.rows.len() >= max {
                    break;
                }
            }
        }
        Ok(table)
    }

    /// Index of a column; panics if the bundled file lacks it (a bug caught by tests).
    pub(crate) fn col(&self, column: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == column)
            .unwrap_or_else(|| panic!("bundled {}: no column {column:?}", self.name))
    }
}

/// Rows of a bundled table looked up one at a time (with [`Table::parse_matching`]): each key is
/// parsed once and its row kept for the life of the process, as the whole tables are.
pub(crate) struct Rows<T: 'static> {
    found: Mutex<Vec<(String, Option<&'static T>)>>,
}

impl<T> Rows<T> {
    pub(crate) const fn new() -> Self {
        Rows {
            found: Mutex::new(Vec::new()),
        }
    }

    /// The row of `key`, parsed by `parse(key)` the first time it is asked for.
    pub(crate) fn get(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<&'static T> {
        let mut found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, row)) = found.iter().find(|(k, _)| k == key) {
            return *row;
        }
        let row: Option<&'static T> = parse(key).map(|t| &*Box::leak(Box::new(t)));
        found.push((key.to_string(), row));
        row
    }
}

/// The records of a CSV text one at a time, each field borrowed from the text unless it had to
/// be unquoted. After an error it yields nothing more.
struct Records<'a> {
    text: &'a str,
    i: usize,
    line: usize,
}

impl<'a> Records<'a> {
    fn new(text: &'a str) -> Self {
        Records {
            text,
            i: 0,
            line: 1,
        }
    }

    fn fail(&mut self, e: String) -> Option<Result<Vec<Cow<'a, str>>, String>> {
        self.i = self.text.len();
        Some(Err(e))
    }
}

/// Appends `run` to a field: borrowed while it is one run, owned once it is several.
fn append<'a>(field: &mut Option<Cow<'a, str>>, run: &'a str) {
    match field {
        None => *field = Some(Cow::Borrowed(run)),
        Some(f) => f.to_mut().push_str(run),
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Vec<Cow<'a, str>>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        // Works on bytes: every delimiter is ASCII, so slicing at them keeps UTF-8 intact, and runs
        // of plain characters are taken at once rather than pushed one by one.
        let text = self.text;
        let b = text.as_bytes();
        let special = |c: u8| matches!(c, b',' | b'\n' | b'\r' | b'"');
        let mut record: Vec<Cow<'a, str>> = Vec::new();
        let mut field: Option<Cow<'a, str>> = None;
        let take = |f: &mut Option<Cow<'a, str>>| f.take().unwrap_or(Cow::Borrowed(""));
        // True once the current record has any content (so blank lines are skipped).
        let mut started = false;
        while self.i < b.len() {
            match b[self.i] {
                b'"' if matches!(field.as_deref(), None | Some("")) => {
                    started = true;
                    self.i += 1;
                    // An empty quoted field is still a field.
                    field.get_or_insert(Cow::Borrowed(""));
                    loop {
                        let run = self.i;
                        while self.i < b.len() && b[self.i] != b'"' {
                            if b[self.i] == b'\n' {
                                self.line += 1;
                            }
                            self.i += 1;
                        }
                        if run < self.i {
                            if field.as_deref() == Some("") {
                                field = None;
                            }
                            append(&mut field, &text[run..self.i]);
                        }
                        if self.i >= b.len() {
                            let e = format!("line {}: unterminated quoted field", self.line);
                            return self.fail(e);
                        }
                        // A quote: doubled means a literal quote, single closes the field.
                        if b.get(self.i + 1) == Some(&b'"') {
                            field.get_or_insert(Cow::Borrowed("")).to_mut().push('"');
                            self.i += 2;
                        } else {
                            self.i += 1;
                            break;
                        }
                    }
                    match b.get(self.i) {
                        None | Some(b',') | Some(b'\n') | Some(b'\r') => {}
                        Some(_) => {
                            let other = text[self.i..].chars().next().unwrap_or(' ');
                            let e = format!("line {}: {other:?} after a closing quote", self.line);
                            return self.fail(e);
                        }
                    }
                }
                b',' => {
                    started = true;
                    record.push(take(&mut field));
                    self.i += 1;
                }
                b'\r' => self.i += 1,
                b'\n' => {
                    self.line += 1;
                    self.i += 1;
                    if started {
                        record.push(take(&mut field));
                        return Some(Ok(record));
                    }
                }
                b'"' => {
                    let e = format!("line {}: stray quote inside a field", self.line);
                    return self.fail(e);
                }
                _ => {
                    started = true;
                    let run = self.i;
                    while self.i < b.len() && !special(b[self.i]) {
                        self.i += 1;
                    }
                    append(&mut field, &text[run..self.i]);
                }
            }
        }
        if started {
            record.push(take(&mut field));
            return Some(Ok(record));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quotes_and_blank_lines() {
        let t = Table::parse("t", "a,b,c\r\n1,\"x, \"\"y\"\"\",\n\n2,,\"z\"\n").unwrap();
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0], vec!["1", "x, \"y\"", ""]);
        assert_eq!(t.rows[1], vec!["2", "", "z"]);
        assert_eq!(t.col("c"), 2);
        let u = Table::parse("t", "a,b\n\"é, ü\",ß\n").unwrap();
        assert_eq!(u.rows[0], vec!["é, ü", "ß"]);
    }

    #[test]
    fn keeps_only_the_matching_rows() {
        let text = "id,v\r\nA,1\n\"B\",\"2, \"\"two\"\"\"\nC,3\n";
        let t = Table::parse_matching("t", text, |t, r| r[t.col("id")] == "B").unwrap();
        assert_eq!(
            t.rows,
            vec![vec!["B".to_string(), "2, \"two\"".to_string()]]
        );
        let all = Table::parse("t", text).unwrap();
        assert_eq!(all.rows.len(), 3);
        assert_eq!(all.rows[2], vec!["C", "3"]);
        // A bad row is an error even when it would not be kept.
        assert!(Table::parse_matching("t", "a,b\n1\n2,3\n", |_, _| false).is_err());
        // The first row kept, and nothing read past it (a broken row after it is not seen).
        let t = Table::parse_first("t", "id,v\nA,1\nB,2\nB,3\nbroken\n", |t, r| {
            r[t.col("id")] == "B"
        })
        .unwrap();
        assert_eq!(t.rows, vec![vec!["B".to_string(), "2".to_string()]]);
    }

    #[test]
    fn rejects_malformed() {
        assert!(Table::parse("t", "a,b\n1\n").is_err());
        assert!(Table::parse("t", "a\n\"x\n").is_err());
        assert!(Table::parse("t", "a\n\"x\"y\n").is_err());
        assert!(Table::parse("t", "").is_err());
    }
}
