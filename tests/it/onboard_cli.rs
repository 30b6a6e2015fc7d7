//! `rekon onboard --dry-run`: every row ends in one outcome per partner,
//! the reports are spreadsheet-safe, and no secret reaches any output.

use std::path::Path;
use std::process::{Command, Output};

const PASSWORD: &str = "rahasia-77123";
const NIK: &str = "3171234507890001";

fn onboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rekon"))
        .arg("onboard")
        .args(args)
        .output()
        .unwrap()
}

fn drop_file(dir: &Path) -> std::path::PathBuf {
    // Excel in an Indonesian locale: BOM, semicolons, CRLF, Indonesian headers.
    let rows = [
        "ref;nama;email;no_telp;nik;password;nama_toko;alamat;user_type;logo;providers".to_owned(),
        format!("A1;Siti Aminah;siti@example.test;0812-3456-7890;{NIK};{PASSWORD};Warung Siti;Jl. Merdeka 1;retail;logo.png;elkassa|mcp|qm"),
        format!("=SUM(A1);Budi;budi@example.test;+62 812 9999 0000;3171234507890002;{PASSWORD};Toko Budi;Jl. 2;grosir;b.jpg;elkassa|mcp"),
        format!("A3;Tanpa NIK;tanpa@example.test;081211112222;;{PASSWORD};Toko Tiga;Jl. 3;retail;c.png;elkassa|qm"),
        format!("A4;=HYPERLINK(\"http://x\");ok@example.test;6.28123E+12;3171234507890004;{PASSWORD};T;Jl;retail;d.png;mcp"),
        format!("A1;Dup;dup@example.test;081233334444;3171234507890005;{PASSWORD};T;Jl;retail;e.png;elkassa"),
    ];
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend(rows.join("\r\n").into_bytes());
    let path = dir.join("toko-baru.csv");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_dry_run_gives_every_row_one_outcome_per_partner_and_exits_1_on_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let file = drop_file(dir.path());
    let output = onboard(&["--dry-run", file.to_str().unwrap()]);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(printed.contains("5 rows, 2 valid, 3 rejected"), "{printed}");
    // Accepted + rejected = rows targeting the partner, per partner.
    for (partner, valid, rejected) in [("elkassa", 2, 2), ("mcp", 2, 1), ("qm", 1, 1)] {
        let line = format!("{partner:<10} {rejected} rejected, {valid} valid (dry run)");
        assert!(printed.contains(&line), "missing `{line}` in {printed}");
    }
    let results = std::fs::read_to_string(dir.path().join("toko-baru.results.csv")).unwrap();
    let rejects = std::fs::read_to_string(dir.path().join("toko-baru.rejects.csv")).unwrap();
    assert_eq!(
        results.lines().count(),
        1 + 9,
        "one line per row and partner:\n{results}"
    );
    assert!(
        results.contains("A3,qm,rejected") && results.contains("qm: identity_number"),
        "{results}"
    );
    assert!(rejects.contains("repeats the ref of line 2"), "{rejects}");
    assert!(rejects.contains("last digits are lost"), "{rejects}");
    // The formula-looking ref is neutralised, not evaluated by a spreadsheet.
    assert!(
        results.contains("'=SUM(A1)") && !results.contains(",=SUM"),
        "{results}"
    );
    for text in [&printed, &results, &rejects] {
        assert!(!text.contains(PASSWORD), "a password leaked");
        assert!(!text.contains(NIK), "a national ID leaked");
    }
}

#[test]
fn registering_national_ids_without_a_hash_key_names_the_setting_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = drop_file(dir.path());
    let database = format!("sqlite://{}", dir.path().join("w.sqlite").display());
    let output = onboard(&["--database-url", &database, file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("toko-baru.csv") && stderr.contains("onboard.identity_hash_key"),
        "{stderr}"
    );
    assert!(!stderr.contains(NIK), "a national ID leaked");
}

#[test]
fn an_unreadable_drop_names_the_file_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kosong.csv");
    std::fs::write(&path, "nama;email\r\nSiti;s@example.test\r\n").unwrap();
    let output = onboard(&["--dry-run", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("kosong.csv") && stderr.contains("ref"),
        "{stderr}"
    );
}
