//! Logging set-up and the access log (Combined Log Format, one line per request, on stdout).

use std::io::Write;
use std::net::IpAddr;
use std::time::SystemTime;

use crate::http::parse::Head;
use crate::time::Civil;

/// Starts `env_logger` on stderr at `level`; `RUST_LOG`, when set, wins.
pub fn init(level: log::LevelFilter) {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    let _ = builder.try_init();
    if std::env::var("RUST_LOG").is_err() {
        log::set_max_level(level);
    }
}

/// Writes one access-log line. `head` is `None` when the request could not be parsed.
pub fn write(head: Option<&Head>, client: IpAddr, user: Option<&str>, status: u16, bytes: u64) {
    let line = format_line(head, client, user, status, bytes, SystemTime::now());
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// `%h %l %u [%t] "%r" %>s %b "%{Referer}i" "%{User-agent}i"`, times in UTC.
fn format_line(
    head: Option<&Head>,
    client: IpAddr,
    user: Option<&str>,
    status: u16,
    bytes: u64,
    now: SystemTime,
) -> String {
    let Civil {
        year: y,
        month: mo,
        day: d,
        hour: h,
        minute: mi,
        second: s,
    } = Civil::from_time(now);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS[(mo as usize).saturating_sub(1) % 12];
    let request = head.map_or("-".to_string(), |h| {
        format!("{} {} {}", h.method(), h.target(), h.version().as_str())
    });
    let field = |name| head.and_then(|h| h.header(name)).unwrap_or("-");
    let size = if bytes == 0 {
        "-".to_string()
    } else {
        bytes.to_string()
    };
    format!(
        "{client} - {} [{d:02}/{month}/{y}:{h:02}:{mi:02}:{s:02} +0000] \"{}\" {status} {size} \
         \"{}\" \"{}\"\n",
        quoted(user.unwrap_or("-")),
        quoted(&request),
        quoted(field("referer")),
        quoted(field("user-agent")),
    )
}

/// Escapes `"` and `\` so a client cannot forge fields of the line.
fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse::{Limits, Parsed, parse_request};
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn line_rows() {
        let limits = Limits {
            max_head_bytes: 1024,
            max_uri_bytes: 256,
        };
        let raw = b"GET /a%20b?q HTTP/1.1\r\nHost: h\r\nReferer: x\" \\y\r\nUser-Agent: ua\r\n\r\n";
        let Ok(Parsed::Complete { head, .. }) = parse_request(raw, &limits) else {
            panic!("test head does not parse");
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_795_691_345);
        let client = IpAddr::from([192, 0, 2, 7]);
        // (head, user, status, bytes, line)
        type Row<'a> = (Option<&'a Head>, Option<&'a str>, u16, u64, &'a str);
        let rows: &[Row] = &[
            // Hostile rows first: quotes and backslashes cannot end a field early.
            (
                Some(&head),
                Some("ev\"il\\"),
                200,
                5,
                "192.0.2.7 - ev\\\"il\\\\ [26/Nov/2026:11:09:05 +0000] \"GET /a%20b?q HTTP/1.1\" \
                 200 5 \"x\\\" \\\\y\" \"ua\"\n",
            ),
            (
                None,
                None,
                400,
                0,
                "192.0.2.7 - - [26/Nov/2026:11:09:05 +0000] \"-\" 400 - \"-\" \"-\"\n",
            ),
        ];
        for (head, user, status, bytes, want) in rows {
            let line = format_line(*head, client, *user, *status, *bytes, now);
            assert_eq!(line, *want, "{user:?}");
        }
    }
}
