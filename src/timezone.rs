//! Partner timestamps: naive wall-clock strings read in a configured zone.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The zone partners mean when a timestamp carries none (Western Indonesia Time).
pub const DEFAULT_PARTNER_ZONE: Tz = chrono_tz::Asia::Jakarta;

/// Formats partners use for naive timestamps, most common first.
const NAIVE_FORMATS: [&str; 7] = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
];

/// Why a partner timestamp could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unreadable timestamp {0:?}")]
pub struct BadTimestamp(pub String);

/// Reads a partner timestamp as an instant.
///
/// Naive values are wall-clock time in `zone`; values with an offset keep it.
/// MySQL's zero date and empty strings mean "no value" (`Ok(None)`), because
/// partners emit them for unset dates rather than omitting the field.
pub fn parse_partner_time(raw: &str, zone: Tz) -> Result<Option<DateTime<Utc>>, BadTimestamp> {
    let text = raw.trim();
    if text.is_empty() || text.starts_with("0000-00-00") {
        return Ok(None);
    }
    if let Some(naive) = parse_plain(text) {
        return Ok(Some(localize(naive, zone)));
    }
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(with_offset.with_timezone(&Utc)));
    }
    let naive = NAIVE_FORMATS
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(|| BadTimestamp(text.to_owned()))?;
    Ok(Some(localize(naive, zone)))
}

/// `YYYY-MM-DD HH:MM:SS` (or with a `T`), the shape nearly every partner
/// timestamp has, read without interpreting a format string: a listing
/// carries two per account. Anything else goes through the formats above.
fn parse_plain(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 19
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && matches!(bytes[10], b' ' | b'T')
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !shaped {
        return None;
    }
    let number = |from: usize, to: usize| {
        bytes[from..to].iter().try_fold(0u32, |value, &digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 7)?, number(8, 10)?)?.and_hms_opt(
        number(11, 13)?,
        number(14, 16)?,
        number(17, 19)?,
    )
}

/// Places a wall-clock time in `zone`, taking the earlier instant in a fold
/// and skipping forward over a gap (Jakarta has neither today, other zones may).
pub fn localize(naive: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.with_timezone(&Utc),
        LocalResult::None => {
            let later = naive + chrono::Duration::hours(1);
            localize(later, zone)
        }
    }
}

/// Parses an IANA zone name from configuration, naming the bad value.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!("unknown time zone {name:?} (expected an IANA name such as Asia/Jakarta)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_naive_partner_time_is_read_as_jakarta_wall_clock() {
        let at = parse_partner_time("2016-03-18 22:08:02", DEFAULT_PARTNER_ZONE)
            .unwrap()
            .unwrap();
        assert_eq!(at.to_rfc3339(), "2016-03-18T15:08:02+00:00");
    }

    #[test]
    fn an_explicit_offset_wins_over_the_configured_zone() {
        let at = parse_partner_time("2016-03-18T22:08:02+00:00", DEFAULT_PARTNER_ZONE)
            .unwrap()
            .unwrap();
        assert_eq!(at.to_rfc3339(), "2016-03-18T22:08:02+00:00");
    }

    #[test]
    fn the_plain_shape_reads_as_the_format_strings_do_and_rejects_what_they_reject() {
        for text in [
            "2016-03-18 22:08:02",
            "2016-03-18T22:08:02",
            "2024-02-29 00:00:00",
            "1999-12-31 23:59:59",
        ] {
            let slow = NAIVE_FORMATS
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok());
            assert_eq!(parse_plain(text), slow, "{text}");
        }
        for text in [
            "2023-02-29 00:00:00",
            "2016-13-01 00:00:00",
            "2016-03-18 24:00:00",
            "2016-03-1x 00:00:00",
        ] {
            assert_eq!(parse_plain(text), None, "{text}");
            assert!(
                parse_partner_time(text, DEFAULT_PARTNER_ZONE).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn day_first_layouts_are_read_too() {
        let expected = parse_partner_time("2016-03-18 22:08:02", DEFAULT_PARTNER_ZONE).unwrap();
        assert_eq!(
            parse_partner_time("18-03-2016 22:08:02", DEFAULT_PARTNER_ZONE).unwrap(),
            expected
        );
        assert_eq!(
            parse_partner_time("18/03/2016 22:08:02", DEFAULT_PARTNER_ZONE).unwrap(),
            expected
        );
    }

    #[test]
    fn zero_dates_and_blanks_mean_no_value() {
        assert_eq!(
            parse_partner_time("0000-00-00 00:00:00", DEFAULT_PARTNER_ZONE),
            Ok(None)
        );
        assert_eq!(parse_partner_time("  ", DEFAULT_PARTNER_ZONE), Ok(None));
    }

    #[test]
    fn another_configured_zone_shifts_the_instant() {
        let zone = parse_zone("Asia/Makassar").unwrap();
        let at = parse_partner_time("2016-03-18 22:08:02", zone)
            .unwrap()
            .unwrap();
        assert_eq!(at.to_rfc3339(), "2016-03-18T14:08:02+00:00");
    }

    #[test]
    fn garbage_is_an_error_that_quotes_the_value() {
        let err = parse_partner_time("yesterday", DEFAULT_PARTNER_ZONE).unwrap_err();
        assert!(err.to_string().contains("yesterday"));
        assert!(parse_zone("Mars/Olympus").is_err());
    }
}
