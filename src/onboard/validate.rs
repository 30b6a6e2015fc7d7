//! Validation of one drop row for every partner it targets.
//!
//! All or nothing per row: a row that fails for any of its partners is sent
//! to none of them. Every reason is collected in one pass, each naming its
//! partner and field, so a corrected row can simply be dropped again. A value
//! that no targeted partner takes is neither checked nor kept.

use super::checks::{
    amount_problem, email_problem, identity_problem, is_formula, is_iso_date, is_scientific_number,
    logo_is_image, nik_problem, user_type_code,
};
use super::phone::normalize_phone;
use super::row::{Activation, DropRow, Partner};
pub use super::valid::{LoginMethod, Reason, ValidActivation, ValidRow};
use secrecy::{ExposeSecret, SecretString};
use Partner::{Elkassa, Mcp, Middleware, Qm};

const REQUIRED: &str = "required, but the cell is empty";
const FORMULA: &str =
    "starts with `=`: a spreadsheet formula, not a value; paste the value instead";

/// A free-text field: who requires it, who is sent it, MCP's length limit.
struct TextRule {
    field: &'static str,
    required_by: &'static [Partner],
    used_by: &'static [Partner],
    mcp_max: usize,
}

const COMPANY: TextRule = TextRule {
    field: "company",
    required_by: &[Elkassa, Mcp],
    used_by: &[Elkassa, Mcp],
    mcp_max: 200,
};
const ADDRESS: TextRule = TextRule {
    field: "address",
    required_by: &[Elkassa, Mcp],
    used_by: &[Elkassa, Mcp],
    mcp_max: 255,
};
const LOGO: TextRule = TextRule {
    field: "logo",
    required_by: &[Mcp],
    used_by: &[Mcp],
    mcp_max: 200,
};
const PIC: TextRule = TextRule {
    field: "pic",
    required_by: &[],
    used_by: &[Mcp],
    mcp_max: 200,
};
const MCP_NAME_MAX: usize = 100;
const MCP_EMAIL_MAX: usize = 100;
const MCP_PASSWORD_MAX: usize = 100;
const ELKASSA_PASSWORD_MIN: usize = 6;

/// Checks a row for every partner it targets, returning every reason at once.
pub fn validate(row: &DropRow) -> Result<ValidRow, Vec<Reason>> {
    let mut check = Checker {
        targets: &row.providers,
        reasons: Vec::new(),
    };
    let name = check_row(&mut check, row);
    let company = text(&mut check, &COMPANY, row.company.as_deref());
    let address = text(&mut check, &ADDRESS, row.address.as_deref());
    let pic = text(&mut check, &PIC, row.pic.as_deref());
    let logo = logo(&mut check, row.logo.as_deref());
    let email = email(&mut check, row.email.as_deref());
    let phone = phone(&mut check, row.phone_raw.as_deref());
    let login_method = login_method(&mut check, row, phone.as_deref());
    let identity_number = identity(&mut check, row.identity_number.as_ref());
    let user_type = user_type(&mut check, row.user_type.as_deref());
    let password = password(&mut check, row.password.as_ref());
    let activation = activation(&mut check, row.activation.as_ref());
    if !check.reasons.is_empty() {
        return Err(check.reasons);
    }
    Ok(ValidRow {
        line: row.line,
        reference: row.reference.clone(),
        name,
        company,
        email,
        phone,
        address,
        identity_number,
        user_type,
        password,
        logo,
        pic,
        login_method,
        providers: row.providers.clone(),
        activation,
    })
}

struct Checker<'a> {
    targets: &'a [Partner],
    reasons: Vec<Reason>,
}

impl Checker<'_> {
    fn uses(&self, users: &[Partner]) -> bool {
        self.targets.iter().any(|target| users.contains(target))
    }

    /// One reason for each targeted partner among `users`.
    fn fail(&mut self, users: &[Partner], field: &'static str, message: impl Into<String>) {
        let message = message.into();
        for partner in self.targets.iter().filter(|target| users.contains(target)) {
            self.reasons
                .push(Reason::for_partner(*partner, field, message.clone()));
        }
    }

    fn fail_row(&mut self, field: &'static str, message: impl Into<String>) {
        self.reasons.push(Reason::row(field, message));
    }

    fn mcp_limit(&mut self, field: &'static str, value: &str, max: usize) {
        // Bytes bound characters from above: most values skip the count.
        if value.len() > max && self.uses(&[Mcp]) {
            let chars = value.chars().count();
            if chars > max {
                self.fail(
                    &[Mcp],
                    field,
                    format!("{chars} characters, more than the {max} MCP takes"),
                );
            }
        }
    }
}

