//! Column builders a reader fills row by row: each value goes straight into
//! its column, typed as the frame wants it, so memory holds the finished
//! columns and never a copy of the rows.

use super::reader::{digest, Field, ReadFailure};
use super::{canonical_json, ReconcileError};
use polars::prelude::*;

/// One builder per selected column.
enum Builder {
    Text(StringChunkedBuilder),
    Int(PrimitiveChunkedBuilder<Int64Type>),
}

/// The frame being built, with the row count for error messages.
pub(super) struct Columns {
    /// The columns, named and typed, in select order.
    pub(super) fields: &'static [(&'static str, Field)],
    builders: Vec<Builder>,
    /// Rows begun so far.
    pub(super) rows: usize,
}

impl Columns {
    /// Empty builders for `fields`.
    pub(super) fn new(fields: &'static [(&'static str, Field)]) -> Self {
        let builders = fields
            .iter()
            .map(|(name, field)| match field {
                Field::Text => Builder::Text(StringChunkedBuilder::new((*name).into(), 1024)),
                _ => Builder::Int(PrimitiveChunkedBuilder::new((*name).into(), 1024)),
            })
            .collect();
        Columns {
            fields,
            builders,
            rows: 0,
        }
    }

    /// A value of column `index` in the current row that does not decode.
    pub(super) fn bad(&self, index: usize, message: &str) -> ReadFailure {
        ReadFailure::Value {
            row: self.rows,
            column: self.fields[index].0,
            message: message.to_owned(),
        }
    }

    /// A failure of the row being read as a whole.
    pub(super) fn broken(&self, message: &str) -> ReadFailure {
        ReadFailure::Stream {
            row: self.rows + 1,
            message: message.to_owned(),
        }
    }

    /// A NULL in column `index`.
    pub(super) fn push_null(&mut self, index: usize) {
        match &mut self.builders[index] {
            Builder::Text(b) => b.append_null(),
            Builder::Int(b) => b.append_null(),
        }
    }

    /// A whole number in column `index` (digested for a digest column).
    pub(super) fn push_int(&mut self, index: usize, value: i64) {
        match &mut self.builders[index] {
            Builder::Int(b)
                if matches!(self.fields[index].1, Field::Digest | Field::JsonDigest) =>
            {
                b.append_value(digest(&value.to_string()))
            }
            Builder::Int(b) => b.append_value(value),
            // SQLite keeps what it is given: a number in a text column reads as text.
            Builder::Text(b) => b.append_value(value.to_string()),
        }
    }

    /// A float where a whole number belongs (SQLite's `julianday` arithmetic) is rounded.
    pub(super) fn push_real(&mut self, index: usize, value: f64) {
        match &mut self.builders[index] {
            Builder::Int(b)
                if matches!(self.fields[index].1, Field::Digest | Field::JsonDigest) =>
            {
                b.append_value(digest(&value.to_string()))
            }
            Builder::Int(b) => b.append_value(value.round() as i64),
            Builder::Text(b) => b.append_value(value.to_string()),
        }
    }

    /// A value as the database spelled it: text as is, numbers and flags parsed.
    pub(super) fn push_text(&mut self, index: usize, bytes: &[u8]) -> Result<(), ReadFailure> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| self.bad(index, "text that is not UTF-8"))?;
        let parsed = match (self.fields[index].1, &mut self.builders[index]) {
            (Field::Text, Builder::Text(b)) => {
                b.append_value(text);
                return Ok(());
            }
            (Field::Digest, Builder::Int(b)) => {
                b.append_value(digest(text));
                return Ok(());
            }
            (Field::JsonDigest, Builder::Int(b)) => {
                b.append_value(digest(&canonical_json(text)));
                return Ok(());
            }
            (Field::Flag, _) => match text {
                "t" | "true" | "1" => Some(1),
                "f" | "false" | "0" => Some(0),
                _ => None,
            },
            _ => text.parse::<i64>().ok(),
        };
        let value = parsed.ok_or_else(|| self.bad(index, &format!("{text:?} is not a number")))?;
        self.push_int(index, value);
        Ok(())
    }

    /// The frame, once every row is in.
    pub(super) fn finish(self) -> Result<DataFrame, ReconcileError> {
        let columns = self
            .builders
            .into_iter()
            .map(|builder| match builder {
                Builder::Text(b) => b.finish().into_series().into_column(),
                Builder::Int(b) => b.finish().into_series().into_column(),
            })
            .collect();
        DataFrame::new_infer_height(columns).map_err(ReconcileError::frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(frame: &DataFrame, name: &str) -> Vec<Option<i64>> {
        frame.column(name).unwrap().i64().unwrap().iter().collect()
    }

    /// The numbers of a one-column frame fed `values` as text.
    fn one_column(
        field: &'static [(&'static str, Field)],
        values: &[Option<&str>],
    ) -> Vec<Option<i64>> {
        let mut columns = Columns::new(field);
        for value in values {
            columns.rows += 1;
            match value {
                Some(text) => columns.push_text(0, text.as_bytes()).unwrap(),
                None => columns.push_null(0),
            }
        }
        ints(&columns.finish().unwrap(), field[0].0)
    }

    #[test]
    fn a_digest_column_holds_equal_texts_as_equal_numbers_and_null_as_null() {
        const DIGESTS: &[(&str, Field)] = &[("hash", Field::Digest)];
        let hashes = one_column(DIGESTS, &[Some("ab12"), Some("cd34"), None, Some("ab12")]);
        assert_eq!(hashes[0], Some(digest("ab12")));
        assert_eq!(hashes[0], hashes[3]);
        assert_ne!(hashes[0], hashes[1]);
        assert_eq!(hashes[2], None);
    }

    #[test]
    fn a_json_digest_column_holds_jsonb_spelling_and_compact_form_as_equal_numbers() {
        const DETAILS: &[(&str, Field)] = &[("detail", Field::JsonDigest)];
        let details = one_column(
            DETAILS,
            &[
                Some(r#"{"b": 1, "a": "x"}"#),
                Some(r#"{"a":"x","b":1}"#),
                Some(r#"{"a":"y","b":1}"#),
            ],
        );
        assert_eq!(details[0], Some(digest(r#"{"a":"x","b":1}"#)));
        assert_eq!(details[0], details[1]);
        assert_ne!(details[1], details[2]);
    }

    #[test]
    fn an_unreadable_number_names_its_row_and_column() {
        const NUMBERS: &[(&str, Field)] = &[("n", Field::Int)];
        let mut columns = Columns::new(NUMBERS);
        columns.rows = 2;
        let error = columns.push_text(0, b"x").unwrap_err().to_string();
        assert_eq!(error, "row 2, column n: \"x\" is not a number");
    }
}
