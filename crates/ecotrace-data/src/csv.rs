//! A small RFC 4180 CSV reader for the bundled tables (quoted fields, doubled quotes, CRLF).
//! The tables are compiled in, so any error here is a bug in the bundled data: callers panic.

/// A parsed table: header names and rows of fields.
pub(crate) struct Table {
    header: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
    name: &'static str,
}

impl Table {
    /// Parses `text`; `name` is the file name, used in panic messages.
    pub(crate) fn parse(name: &'static str, text: &str) -> Result<Table, String> {
        let mut records = parse_records(text).map_err(|e| format!("{name}: {e}"))?;
        if records.is_empty() {
            return Err(format!("{name}: empty file"));
        }
        let header = records.remove(0);
        for (i, r) in records.iter().enumerate() {
            if r.len() != header.len() {
                return Err(format!(
                    "{name}: row {} has {} fields, header has {}",
                    i + 2,
                    r.len(),
                    header.len()
                ));
            }
        }
        Ok(Table {
            header,
            rows: records,
            name,
        })
    }

    /// Index of a column; panics if the bundled file lacks it (a bug caught by tests).
    pub(crate) fn col(&self, column: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == column)
            .unwrap_or_else(|| panic!("bundled {}: no column {column:?}", self.name))
    }
}

fn parse_records(text: &str) -> Result<Vec<Vec<String>>, String> {
    // Works on bytes: every delimiter is ASCII, so slicing at them keeps UTF-8 intact, and runs of
    // plain characters are copied at once rather than pushed one by one.
    let b = text.as_bytes();
    let special = |c: u8| matches!(c, b',' | b'\n' | b'\r' | b'"');
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1usize;
    // True once the current record has any content (so blank lines are skipped).
    let mut started = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' if field.is_empty() => {
                started = true;
                i += 1;
                loop {
                    let run = i;
                    while i < b.len() && b[i] != b'"' {
                        if b[i] == b'\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                    field.push_str(&text[run..i]);
                    if i >= b.len() {
                        return Err(format!("line {line}: unterminated quoted field"));
                    }
                    // b[i] is a quote: doubled means a literal quote, single closes the field.
                    if b.get(i + 1) == Some(&b'"') {
                        field.push('"');
                        i += 2;
                    } else {
                        i += 1;
                        break;
                    }
                }
                match b.get(i) {
                    None | Some(b',') | Some(b'\n') | Some(b'\r') => {}
                    Some(_) => {
                        let other = text[i..].chars().next().unwrap_or(' ');
                        return Err(format!("line {line}: {other:?} after a closing quote"));
                    }
                }
            }
            b',' => {
                started = true;
                record.push(std::mem::take(&mut field));
                i += 1;
            }
            b'\r' => i += 1,
            b'\n' => {
                if started {
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                started = false;
                line += 1;
                i += 1;
            }
            b'"' => return Err(format!("line {line}: stray quote inside a field")),
            _ => {
                started = true;
                let run = i;
                while i < b.len() && !special(b[i]) {
                    i += 1;
                }
                field.push_str(&text[run..i]);
            }
        }
    }
    if started {
        record.push(field);
        records.push(record);
    }
    Ok(records)
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
    fn rejects_malformed() {
        assert!(Table::parse("t", "a,b\n1\n").is_err());
        assert!(Table::parse("t", "a\n\"x\n").is_err());
        assert!(Table::parse("t", "a\n\"x\"y\n").is_err());
        assert!(Table::parse("t", "").is_err());
    }
}