fn check_row(check: &mut Checker, row: &DropRow) -> String {
    if row.reference.is_empty() {
        check.fail_row(
            "ref",
            "required, but the cell is empty: it makes the row's idempotency key",
        );
    }
    if row.providers.is_empty() {
        check.fail_row(
            "providers",
            "no known partner to register with, and the job has no default list",
        );
    }
    let Some(name) = row.name.as_deref() else {
        check.fail_row("name", REQUIRED);
        return String::new();
    };
    if is_formula(name) {
        check.fail_row("name", FORMULA);
    }
    check.mcp_limit("name", name, MCP_NAME_MAX);
    name.to_owned()
}

fn text(check: &mut Checker, rule: &TextRule, value: Option<&str>) -> Option<String> {
    if !check.uses(rule.used_by) {
        return None;
    }
    let Some(value) = value else {
        check.fail(rule.required_by, rule.field, REQUIRED);
        return None;
    };
    if is_formula(value) {
        check.fail(rule.used_by, rule.field, FORMULA);
    }
    check.mcp_limit(rule.field, value, rule.mcp_max);
    Some(value.to_owned())
}

fn logo(check: &mut Checker, value: Option<&str>) -> Option<String> {
    let logo = text(check, &LOGO, value)?;
    if !logo_is_image(&logo) {
        check.fail(
            &[Mcp],
            "logo",
            "must be a .png, .jpg or .jpeg URL or file name",
        );
    }
    Some(logo)
}

fn email(check: &mut Checker, value: Option<&str>) -> Option<String> {
    const USERS: &[Partner] = &[Elkassa, Mcp, Qm];
    if !check.uses(USERS) {
        return None;
    }
    let Some(value) = value.map(str::trim).filter(|value| !value.is_empty()) else {
        check.fail(&[Elkassa, Mcp], "email", REQUIRED);
        return None;
    };
    if let Some(problem) = email_problem(value) {
        check.fail(
            USERS,
            "email",
            format!("`{value}` is not an email address: it {problem}"),
        );
    }
    check.mcp_limit("email", value, MCP_EMAIL_MAX);
    Some(if value.is_ascii() {
        value.to_ascii_lowercase()
    } else {
        value.to_lowercase()
    })
}

fn phone(check: &mut Checker, value: Option<&str>) -> Option<String> {
    const USERS: &[Partner] = &[Elkassa, Mcp, Qm];
    if !check.uses(USERS) {
        return None;
    }
    let Some(value) = value else {
        check.fail(&[Elkassa, Mcp], "phone", REQUIRED);
        return None;
    };
    normalize_phone(value)
        .map_err(|err| check.fail(USERS, "phone", err.to_string()))
        .ok()
}

fn login_method(check: &mut Checker, row: &DropRow, phone: Option<&str>) -> Option<LoginMethod> {
    if !check.uses(&[Qm]) {
        return None;
    }
    let (has_email, has_phone) = (row.email.is_some(), row.phone_raw.is_some());
    if !has_email && !has_phone {
        let message = "QM needs an email or a phone, and both are empty";
        check.fail(&[Qm], "email", message);
    }
    let method = match row.login_method.as_deref() {
        None if has_email => LoginMethod::Email,
        None if has_phone => LoginMethod::Phone,
        None => return None,
        Some(written) => match parse_login_method(written) {
            Some(method) => method,
            None => {
                let message = format!("`{written}` is not a login method: write email or phone");
                check.fail(&[Qm], "login_method", message);
                return None;
            }
        },
    };
    let landline = phone.filter(|phone| phone.starts_with("+62") && !phone.starts_with("+628"));
    match method {
        LoginMethod::Email if !has_email => {
            check.fail(&[Qm], "login_method", "is email, but the email is empty");
        }
        LoginMethod::Phone if !has_phone => {
            check.fail(&[Qm], "login_method", "is phone, but the phone is empty");
        }
        LoginMethod::Phone if landline.is_some() => {
            let message = format!(
                "is phone, but {} is an Indonesian landline and the one-time code goes by SMS",
                landline.unwrap_or_default()
            );
            check.fail(&[Qm], "login_method", message);
        }
        _ => {}
    }
    Some(method)
}

fn parse_login_method(written: &str) -> Option<LoginMethod> {
    let is = |name: &str| written.eq_ignore_ascii_case(name);
    if is("email") || is("e-mail") {
        Some(LoginMethod::Email)
    } else if is("phone") || is("phonenumber") || is("phone_number") || is("phone number") {
        Some(LoginMethod::Phone)
    } else {
        None
    }
}

