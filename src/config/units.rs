//! Parsing of the unit-bearing strings in `gateway.toml`: durations (`"90s"`, `"15m"`) and
//! byte sizes (`"16KiB"`, `"10MiB"`).
//!
//! Both are strict on purpose: a number without a unit, a space, a sign or an unknown unit is
//! an error, because a misread limit is a security setting silently changed.

use std::time::Duration;

/// Parses `"<integer><unit>"` with unit `ms`, `s`, `m`, `h` or `d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(text)
        .ok_or_else(|| format!("`{text}` is not a duration: write a whole number and a unit, like \"90s\", \"15m\", \"8h\" or \"30d\""))?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "`{text}` has an unknown duration unit `{unit}` (use ms, s, m, h or d)"
            ))
        }
    };
    number
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too long a duration"))
}

/// Parses `"<integer><unit>"` with unit `B`, `KiB`, `MiB` or `GiB` into a byte count.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (number, unit) = split_number(text).ok_or_else(|| {
        format!("`{text}` is not a size: write a whole number and a unit, like \"16KiB\", \"10MiB\" or \"1GiB\"")
    })?;
    let bytes_per_unit: u64 = match unit {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => {
            return Err(format!(
                "`{text}` has an unknown size unit `{unit}` (use B, KiB, MiB or GiB)"
            ))
        }
    };
    number
        .checked_mul(bytes_per_unit)
        .ok_or_else(|| format!("`{text}` is too large a size"))
}

/// Splits `"123abc"` into `(123, "abc")`; `None` when there are no leading digits or no unit.
fn split_number(text: &str) -> Option<(u64, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits == text.len() {
        return None;
    }
    let (number, unit) = text.split_at_checked(digits)?;
    Some((number.parse().ok()?, unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86400)));
    }

    #[test]
    fn durations_refused() {
        for bad in [
            "",
            "90",
            "s",
            "1.5h",
            "-1s",
            " 1s",
            "1 s",
            "1sec",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("16KiB"), Ok(16 * 1024));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        for bad in ["10", "10MB", "10 MiB", "MiB", "-1KiB"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
