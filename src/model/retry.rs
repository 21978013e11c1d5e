//! When and how long to wait before retrying a model request: which
//! statuses are worth another try, exponential backoff with jitter, and the
//! server's own `Retry-After`.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName};

/// Longest wait between attempts, whatever `Retry-After` asks for: a CI job
/// is better served by another try (bounded by `max_attempts`) than by a
/// silent sleep of many minutes.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// 408 and 429 are "try again later"; 5xx (including Anthropic's 529
/// overloaded) are the server's fault. Other 4xx will fail the same way.
pub(crate) fn is_retryable(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// Delay before retry number `attempt` (1 after the first failure):
/// `base * 2^(attempt-1)`, scaled by a random factor in [0.5, 1) so clients
/// that failed together do not retry together.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    exp.mul_f64(0.5 + fastrand::f64() * 0.5).min(MAX_RETRY_WAIT)
}

/// The wait a server asked for: `retry-after-ms` (OpenAI), else
/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3). A date in
/// the past means now. Not capped here; the caller caps.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(HeaderName::from_bytes(name.as_bytes()).ok()?)?
            .to_str()
            .ok()
            .map(str::trim)
    };
    let millis = text("retry-after-ms")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0);
    if let Some(ms) = millis {
        return Some(Duration::from_secs_f64(ms.min(1e9) / 1000.0));
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_milliseconds() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let h = headers(&[("retry-after", "7")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let h = headers(&[("retry-after", "Sun, 06 Nov 1994 08:50:07 GMT")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        let h = headers(&[("retry-after", "Sun, 06 Nov 1994 08:00:00 GMT")]);
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        let h = headers(&[("retry-after-ms", "250"), ("retry-after", "9")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(250)));
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_millis(100);
        for attempt in 1..=4 {
            let full = base * (1 << (attempt - 1));
            let d = backoff(base, attempt);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        assert_eq!(backoff(Duration::from_secs(3600), 30), MAX_RETRY_WAIT);
    }
}
