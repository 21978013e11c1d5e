//! Structured output shared by every provider: the request, the check that
//! a schema is one strict structured output accepts, and the check that an
//! answer is a JSON object.
//!
//! OpenAI's strict mode rejects an object schema unless it says
//! `additionalProperties: false` and lists every property as required; the
//! same schema is given to Anthropic (as a tool's `input_schema`) and to the
//! forced-function fallback, so one check before sending keeps all three
//! paths honest and turns a late HTTP 400 into a clear error.

use serde_json::Value;

use super::ProviderError;

/// One structured request, as [`super::Provider::complete_structured`]
/// received it.
#[derive(Debug, Clone, Copy)]
pub struct StructuredRequest<'a> {
    pub system: &'a str,
    pub user: &'a str,
    /// Name of the schema (OpenAI `json_schema.name`) and of the forced tool:
    /// `^[a-zA-Z0-9_-]{1,64}$`.
    pub schema_name: &'a str,
    pub schema: &'a Value,
    pub model: &'a str,
}

/// Description of the forced tool used for structured answers.
pub(crate) fn tool_description(schema_name: &str) -> String {
    format!("Record your answer as `{schema_name}`. Call this tool exactly once.")
}

/// Fail unless `schema` is a strict-mode object schema and `name` a valid
/// schema/tool name.
pub fn check_strict_schema(name: &str, schema: &Value) -> Result<(), ProviderError> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !name_ok {
        return Err(ProviderError::InvalidRequest(format!(
            "schema name `{name}` must be 1-64 characters of a-z, A-Z, 0-9, _ or -"
        )));
    }
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err(ProviderError::InvalidRequest(format!(
            "schema `{name}` must be an object schema (`\"type\": \"object\"` at the top)"
        )));
    }
    check_node(name, "#", schema)
}

fn check_node(name: &str, at: &str, node: &Value) -> Result<(), ProviderError> {
    let Some(obj) = node.as_object() else {
        return Ok(());
    };
    let fail = |what: String| {
        Err(ProviderError::InvalidRequest(format!(
            "schema `{name}` at {at}: {what} (strict structured output requires it)"
        )))
    };
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        if obj.get("additionalProperties") != Some(&Value::Bool(false)) {
            return fail("`additionalProperties` must be false".to_owned());
        }
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(missing) = props.keys().find(|k| !required.contains(&k.as_str())) {
            return fail(format!("property `{missing}` must be listed in `required`"));
        }
        for (key, sub) in props {
            check_node(name, &format!("{at}/properties/{key}"), sub)?;
        }
    } else if obj.get("type").and_then(Value::as_str) == Some("object") {
        return fail("an object schema must list its `properties`".to_owned());
    }
    if let Some(items) = obj.get("items") {
        check_node(name, &format!("{at}/items"), items)?;
    }
    for combinator in ["anyOf", "$defs", "definitions"] {
        match obj.get(combinator) {
            Some(Value::Array(subs)) => {
                for (i, sub) in subs.iter().enumerate() {
                    check_node(name, &format!("{at}/{combinator}/{i}"), sub)?;
                }
            }
            Some(Value::Object(subs)) => {
                for (key, sub) in subs {
                    check_node(name, &format!("{at}/{combinator}/{key}"), sub)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The answer must be a JSON object; anything else is malformed.
pub(crate) fn expect_object(value: Value, from: &str) -> Result<Value, ProviderError> {
    if value.is_object() {
        Ok(value)
    } else {
        Err(ProviderError::Malformed(format!(
            "{from} is not a JSON object: {}",
            super::text::truncate_chars(&crate::redact::redact(&value.to_string()), 300)
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn verdict_schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["outcome", "notes"],
            "properties": {
                "outcome": {"type": "string", "enum": ["allow", "deny"]},
                "notes": {"type": "array", "items": {
                    "type": "object", "additionalProperties": false,
                    "required": ["text"], "properties": {"text": {"type": "string"}}
                }}
            }
        })
    }

    #[test]
    fn a_strict_schema_passes() {
        check_strict_schema("verdict", &verdict_schema()).unwrap();
    }

    #[test]
    fn missing_additional_properties_or_required_is_named() {
        let mut s = verdict_schema();
        s["properties"]["notes"]["items"]
            .as_object_mut()
            .unwrap()
            .remove("additionalProperties");
        let err = check_strict_schema("verdict", &s).unwrap_err().to_string();
        assert!(
            err.contains("#/properties/notes/items") && err.contains("additionalProperties"),
            "{err}"
        );
        let mut s = verdict_schema();
        s["required"] = json!(["outcome"]);
        let err = check_strict_schema("verdict", &s).unwrap_err().to_string();
        assert!(err.contains("property `notes`"), "{err}");
    }

    #[test]
    fn bad_names_and_non_object_schemas_are_rejected() {
        assert!(check_strict_schema("has space", &verdict_schema()).is_err());
        assert!(check_strict_schema("", &verdict_schema()).is_err());
        assert!(check_strict_schema("s", &json!({"type": "string"})).is_err());
        assert!(check_strict_schema("s", &json!({"type": "object"})).is_err());
    }
}
