//! [`error_chain`]: an error and its sources on one line.

/// The error and its sources joined with `: ` on one line (whitespace folded), each
/// source left out when an earlier part already says it. reqwest hides the interesting
/// part ("connection refused", "dns error") in the source chain; call
/// `reqwest::Error::without_url` first so that no URL (and no query) is shown.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(err) = source {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = err.source();
    }
    parts
        .join(": ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    #[test]
    fn joins_sources_skipping_repeats_on_one_line() {
        let inner = Layer {
            text: "connection\nrefused",
            source: None,
        };
        let middle = Layer {
            text: "tcp connect error: connection refused",
            source: None,
        };
        let outer = Layer {
            text: "error sending request",
            source: Some(Box::new(Layer {
                text: "client error (Connect)",
                source: Some(Box::new(inner)),
            })),
        };
        assert_eq!(
            error_chain(&outer),
            "error sending request: client error (Connect): connection refused"
        );
        assert_eq!(
            error_chain(&middle),
            "tcp connect error: connection refused"
        );
    }
}
