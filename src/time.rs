//! UTC calendar time without a dependency: the date and time of day of a `SystemTime`, and its
//! RFC 3339 form (listings, the access log).

use std::time::{SystemTime, UNIX_EPOCH};

/// Formats a time as RFC 3339 UTC with whole seconds, e.g. `2026-11-26T11:09:05Z`.
/// Times before 1970 clamp to the epoch.
pub fn format_rfc3339(t: SystemTime) -> String {
    let c = Civil::from_time(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// A UTC calendar date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// The year, 1970 or later.
    pub year: u64,
    /// The month, 1 to 12.
    pub month: u64,
    /// The day of the month, 1 to 31.
    pub day: u64,
    /// The hour, 0 to 23.
    pub hour: u64,
    /// The minute, 0 to 59.
    pub minute: u64,
    /// The second, 0 to 59 (Unix time has no leap seconds).
    pub second: u64,
}

impl Civil {
    /// Splits a time into calendar fields, clamping times before the epoch to it.
    pub fn from_time(t: SystemTime) -> Civil {
        let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let (year, month, day) = civil_from_days(secs / 86_400);
        let rem = secs % 86_400;
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
        }
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
///
/// Howard Hinnant's `civil_from_days`: shift to eras of 400 years starting on 0000-03-01, so
/// the leap day is the last day of the year; unsigned because we never go before 1970.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1, 0..=365
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn rfc3339_known_instants() {
        let rows: &[(SystemTime, &str)] = &[
            (
                UNIX_EPOCH - Duration::from_secs(86_400),
                "1970-01-01T00:00:00Z",
            ),
            (at(0), "1970-01-01T00:00:00Z"),
            (at(59), "1970-01-01T00:00:59Z"),
            (at(951_782_400), "2000-02-29T00:00:00Z"),
            (at(951_868_799), "2000-02-29T23:59:59Z"),
            (at(1_795_691_345), "2026-11-26T11:09:05Z"),
            (at(1_798_000_000), "2026-12-23T04:26:40Z"),
            (at(4_107_542_400), "2100-03-01T00:00:00Z"),
            (
                UNIX_EPOCH + Duration::from_millis(1_999),
                "1970-01-01T00:00:01Z",
            ),
        ];
        for &(t, want) in rows {
            assert_eq!(format_rfc3339(t), want);
        }
    }

    #[test]
    fn civil_fields() {
        let c = Civil::from_time(at(1_795_691_345));
        let want = Civil {
            year: 2026,
            month: 11,
            day: 26,
            hour: 11,
            minute: 9,
            second: 5,
        };
        assert_eq!(c, want);
    }
}
