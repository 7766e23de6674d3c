//! Recognises the three input forms and parses the LogEvent out of them.

use crate::error::NormalizeError;
use crate::json::Json;
use crate::model::{Envelope, LogEvent};

/// Where the LogEvent is in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form<'s> {
    /// The input is the LogEvent.
    Raw,
    /// `{"message": "<LogEvent JSON text>"}` (Sekoia.io case format).
    Wrapper(&'s str),
    /// AWS EventBridge envelope (Okta log streaming): the LogEvent is `detail`.
    EventBridge(&'s str),
}

const WRAPPER: &str = "message wrapper";
const EVENTBRIDGE: &str = "EventBridge envelope";

/// Parses the top-level JSON object of an input.
pub(crate) fn parse_top(input: &[u8]) -> Result<LogEvent<'_>, NormalizeError> {
    // Validating UTF-8 once for the whole input is much cheaper than
    // serde_json's per-string check; invalid UTF-8 takes the slice path so the
    // error names the position.
    match simdutf8::basic::from_utf8(input) {
        Ok(text) => parse_top_str(text),
        Err(_) => checked_top(serde_json::from_slice::<LogEvent<'_>>(input)),
    }
}

/// [`parse_top`] of input known to be UTF-8: the fast reader ([`crate::fast`]), or
/// serde_json where it gives up (same model, same errors).
pub(crate) fn parse_top_str(input: &str) -> Result<LogEvent<'_>, NormalizeError> {
    match crate::fast::log_event(input) {
        Some(top) => Ok(top),
        None => parse_top_serde(input),
    }
}

/// [`parse_top_str`] by serde_json alone.
pub(crate) fn parse_top_serde(input: &str) -> Result<LogEvent<'_>, NormalizeError> {
    checked_top(serde_json::from_str::<LogEvent<'_>>(input))
}

fn checked_top(parsed: serde_json::Result<LogEvent<'_>>) -> Result<LogEvent<'_>, NormalizeError> {
    let top = parsed.map_err(NormalizeError::NotJson)?;
    if top.other.is_some() {
        return Err(NormalizeError::NotAnObject);
    }
    Ok(top)
}

/// Parses the object around the LogEvent of a wrapper or envelope (its
/// LogEvent member is skipped). `input` already parsed as a JSON object.
pub(crate) fn parse_envelope(input: &[u8]) -> Result<Envelope<'_>, NormalizeError> {
    let parsed = match std::str::from_utf8(input) {
        Ok(text) => serde_json::from_str::<Envelope<'_>>(text),
        Err(_) => serde_json::from_slice::<Envelope<'_>>(input),
    };
    parsed.map_err(NormalizeError::NotJson)
}

/// Decides which form `top` is.
///
/// An object with `detail` and either `detail-type` or no `eventType` is an
/// EventBridge envelope; an object with a `message` and neither `uuid` nor
/// `eventType` is a wrapper; anything else is a raw LogEvent.
pub(crate) fn form<'s>(top: &'s LogEvent<'_>) -> Result<Form<'s>, NormalizeError> {
    if let Some(detail) = top.detail {
        if top.detail_type.is_some() || top.event_type.is_none() {
            return Ok(Form::EventBridge(detail.get()));
        }
    }
    if top.uuid.is_none() && top.event_type.is_none() {
        match &top.message {
            Some(Json::Str(text)) => return Ok(Form::Wrapper(text)),
            Some(other) if !other.is_empty() => {
                return Err(NormalizeError::InvalidEnvelope {
                    form: WRAPPER,
                    reason: "`message` is not a string holding the LogEvent JSON".to_owned(),
                })
            }
            _ => {}
        }
    }
    Ok(Form::Raw)
}

/// Parses the LogEvent held by a wrapper or envelope; `None` for a raw LogEvent.
pub(crate) fn parse_inner<'i>(form: Form<'i>) -> Option<Result<LogEvent<'i>, NormalizeError>> {
    let (name, text) = match form {
        Form::Raw => return None,
        Form::Wrapper(text) => (WRAPPER, text),
        Form::EventBridge(text) => (EVENTBRIDGE, text),
    };
    Some(parse_text(name, text))
}

fn parse_text<'i>(name: &'static str, text: &'i str) -> Result<LogEvent<'i>, NormalizeError> {
    let what = if name == WRAPPER {
        "`message`"
    } else {
        "`detail`"
    };
    if let Some(inner) = crate::fast::log_event(text) {
        return Ok(inner);
    }
    let inner: LogEvent<'i> =
        serde_json::from_str(text).map_err(|e| NormalizeError::InvalidEnvelope {
            form: name,
            reason: format!("{what} is not valid JSON: {e}"),
        })?;
    if inner.other.is_some() {
        return Err(NormalizeError::InvalidEnvelope {
            form: name,
            reason: format!("{what} is not a JSON object"),
        });
    }
    Ok(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_of(input: &str) -> Result<String, String> {
        let top = parse_top(input.as_bytes()).map_err(|e| e.to_string())?;
        let f = form(&top).map_err(|e| e.to_string())?;
        Ok(match f {
            Form::Raw => "raw".to_owned(),
            Form::Wrapper(t) => format!("wrapper:{t}"),
            Form::EventBridge(t) => format!("eventbridge:{t}"),
        })
    }

    #[test]
    fn raw_event() {
        assert_eq!(
            form_of(r#"{"uuid":"u","eventType":"e","published":"p"}"#),
            Ok("raw".to_owned())
        );
    }

    #[test]
    fn raw_event_with_a_message_member_stays_raw() {
        assert_eq!(
            form_of(r#"{"uuid":"u","eventType":"e","message":"hi"}"#),
            Ok("raw".to_owned())
        );
    }

    #[test]
    fn wrapper() {
        assert_eq!(
            form_of(r#"{"message":"{\"uuid\":\"u\"}"}"#),
            Ok(r#"wrapper:{"uuid":"u"}"#.to_owned())
        );
    }

    #[test]
    fn eventbridge() {
        let input = r#"{"version":"0","id":"x","detail-type":"SystemLog","source":"aws.partner/okta.com/o/n","detail":{"uuid":"u"}}"#;
        assert_eq!(form_of(input), Ok(r#"eventbridge:{"uuid":"u"}"#.to_owned()));
    }

    #[test]
    fn errors_name_the_problem() {
        let err = |input: &str| {
            let top = match parse_top(input.as_bytes()) {
                Ok(top) => top,
                Err(e) => return e.to_string(),
            };
            match form(&top).and_then(|f| parse_inner(f).transpose().map(|_| ())) {
                Ok(()) => "ok".to_owned(),
                Err(e) => e.to_string(),
            }
        };
        assert!(err("{").contains("not valid JSON"));
        assert!(err("[1]").contains("not a JSON object"));
        assert!(err(r#"{"message":"not json"}"#).contains("`message` is not valid JSON"));
        assert!(err(r#"{"message":"[1]"}"#).contains("`message` is not a JSON object"));
        assert!(err(r#"{"message":{"a":1}}"#).contains("not a string"));
        assert!(err(r#"{"detail-type":"SystemLog","detail":3}"#)
            .contains("`detail` is not a JSON object"));
    }
}
