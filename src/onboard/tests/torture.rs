//! The CSV torture set: each drop is either read right or rejected with
//! the line it went wrong on.

use super::super::*;
use super::{errors, fields_of, ok_rows, read, ALL};

#[test]
fn a_utf8_file_with_a_byte_order_mark_is_read_right() {
    let drop = read(b"\xEF\xBB\xBFref,nama,email\nA1,Budi,b@x.id\n");
    assert_eq!(drop.encoding, TextEncoding::Utf8Bom);
    let rows = ok_rows(&drop);
    assert_eq!(rows[0].reference, "A1");
    assert_eq!(rows[0].name.as_deref(), Some("Budi"));
    assert!(drop.warnings.is_empty(), "{:?}", drop.warnings);
}

#[test]
fn windows_1252_names_from_older_excel_are_read_right() {
    let drop = read(b"ref;nama\r\nA1;Ren\xE9 M\xF6ller\r\n");
    assert_eq!(drop.encoding, TextEncoding::Windows1252);
    assert_eq!(ok_rows(&drop)[0].name.as_deref(), Some("René Möller"));
    assert!(drop.warnings[0].contains("Windows-1252"));
}

#[test]
fn a_semicolon_file_from_excel_is_read_right() {
    let drop = read(b"ref;nama;alamat;no_telp\nA1;Budi;Jl. Merdeka 1, Bandung;0812 3456 7890\n");
    assert_eq!(drop.delimiter, ';');
    let row = ok_rows(&drop)[0];
    assert_eq!(row.address.as_deref(), Some("Jl. Merdeka 1, Bandung"));
    assert_eq!(row.phone_raw.as_deref(), Some("0812 3456 7890"));
}

#[test]
fn a_tab_separated_file_is_read_right() {
    let drop = read(b"ref\tname\temail\nA1\tBudi\tb@x.id\n");
    assert_eq!(drop.delimiter, '\t');
    assert_eq!(ok_rows(&drop)[0].email.as_deref(), Some("b@x.id"));
}

#[test]
fn quoted_newlines_quotes_and_delimiters_keep_their_line_numbers() {
    let csv = b"ref,name,address\r\n\
        A1,\"Budi \"\"Boss\"\" Santoso\",\"Jl. Merdeka 1,\r\nBandung\"\r\n\
        A2,Sari,Jakarta\r\n";
    let drop = read(csv);
    let rows = ok_rows(&drop);
    assert_eq!(rows[0].line, 2);
    assert_eq!(rows[0].name.as_deref(), Some("Budi \"Boss\" Santoso"));
    assert_eq!(
        rows[0].address.as_deref(),
        Some("Jl. Merdeka 1,\r\nBandung")
    );
    assert_eq!(rows[1].line, 4, "the quoted line break counts as a line");
}

#[test]
fn blank_lines_are_skipped_but_still_counted() {
    let drop = read(b"\nref,name,,\n\nA1,Budi,,\n,,,\n   \nA2,Sari\n\n");
    let rows = ok_rows(&drop);
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].line, rows[1].line), (4, 7));
    assert!(
        drop.warnings.is_empty(),
        "trailing empty header cells: {:?}",
        drop.warnings
    );
}

#[test]
fn a_ragged_row_is_rejected_with_its_line_and_a_short_one_has_missing_values() {
    let drop = read(b"ref,name,email\nA1,Budi,b@x.id,extra\nA2,Sari\nA3,Eko,e@x.id,,\n");
    let errors = errors(&drop);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 2);
    assert_eq!(errors[0].reasons[0].field, "row");
    assert!(errors[0]
        .to_string()
        .contains("4 cells but the header has 3 columns"));
    let rows = ok_rows(&drop);
    assert_eq!(rows[0].email, None);
    assert_eq!(rows[1].email.as_deref(), Some("e@x.id"));
}

#[test]
fn a_formula_in_a_name_is_rejected_with_its_line() {
    let drop = read(
        b"ref,name,email\nA1,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"Budi\"\")\",b@x.id\n",
    );
    let rows = drop.into_valid();
    let err = rows[0].as_ref().unwrap_err();
    assert_eq!(err.line, 2);
    assert!(fields_of(&err.reasons).contains(&(None, "name")));
}

#[test]
fn an_excel_mangled_phone_is_rejected_with_its_line_in_plain_words() {
    let drop = read_drop(
        "drop.csv",
        b"ref,name,email,phone,identity_number\nA1,Budi,b@x.id,0812 3456 7890,3174015501900001\nA2,Sari,s@x.id,6.28123E+12,3174015501900001\n",
        &[Partner::Qm],
    )
    .unwrap();
    let rows = drop.into_valid();
    assert!(rows[0].is_ok(), "{:?}", rows[0]);
    let err = rows[1].as_ref().unwrap_err();
    assert_eq!(err.line, 3);
    assert_eq!(
        err.to_string(),
        "line 3: qm: phone: the spreadsheet turned this phone into a number (6.28123E+12) \
         and its last digits are lost; export the column as text"
    );
}

#[test]
fn a_missing_ref_column_is_a_file_error_naming_the_file_and_the_column() {
    let err = read_drop("orders.csv", b"nama,email\nBudi,b@x.id\n", ALL).unwrap_err();
    assert_eq!(
        err.to_string(),
        "orders.csv: no `ref` column (found: nama, email)"
    );
    let err = read_drop("orders.csv", b"ref,email\nA1,b@x.id\n", ALL).unwrap_err();
    assert!(err.to_string().contains("no `name` column"));
}

#[test]
fn two_headers_meaning_the_same_column_are_a_file_error() {
    let err = read_drop("d.csv", b"ref,name,nama\n", ALL).unwrap_err();
    assert_eq!(
        err.to_string(),
        "d.csv: columns 2 (name) and 3 (nama) both mean `name`"
    );
}

#[test]
fn unknown_columns_are_a_warning_not_an_error() {
    let drop = read(b"ref,name,Kota\nA1,Budi,Bandung\n");
    assert_eq!(ok_rows(&drop).len(), 1);
    assert_eq!(
        drop.warnings,
        vec!["unknown column `Kota` (column 3) is ignored"]
    );
}

#[test]
fn an_empty_file_is_a_file_error() {
    let err = read_drop("e.csv", b"\r\n\r\n", ALL).unwrap_err();
    assert_eq!(err.problem, DecodeError::Empty);
}

#[test]
fn a_repeated_ref_is_rejected_with_its_validation_reasons_too() {
    let drop = read_drop("d.csv", b"ref,name\nA1,Budi\nA1,\n", &[Partner::Middleware]).unwrap();
    let err = errors(&drop)[0];
    assert_eq!(err.line, 3);
    let fields = fields_of(&err.reasons);
    assert!(fields.contains(&(None, "ref")));
    assert!(fields.contains(&(None, "name")));
    assert!(fields.contains(&(Some(Partner::Middleware), "identity_number")));
}
