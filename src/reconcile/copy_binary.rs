//! Postgres binary `COPY` into the frame builders.
//!
//! The binary format costs the server less than text (an instant goes out as
//! its eight bytes, not through `date_part` and a float's digits) and costs
//! us less (lengths instead of scanning for tabs and escapes). Because binary
//! values carry no type, the query is described first and every column's
//! Postgres type is checked against the field it fills: a column the reader
//! cannot decode is an error naming it, never a silently wrong number.

use super::columns::Columns;
use super::reader::{Field, ReadFailure};

/// Postgres counts instants from 2000-01-01; frames count from 1970-01-01.
const EPOCH_2000_MS: i64 = 946_684_800_000;
const MS_PER_DAY: i64 = 86_400_000;
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// How a column's values arrive, from the type Postgres described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wire {
    /// UTF-8 bytes (`text`, `varchar`, `json`, ...).
    Text,
    /// A version byte, then the JSON text.
    Jsonb,
    /// A big-endian integer of 2, 4 or 8 bytes.
    Int,
    /// One byte, 0 or 1.
    Bool,
    /// Microseconds since 2000-01-01 (`timestamptz`, `timestamp`).
    Timestamp,
    /// Days since 2000-01-01.
    Date,
}

impl Wire {
    /// The decoder for column `column` of Postgres type `type_name` filling
    /// `field`, or why there is none.
    pub(super) fn for_column(
        column: &'static str,
        type_name: &str,
        field: Field,
    ) -> Result<Wire, ReadFailure> {
        let wire = match type_name {
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "JSON" => Some(Wire::Text),
            "JSONB" => Some(Wire::Jsonb),
            "INT2" | "INT4" | "INT8" => Some(Wire::Int),
            "BOOL" => Some(Wire::Bool),
            "TIMESTAMPTZ" | "TIMESTAMP" => Some(Wire::Timestamp),
            "DATE" => Some(Wire::Date),
            _ => None,
        };
        let fits = |wire: Wire| match field {
            Field::Text | Field::Digest => matches!(wire, Wire::Text | Wire::Int),
            Field::JsonDigest => matches!(wire, Wire::Text | Wire::Jsonb),
            Field::Int => wire == Wire::Int,
            Field::Time => matches!(wire, Wire::Timestamp | Wire::Date),
            Field::Flag => matches!(wire, Wire::Bool | Wire::Int),
        };
        wire.filter(|wire| fits(*wire))
            .ok_or_else(|| ReadFailure::Type {
                column,
                type_name: type_name.to_owned(),
                wanted: field.wanted(),
            })
    }
}

/// A binary `COPY` stream fed in arbitrary chunks: a header, then per row a
/// field count and each field as a length (-1 for NULL) and its bytes, then
/// a trailer.
pub(super) struct BinaryRows {
    wires: Vec<Wire>,
    header_read: bool,
    ended: bool,
    /// The start of a row (or header) whose end is in a later chunk.
    pending: Vec<u8>,
    /// Each field of the row being decoded: its bytes' range, or None for NULL.
    spans: Vec<Option<(usize, usize)>>,
}

impl BinaryRows {
    /// A reader of rows whose columns arrive as `wires`.
    pub(super) fn new(wires: Vec<Wire>) -> Self {
        BinaryRows {
            spans: Vec::with_capacity(wires.len()),
            wires,
            header_read: false,
            ended: false,
            pending: Vec::new(),
        }
    }

    /// Decodes every whole row `chunk` completes; keeps the rest for the next.
    pub(super) fn push(&mut self, chunk: &[u8], columns: &mut Columns) -> Result<(), ReadFailure> {
        if self.pending.is_empty() {
            let used = self.parse(chunk, columns)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            let mut data = std::mem::take(&mut self.pending);
            data.extend_from_slice(chunk);
            let used = self.parse(&data, columns)?;
            data.drain(..used);
            self.pending = data;
        }
        Ok(())
    }

    /// Checks that the stream ended where a stream ends: after its trailer.
    pub(super) fn finish(&self, columns: &Columns) -> Result<(), ReadFailure> {
        if self.ended {
            return Ok(());
        }
        Err(columns.broken("the COPY stream ended inside a row"))
    }

    /// Decodes what `data` holds whole; returns the bytes used.
    fn parse(&mut self, data: &[u8], columns: &mut Columns) -> Result<usize, ReadFailure> {
        let mut at = 0;
        if !self.header_read {
            match header_len(data, columns)? {
                Some(len) => at = len,
                None => return Ok(0),
            }
            self.header_read = true;
        }
        while !self.ended {
            match self.row(&data[at..], columns)? {
                Some(len) => at += len,
                None => break,
            }
        }
        // Nothing may follow the trailer; what does is ignored.
        Ok(if self.ended { data.len() } else { at })
    }