fn identity(check: &mut Checker, value: Option<&SecretString>) -> Option<SecretString> {
    const USERS: &[Partner] = &[Qm, Middleware];
    const FIELD: &str = "identity_number";
    if !check.uses(USERS) {
        return None;
    }
    let Some(secret) = value else {
        check.fail(USERS, FIELD, REQUIRED);
        return None;
    };
    let compact = SecretString::from(
        secret
            .expose_secret()
            .chars()
            .filter(|ch| !ch.is_whitespace())
            .collect::<String>(),
    );
    let id = compact.expose_secret();
    if is_scientific_number(id) {
        let message = "the spreadsheet turned this ID into a number in scientific notation and \
                       its last digits are lost; export the column as text";
        check.fail(USERS, FIELD, message);
        return None;
    }
    if let Some(problem) = nik_problem(id) {
        check.fail(&[Middleware], FIELD, format!("not a valid NIK: {problem}"));
    }
    // QM takes other countries' IDs too; a 16-digit one is taken for a NIK.
    let nik_shaped = id.len() == 16 && id.bytes().all(|byte| byte.is_ascii_digit());
    let qm_problem = if nik_shaped {
        nik_problem(id)
    } else {
        identity_problem(id)
    };
    if let Some(problem) = qm_problem {
        check.fail(
            &[Qm],
            FIELD,
            format!("not a valid identity number: {problem}"),
        );
    }
    Some(compact)
}

fn user_type(check: &mut Checker, value: Option<&str>) -> Option<&'static str> {
    if !check.uses(&[Elkassa]) {
        return None;
    }
    let Some(value) = value else {
        check.fail(&[Elkassa], "user_type", REQUIRED);
        return None;
    };
    let code = user_type_code(value);
    if code.is_none() {
        let message = format!("`{value}` is not a user type: write retail, grosir, 0 or 1");
        check.fail(&[Elkassa], "user_type", message);
    }
    code
}

fn password(check: &mut Checker, value: Option<&SecretString>) -> Option<SecretString> {
    const USERS: &[Partner] = &[Elkassa, Mcp];
    if !check.uses(USERS) {
        return None;
    }
    let Some(secret) = value else {
        check.fail(USERS, "password", REQUIRED);
        return None;
    };
    let password = secret.expose_secret();
    if password.trim() != password {
        let message = "begins or ends with a space, which spreadsheets add by accident; remove it";
        check.fail(USERS, "password", message);
    }
    let chars = password.chars().count();
    if chars < ELKASSA_PASSWORD_MIN {
        let message = format!("shorter than {ELKASSA_PASSWORD_MIN} characters, ELKASSA's minimum");
        check.fail(&[Elkassa], "password", message);
    }
    if chars > MCP_PASSWORD_MAX {
        let message = format!("{chars} characters, more than the {MCP_PASSWORD_MAX} MCP takes");
        check.fail(&[Mcp], "password", message);
    }
    Some(secret.clone())
}

fn activation(check: &mut Checker, value: Option<&Activation>) -> Option<ValidActivation> {
    let given = value?;
    if !check.uses(&[Elkassa]) {
        let message = "activation columns are filled, but only ELKASSA activates packets \
                       and the row does not go to elkassa";
        check.fail_row("packet_code", message);
        return None;
    }
    let mut need = |field: &'static str, value: &Option<String>| -> String {
        if value.is_none() {
            check.fail(
                &[Elkassa],
                field,
                "required for activation, but the cell is empty",
            );
        }
        value.clone().unwrap_or_default()
    };
    let activation = ValidActivation {
        packet_code: need("packet_code", &given.packet_code),
        invoice_code: need("invoice_code", &given.invoice_code),
        invoice_amount: need("invoice_amount", &given.invoice_amount),
        payment_gateway: need("payment_gateway", &given.payment_gateway),
        payment_method: need("payment_method", &given.payment_method),
        payment_date: need("payment_date", &given.payment_date),
    };
    let amount = &activation.invoice_amount;
    if let Some(problem) = amount_problem(amount).filter(|_| !amount.is_empty()) {
        check.fail(
            &[Elkassa],
            "invoice_amount",
            format!("`{amount}` is not an amount: {problem}"),
        );
    }
    let date = &activation.payment_date;
    if !date.is_empty() && !is_iso_date(date) {
        let message = format!("`{date}` is not a date: write YYYY-MM-DD or YYYY-MM-DD HH:MM:SS");
        check.fail(&[Elkassa], "payment_date", message);
    }
    Some(activation)
}
