//! Secret values: read from configuration, environment or a secrets file,
//! redacted everywhere they could be printed.

use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use std::path::Path;

/// Deserializes a secret that may look like a number in the environment
/// (`REKON_ELKASSA_KEY=12345` is parsed as an integer by figment).
pub fn lenient_secret<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretString>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Text(String),
        Int(i64),
        Float(f64),
    }
    Ok(Option::<Loose>::deserialize(deserializer)?.map(|loose| {
        let text = match loose {
            Loose::Text(text) => text,
            Loose::Int(number) => number.to_string(),
            Loose::Float(number) => number.to_string(),
        };
        SecretString::from(text)
    }))
}

/// Reads a secret from a file (Docker/Kubernetes secrets), trimming the
/// trailing newline editors add; the error names the file, never the content.
pub fn read_secret_file(path: &Path) -> Result<SecretString, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read secret file {}: {err}", path.display()))?;
    let trimmed = text.trim_end_matches(['\r', '\n']);
    if trimmed.is_empty() {
        return Err(format!("secret file {} is empty", path.display()));
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

/// Replaces every occurrence of the given secrets in `text` with `[redacted]`,
/// a last line of defence for partner messages that echo a request back.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|secret| secret.len() >= 4)
        .fold(text.to_owned(), |acc, secret| {
            acc.replace(secret, "[redacted]")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_every_copy_of_a_secret() {
        assert_eq!(
            redact("key=abcd1234&again=abcd1234", &["abcd1234"]),
            "key=[redacted]&again=[redacted]"
        );
    }

    #[test]
    fn a_secret_file_loses_its_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").unwrap();
        let secret = read_secret_file(&path).unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(&secret), "s3cret");
    }
}
