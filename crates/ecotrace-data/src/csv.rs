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
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    // True once the current record has any content (so blank lines are skipped).
    let mut started = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if field.is_empty() => {
                started = true;
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(ch) => {
                            if ch == '\n' {
                                line += 1;
                            }
                            field.push(ch);
                        }
                        None => return Err(format!("line {line}: unterminated quoted field")),
                    }
                }
                match chars.peek() {
                    None | Some(',') | Some('\n') | Some('\r') => {}
                    Some(other) => {
                        return Err(format!("line {line}: {other:?} after a closing quote"))
                    }
                }
            }
            ',' => {
                started = true;
                record.push(std::mem::take(&mut field));
            }
            '\r' => {}
            '\n' => {
                if started {
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                started = false;
                line += 1;
            }
            '"' => return Err(format!("line {line}: stray quote inside a field")),
            _ => {
                started = true;
                field.push(c);
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
    }

    #[test]
    fn rejects_malformed() {
        assert!(Table::parse("t", "a,b\n1\n").is_err());
        assert!(Table::parse("t", "a\n\"x\n").is_err());
        assert!(Table::parse("t", "a\n\"x\"y\n").is_err());
        assert!(Table::parse("t", "").is_err());
    }
}
