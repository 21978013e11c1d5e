//! Text that leaves the process: URLs without credentials, response
//! excerpts scrubbed of the API key and passed through
//! [`crate::redact::redact`], cut to a readable length.

use super::Secret;

/// Characters of an error body kept in an error message.
const EXCERPT_CHARS: usize = 600;

/// `url` without user info, query or fragment, for messages and logs.
pub fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

/// Text safe to print: the key replaced, then the general redactor.
pub(crate) fn scrub(text: &str, key: Option<&Secret>) -> String {
    let text = match key {
        Some(k) if !k.expose().is_empty() => text.replace(k.expose(), "[REDACTED]"),
        _ => text.to_owned(),
    };
    crate::redact::redact(&text)
}

/// The start of a body, scrubbed, on one line.
pub(crate) fn excerpt(body: &[u8], key: Option<&Secret>) -> String {
    let text = scrub(&String::from_utf8_lossy(body), key);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_chars(&one_line, EXCERPT_CHARS)
}

/// An error body reduced to what helps: the API's `error.message` (with
/// `type`/`param`/`code` when present), else the raw excerpt.
pub(crate) fn error_excerpt(body: &[u8], key: Option<&Secret>) -> String {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return if body.is_empty() {
            "(empty body)".to_owned()
        } else {
            excerpt(body, key)
        };
    };
    let err = json.get("error").filter(|e| e.is_object()).unwrap_or(&json);
    let Some(message) = err.get("message").and_then(|m| m.as_str()) else {
        return excerpt(body, key);
    };
    let mut text = message.to_owned();
    let details: Vec<String> = ["type", "param", "code"]
        .iter()
        .filter_map(|field| {
            let v = err.get(*field)?;
            let v = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            (!v.is_empty() && v != "null").then(|| format!("{field}: {v}"))
        })
        .collect();
    if !details.is_empty() {
        text.push_str(&format!(" ({})", details.join(", ")));
    }
    excerpt(text.as_bytes(), key)
}

pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_excerpt_prefers_the_api_message_and_scrubs_the_key() {
        let key = Secret::new("sk-secret-value");
        let body = br#"{"error":{"message":"Incorrect API key provided: sk-secret-value","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        let text = error_excerpt(body, Some(&key));
        assert_eq!(
            text,
            "Incorrect API key provided: [REDACTED] (type: invalid_request_error, code: invalid_api_key)"
        );
        assert_eq!(error_excerpt(b"", None), "(empty body)");
        assert_eq!(
            error_excerpt(b"<html>\n bad\n</html>", None),
            "<html> bad </html>"
        );
    }

    #[test]
    fn display_url_drops_credentials_and_query() {
        assert_eq!(
            display_url("https://user:pw@host.example/v1?key=abc#x"),
            "https://host.example/v1"
        );
        assert_eq!(display_url("not a url"), "<unparseable URL>");
    }
}
