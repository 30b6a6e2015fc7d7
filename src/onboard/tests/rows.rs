//! Whole-row validation for every targeted partner, and secrecy in output.

use super::super::*;
use super::{fields_of, full_row, read, NIK, PASSWORD};
use secrecy::{ExposeSecret, SecretString};

#[test]
fn a_row_valid_for_every_partner_is_normalised() {
    let valid = validate(&full_row()).unwrap();
    assert_eq!(valid.email.as_deref(), Some("budi@example.co.id"));
    assert_eq!(valid.phone.as_deref(), Some("+6281234567890"));
    assert_eq!(valid.phone_digits(), Some("6281234567890"));
    assert_eq!(valid.user_type, Some("1"));
    assert_eq!(valid.login_method, Some(LoginMethod::Email));
    assert_eq!(valid.identity_number.unwrap().expose_secret(), NIK);
}

#[test]
fn a_row_invalid_for_one_partner_only_is_rejected_naming_that_partner() {
    let row = DropRow {
        password: Some(SecretString::from("abc12")),
        ..full_row()
    };
    let reasons = validate(&row).unwrap_err();
    assert_eq!(
        fields_of(&reasons),
        vec![(Some(Partner::Elkassa), "password")]
    );
    let row = DropRow {
        logo: Some("budi.gif".into()),
        ..full_row()
    };
    assert_eq!(
        fields_of(&validate(&row).unwrap_err()),
        vec![(Some(Partner::Mcp), "logo")]
    );
}

#[test]
fn every_reason_is_reported_at_once() {
    let row = DropRow {
        reference: String::new(),
        email: Some("budi@".into()),
        phone_raw: None,
        user_type: Some("wholesale".into()),
        identity_number: Some(SecretString::from("3174019901900001")),
        company: Some("x".repeat(201)),
        login_method: Some("phone".into()),
        ..full_row()
    };
    let reasons = validate(&row).unwrap_err();
    let fields = fields_of(&reasons);
    for expected in [
        (None, "ref"),
        (Some(Partner::Elkassa), "email"),
        (Some(Partner::Mcp), "email"),
        (Some(Partner::Qm), "email"),
        (Some(Partner::Elkassa), "phone"),
        (Some(Partner::Mcp), "phone"),
        (Some(Partner::Qm), "login_method"),
        (Some(Partner::Elkassa), "user_type"),
        (Some(Partner::Mcp), "company"),
        (Some(Partner::Middleware), "identity_number"),
        (Some(Partner::Qm), "identity_number"),
    ] {
        assert!(
            fields.contains(&expected),
            "{expected:?} missing from {reasons:#?}"
        );
    }
    assert_eq!(fields.len(), 11, "{reasons:#?}");
}

#[test]
fn qm_takes_a_phone_alone_and_defaults_its_login_to_it() {
    let row = DropRow {
        email: None,
        providers: vec![Partner::Qm],
        ..full_row()
    };
    let valid = validate(&row).unwrap();
    assert_eq!(valid.login_method, Some(LoginMethod::Phone));
    let row = DropRow {
        phone_raw: Some("(021) 555-1234".into()),
        ..row
    };
    assert_eq!(
        fields_of(&validate(&row).unwrap_err()),
        vec![(Some(Partner::Qm), "login_method")]
    );
}

#[test]
fn qm_takes_a_foreign_identity_number_but_middleware_wants_a_nik() {
    let row = DropRow {
        identity_number: Some(SecretString::from("900101-14-5678")),
        providers: vec![Partner::Qm, Partner::Middleware],
        ..full_row()
    };
    let reasons = validate(&row).unwrap_err();
    assert_eq!(
        fields_of(&reasons),
        vec![(Some(Partner::Middleware), "identity_number")]
    );
    assert!(!reasons[0].message.contains("900101"));
}

#[test]
fn mcp_length_limits_count_characters() {
    let row = DropRow {
        name: Some("é".repeat(100)),
        address: Some("a".repeat(256)),
        pic: Some("p".repeat(201)),
        ..full_row()
    };
    let reasons = validate(&row).unwrap_err();
    assert_eq!(
        fields_of(&reasons),
        vec![(Some(Partner::Mcp), "address"), (Some(Partner::Mcp), "pic")]
    );
}

#[test]
fn activation_needs_every_field_and_an_elkassa_row() {
    let activation = Activation {
        packet_code: Some("P6".into()),
        invoice_amount: Some("Rp 150.000".into()),
        payment_date: Some("29/02/2024".into()),
        ..Activation::default()
    };
    let row = DropRow {
        activation: Some(activation.clone()),
        ..full_row()
    };
    let fields = fields_of(&validate(&row).unwrap_err());
    for field in [
        "invoice_code",
        "invoice_amount",
        "payment_gateway",
        "payment_method",
        "payment_date",
    ] {
        assert!(
            fields.contains(&(Some(Partner::Elkassa), field)),
            "{field}: {fields:?}"
        );
    }
    let row = DropRow {
        activation: Some(activation),
        providers: vec![Partner::Qm],
        ..full_row()
    };
    assert_eq!(
        fields_of(&validate(&row).unwrap_err()),
        vec![(None, "packet_code")]
    );
}

#[test]
fn debug_output_never_shows_the_password_or_the_nik() {
    let row = full_row();
    let shown = format!("{row:?}");
    assert!(!shown.contains(PASSWORD) && !shown.contains(NIK), "{shown}");
    let valid = validate(&row).unwrap();
    let shown = format!("{valid:?}");
    assert!(!shown.contains(PASSWORD) && !shown.contains(NIK), "{shown}");
    let drop = read(
        format!("ref,name,password,nik\nA1,Budi,{PASSWORD},{NIK}\nA1,Budi,{PASSWORD},{NIK}\n")
            .as_bytes(),
    );
    let shown = format!("{drop:?}");
    assert!(!shown.contains(PASSWORD) && !shown.contains(NIK), "{shown}");
}

#[test]
fn reasons_never_repeat_the_password() {
    let row = DropRow {
        password: Some(SecretString::from(" abc")),
        ..full_row()
    };
    for reason in validate(&row).unwrap_err() {
        assert!(!reason.message.contains("abc"), "{reason}");
    }
}

#[test]
fn ten_thousand_generated_rows_validate() {
    let mut csv =
        String::from("ref,name,company,email,phone,address,nik,user_type,password,logo\n");
    for index in 0..10_000u32 {
        let phone = if index % 100 == 99 {
            "6.28123E+12".to_owned()
        } else {
            format!("0812{index:08}")
        };
        csv.push_str(&format!(
            "R{index},Nama {index},Toko {index},user{index}@example.co.id,{phone},Jl. {index},{NIK},retail,{PASSWORD},logo{index}.png\n"
        ));
    }
    let drop = read(csv.as_bytes());
    let results = drop.into_valid();
    let (valid, rejected): (Vec<_>, Vec<_>) = results.iter().partition(|row| row.is_ok());
    assert_eq!((valid.len(), rejected.len()), (9_900, 100));
    let first_rejected = rejected[0].as_ref().unwrap_err();
    assert_eq!(first_rejected.line, 101);
}

#[test]
fn qm_without_an_email_or_a_phone_is_rejected_whatever_its_login_method() {
    let row = DropRow {
        email: None,
        phone_raw: None,
        login_method: Some("email".into()),
        providers: vec![Partner::Qm],
        ..full_row()
    };
    assert_eq!(
        fields_of(&validate(&row).unwrap_err()),
        vec![
            (Some(Partner::Qm), "email"),
            (Some(Partner::Qm), "login_method")
        ]
    );
}
