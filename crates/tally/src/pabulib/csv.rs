//! The `;`-separated records of a `.pb` file, read and written as Python's
//! `csv` module (which pabutools uses) does: a field starting with `"` is
//! quoted, `""` inside it is one `"`, and it may hold `;` and line breaks.

/// One record and the line it starts on (from 1).
#[derive(Debug, PartialEq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Splits text into records. Fails, with the line it started on, only on a
/// quoted field that never closes.
pub fn records(text: &str) -> Result<Vec<Record>, usize> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut record_line = 1;
    let mut at_field_start = true;
    let mut quoted = false;
    let mut quote_line = 0;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                quote_line = line;
                at_field_start = false;
            }
            ';' => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                fields.push(std::mem::take(&mut field));
                records.push(Record {
                    line: record_line,
                    fields: std::mem::take(&mut fields),
                });
                line += 1;
                record_line = line;
                at_field_start = true;
            }
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err(quote_line);
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push(Record {
            line: record_line,
            fields,
        });
    }
    Ok(records)
}

/// Writes one field, quoted when it holds a separator, a quote or a line
/// break.
pub fn field(value: &str) -> String {
    if value.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// Writes one record, ending the line.
pub fn record<S: AsRef<str>>(fields: &[S]) -> String {
    let mut line = fields
        .iter()
        .map(|value| field(value.as_ref()))
        .collect::<Vec<_>>()
        .join(";");
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        records(text)
            .unwrap()
            .into_iter()
            .map(|record| record.fields)
            .collect()
    }

    #[test]
    fn splits_on_semicolons_and_line_ends() {
        assert_eq!(
            fields("a;b\r\nc;;d\n"),
            vec![vec!["a", "b"], vec!["c", "", "d"]]
        );
    }

    #[test]
    fn quoted_fields_hold_separators_quotes_and_line_breaks() {
        let parsed = records("1;\"a;\"\"b\"\"\nc\";2\n3;x\n").unwrap();
        assert_eq!(parsed[0].fields, vec!["1", "a;\"b\"\nc", "2"]);
        assert_eq!(parsed[1].line, 3);
    }

    #[test]
    fn a_quote_inside_an_unquoted_field_is_kept() {
        assert_eq!(fields("ab\"c;d"), vec![vec!["ab\"c", "d"]]);
    }

    #[test]
    fn an_unclosed_quote_names_its_line() {
        assert_eq!(records("a\nb;\"open\n\n"), Err(2));
    }

    #[test]
    fn written_records_read_back() {
        let values = ["plain", "semi;colon", "say \"hi\"", "two\nlines"];
        assert_eq!(fields(&record(&values)), vec![values.to_vec()]);
    }
}
