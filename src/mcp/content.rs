//! An MCP tool result as the text the model receives.
//!
//! Text blocks are passed as they are; binary blocks (images, audio, blobs)
//! are described, never inlined (base64 would only burn the model's
//! context); structured content is used when there is no text.

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};

/// The model-facing text of a tool result.
pub fn render(result: &CallToolResult) -> String {
    let mut parts: Vec<String> = result.content.iter().map(render_block).collect();
    let has_text = result
        .content
        .iter()
        .any(|c| matches!(c, ContentBlock::Text(_)));
    if !has_text && let Some(structured) = &result.structured_content {
        parts.push(structured.to_string());
    }
    if parts.is_empty() {
        return "(no output)".into();
    }
    parts.join("\n")
}

fn render_block(block: &ContentBlock) -> String {
    match block {
        ContentBlock::Text(t) => t.text.clone(),
        ContentBlock::Image(i) => format!(
            "[image: {}, {} bytes of base64, not shown]",
            i.mime_type,
            i.data.len()
        ),
        ContentBlock::Audio(a) => format!(
            "[audio: {}, {} bytes of base64, not shown]",
            a.mime_type,
            a.data.len()
        ),
        ContentBlock::Resource(r) => match &r.resource {
            ResourceContents::TextResourceContents { uri, text, .. } => {
                format!("[resource {uri}]\n{text}")
            }
            ResourceContents::BlobResourceContents {
                uri,
                mime_type,
                blob,
                ..
            } => format!(
                "[resource {uri}: {}, {} bytes of base64, not shown]",
                mime_type.as_deref().unwrap_or("binary"),
                blob.len()
            ),
            _ => "[resource of an unknown kind, not shown]".into(),
        },
        ContentBlock::ResourceLink(l) => format!("[resource link {} ({})]", l.uri, l.name),
        _ => "[content of an unknown kind, not shown]".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_images_and_structured_content() {
        let r = CallToolResult::success(vec![
            ContentBlock::text("hello"),
            ContentBlock::image("AAAA", "image/png"),
        ]);
        assert_eq!(
            render(&r),
            "hello\n[image: image/png, 4 bytes of base64, not shown]"
        );
        let mut s = CallToolResult::success(vec![]);
        assert_eq!(render(&s), "(no output)");
        s.structured_content = Some(serde_json::json!({"n": 1}));
        assert_eq!(render(&s), "{\"n\":1}");
    }
}