    /// Decodes the row at the start of `data`; None when it is not all there yet.
    fn row(&mut self, data: &[u8], columns: &mut Columns) -> Result<Option<usize>, ReadFailure> {
        let Some(count) = data.get(..2) else {
            return Ok(None);
        };
        let count = i16::from_be_bytes([count[0], count[1]]);
        if count == -1 {
            self.ended = true;
            return Ok(Some(2));
        }
        if count as usize != self.wires.len() {
            let message = format!("{count} fields where {} belong", self.wires.len());
            return Err(columns.broken(&message));
        }
        let mut at = 2;
        self.spans.clear();
        for _ in 0..count {
            let Some(len) = data.get(at..at + 4) else {
                return Ok(None);
            };
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            at += 4;
            if len < 0 {
                self.spans.push(None);
                continue;
            }
            let end = at + len as usize;
            if end > data.len() {
                return Ok(None);
            }
            self.spans.push(Some((at, end)));
            at = end;
        }
        columns.rows += 1;
        for (index, span) in self.spans.iter().enumerate() {
            match span {
                None => columns.push_null(index),
                Some((start, end)) => {
                    decode(self.wires[index], &data[*start..*end], index, columns)?
                }
            }
        }
        Ok(Some(at))
    }
}

/// The header's length once `data` holds all of it.
fn header_len(data: &[u8], columns: &Columns) -> Result<Option<usize>, ReadFailure> {
    if data.len() < SIGNATURE.len() + 8 {
        return Ok(None);
    }
    if &data[..SIGNATURE.len()] != SIGNATURE {
        return Err(columns.broken("not a binary COPY stream"));
    }
    let at = SIGNATURE.len() + 4;
    let extension = i32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
    let len = at + 4 + extension.max(0) as usize;
    Ok((data.len() >= len).then_some(len))
}

/// Pushes one value of column `index`.
fn decode(
    wire: Wire,
    bytes: &[u8],
    index: usize,
    columns: &mut Columns,
) -> Result<(), ReadFailure> {
    let value = match wire {
        Wire::Text => return columns.push_text(index, bytes),
        Wire::Jsonb => {
            return match bytes.split_first() {
                Some((1, json)) => columns.push_text(index, json),
                _ => Err(columns.bad(index, "a jsonb value of an unknown version")),
            };
        }
        Wire::Bool => match bytes {
            [flag] => Ok(i64::from(*flag != 0)),
            _ => Err("a boolean that is not one byte"),
        },
        Wire::Int => integer(bytes).ok_or("an integer of an odd width"),
        Wire::Timestamp => match integer(bytes).filter(|_| bytes.len() == 8) {
            Some(i64::MAX | i64::MIN) => Err("an infinite instant"),
            Some(micros) => Ok(EPOCH_2000_MS + millis(micros)),
            None => Err("an instant that is not 8 bytes"),
        },
        Wire::Date => match integer(bytes).filter(|_| bytes.len() == 4) {
            Some(days) if days == i64::from(i32::MAX) || days == i64::from(i32::MIN) => {
                Err("an infinite date")
            }
            Some(days) => Ok(EPOCH_2000_MS + days * MS_PER_DAY),
            None => Err("a date that is not 4 bytes"),
        },
    };
    let value = value.map_err(|message| columns.bad(index, message))?;
    columns.push_int(index, value);
    Ok(())
}

/// A big-endian signed integer of 2, 4 or 8 bytes.
fn integer(bytes: &[u8]) -> Option<i64> {
    Some(match *bytes {
        [a, b] => i64::from(i16::from_be_bytes([a, b])),
        [a, b, c, d] => i64::from(i32::from_be_bytes([a, b, c, d])),
        _ => i64::from_be_bytes(bytes.try_into().ok()?),
    })
}

