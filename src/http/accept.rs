//! `Accept` negotiation: how much a client wants a media type (RFC 9110 §12.5.1).

/// The q-value `accept` gives `media` (`type/subtype`): the most specific matching range
/// wins; an absent header accepts everything (q = 1).
pub fn quality(accept: Option<&str>, media: &str) -> f32 {
    let Some(accept) = accept else { return 1.0 };
    let (mtype, _) = media.split_once('/').unwrap_or((media, ""));
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut params = range.split(';');
        let name = params.next().unwrap_or("").trim();
        let specificity = if name.eq_ignore_ascii_case(media) {
            3
        } else if name
            .split_once('/')
            .is_some_and(|(t, s)| s == "*" && t.eq_ignore_ascii_case(mtype))
        {
            2
        } else if name == "*/*" {
            1
        } else {
            continue;
        };
        let q = params
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

/// True when `accept` strictly prefers `a` over `b`.
pub fn prefers(accept: Option<&str>, a: &str, b: &str) -> bool {
    quality(accept, a) > quality(accept, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_rows() {
        let json = "application/json";
        let html = "text/html";
        let rows: &[(Option<&str>, bool)] = &[
            (Some(""), false),
            (Some(";;;,,"), false),
            (Some("application/json;q=abc"), true),
            (None, false),
            (Some("*/*"), false),
            (Some("application/json"), true),
            (Some("application/*"), true),
            (Some("text/html,application/xhtml+xml,*/*;q=0.8"), false),
            (Some("application/json, text/html;q=0.9"), true),
            (Some("text/html;q=0.5, application/json;q=0.4"), false),
            (Some("*/*;q=0.1, application/json;q=0"), false),
        ];
        for (accept, want) in rows {
            assert_eq!(prefers(*accept, json, html), *want, "{accept:?}");
        }
    }
}