/// Microseconds to milliseconds, rounded half to even as Postgres casts a
/// float to an integer, so instants read as they did through `date_part`.
fn millis(micros: i64) -> i64 {
    let (whole, rest) = (micros.div_euclid(1000), micros.rem_euclid(1000));
    if rest > 500 || (rest == 500 && whole % 2 != 0) {
        whole + 1
    } else {
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::reader::digest;
    use crate::reconcile::reader::tests::ints;
    use polars::prelude::DataFrame;

    const FIELDS: &[(&str, Field)] = &[
        ("name", Field::Text),
        ("n", Field::Int),
        ("flag", Field::Flag),
        ("at_ms", Field::Time),
        ("detail", Field::JsonDigest),
    ];
    const WIRES: [Wire; 5] = [
        Wire::Text,
        Wire::Int,
        Wire::Bool,
        Wire::Timestamp,
        Wire::Jsonb,
    ];

    /// A binary `COPY` body of `rows`, each field as its wire bytes or NULL.
    fn body(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend(0i32.to_be_bytes());
        out.extend(4i32.to_be_bytes());
        out.extend(b"ext!");
        for row in rows {
            out.extend((row.len() as i16).to_be_bytes());
            for field in row {
                match field {
                    Some(bytes) => {
                        out.extend((bytes.len() as i32).to_be_bytes());
                        out.extend(bytes);
                    }
                    None => out.extend((-1i32).to_be_bytes()),
                }
            }
        }
        out.extend((-1i16).to_be_bytes());
        out
    }

    fn jsonb(text: &str) -> Vec<u8> {
        [&[1u8][..], text.as_bytes()].concat()
    }

    fn rows() -> Vec<Vec<Option<Vec<u8>>>> {
        vec![
            vec![
                Some(b"Toko\tA".to_vec()),
                Some(7i64.to_be_bytes().to_vec()),
                Some(vec![1]),
                Some(0i64.to_be_bytes().to_vec()),
                Some(jsonb(r#"{"b": 1, "a": "x"}"#)),
            ],
            vec![None, None, None, None, None],
            vec![
                Some("Café".as_bytes().to_vec()),
                Some((-3i32).to_be_bytes().to_vec()),
                Some(vec![0]),
                Some(1_500i64.to_be_bytes().to_vec()),
                Some(jsonb(r#"{"a":"y"}"#)),
            ],
        ]
    }

    fn parse(chunks: &[&[u8]]) -> Result<DataFrame, ReadFailure> {
        let mut columns = Columns::new(FIELDS);
        let mut reader = BinaryRows::new(WIRES.to_vec());
        for chunk in chunks {
            reader.push(chunk, &mut columns)?;
        }
        reader.finish(&columns)?;
        Ok(columns.finish().expect("columns of one length"))
    }

    #[test]
    fn a_stream_cut_anywhere_gives_the_same_rows() {
        let whole_body = body(&rows());
        let whole = parse(&[&whole_body]).unwrap();
        for cut in 0..whole_body.len() {
            let (a, b) = whole_body.split_at(cut);
            let frame = parse(&[a, b]).unwrap();
            assert!(frame.equals_missing(&whole), "cut at {cut}");
        }
        let names = whole.column("name").unwrap().str().unwrap();
        let names: Vec<_> = names.iter().collect();
        assert_eq!(names, [Some("Toko\tA"), None, Some("Café")]);
        assert_eq!(ints(&whole, "n"), [Some(7), None, Some(-3)]);
        assert_eq!(ints(&whole, "flag"), [Some(1), None, Some(0)]);
        let details = ints(&whole, "detail");
        assert_eq!(details[0], Some(digest(r#"{"a":"x","b":1}"#)));
        assert_eq!(details[1], None);
    }

    #[test]
    fn instants_count_milliseconds_from_1970_rounded_as_postgres_rounds() {
        let whole = parse(&[&body(&rows())]).unwrap();
        let instants = ints(&whole, "at_ms");
        // 2000-01-01T00:00:00Z, and 1.5 ms after it rounded to even.
        assert_eq!(
            instants,
            [Some(946_684_800_000), None, Some(946_684_800_002)]
        );
        assert_eq!(millis(2_500), 2);
        assert_eq!(millis(2_501), 3);
        assert_eq!(millis(-1_500), -2);
    }

    #[test]
    fn a_date_counts_whole_days_from_2000() {
        let mut columns = Columns::new(&[("day_ms", Field::Time)]);
        decode(Wire::Date, &366i32.to_be_bytes(), 0, &mut columns).unwrap();
        let frame = columns.finish().unwrap();
        // 2001-01-01, 2000 being a leap year.
        assert_eq!(ints(&frame, "day_ms"), [Some(978_307_200_000)]);
    }

    #[test]
    fn a_column_type_that_cannot_fill_its_field_is_named() {
        let error = Wire::for_column("loaded", "NUMERIC", Field::Int).unwrap_err();
        assert_eq!(
            error.to_string(),
            "column loaded: a NUMERIC cannot be read as a whole number; cast it in the query"
        );
        assert!(Wire::for_column("at", "INT8", Field::Time).is_err());
        assert_eq!(
            Wire::for_column("n", "INT4", Field::Int).unwrap(),
            Wire::Int
        );
        assert_eq!(
            Wire::for_column("at", "TIMESTAMPTZ", Field::Time).unwrap(),
            Wire::Timestamp
        );
    }

    #[test]
    fn a_row_of_the_wrong_width_names_its_row() {
        let mut rows = rows();
        rows[1].pop();
        let error = parse(&[&body(&rows)]).unwrap_err().to_string();
        assert_eq!(error, "row 2: 4 fields where 5 belong");
    }

    #[test]
    fn a_stream_that_ends_inside_a_row_is_an_error_not_a_short_frame() {
        let whole = body(&rows());
        let error = parse(&[&whole[..whole.len() - 5]]).unwrap_err().to_string();
        assert_eq!(error, "row 3: the COPY stream ended inside a row");
    }
}
