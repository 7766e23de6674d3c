//! Okta's `{key=value, key=value}` strings (debugData `behaviors`, `risk`).

use std::borrow::Cow;

/// Parses `{New IP=NEGATIVE, level=MEDIUM}` into ordered pairs.
///
/// Braces around the whole string are stripped, items are separated by a comma
/// and one whitespace character, and each item splits at its first `=`. An item
/// without `=` continues the previous value (`reasons=New Device, New IP`), so
/// nothing is dropped. Returns `None` when the string holds no `key=value` pair.
pub(crate) fn parse(s: &str) -> Option<Vec<(Cow<'_, str>, Cow<'_, str>)>> {
    let inner = s.trim_matches(|c| c == '{' || c == '}');
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::with_capacity(8);
    for item in split_items(inner) {
        match item.split_once('=') {
            Some((k, v)) => pairs.push((Cow::Borrowed(k.trim()), Cow::Borrowed(v.trim()))),
            None => match pairs.last_mut() {
                Some((_, v)) => *v = Cow::Owned(format!("{v}, {item}")),
                None if item.trim().is_empty() => {}
                None => return None,
            },
        }
    }
    if pairs.is_empty() {
        None
    } else {
        Some(pairs)
    }
}

/// Splits at `,` followed by one whitespace character.
fn split_items(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let current = rest?;
        let mut search = 0;
        loop {
            match current[search..].find(',') {
                Some(i) => {
                    let comma = search + i;
                    let after = &current[comma + 1..];
                    if after.chars().next().is_some_and(char::is_whitespace) {
                        let ws_len = after.chars().next().map_or(0, char::len_utf8);
                        rest = Some(&after[ws_len..]);
                        return Some(&current[..comma]);
                    }
                    search = comma + 1;
                }
                None => {
                    rest = None;
                    return Some(current);
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(s: &str) -> Vec<(String, String)> {
        parse(s)
            .expect("pairs")
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn behaviors_string_becomes_pairs() {
        let pairs = owned("{New Geo-Location=NEGATIVE, New Device=POSITIVE, Velocity=NEGATIVE}");
        assert_eq!(
            pairs,
            vec![
                ("New Geo-Location".to_owned(), "NEGATIVE".to_owned()),
                ("New Device".to_owned(), "POSITIVE".to_owned()),
                ("Velocity".to_owned(), "NEGATIVE".to_owned()),
            ]
        );
    }

    #[test]
    fn risk_with_list_of_reasons_keeps_every_reason() {
        let pairs = owned("{reasons=New Device, New IP, level=HIGH}");
        assert_eq!(
            pairs,
            vec![
                ("reasons".to_owned(), "New Device, New IP".to_owned()),
                ("level".to_owned(), "HIGH".to_owned()),
            ]
        );
    }

    #[test]
    fn comma_without_space_stays_inside_a_value() {
        assert_eq!(
            owned("{a=1,2, b=3}"),
            vec![
                ("a".to_owned(), "1,2".to_owned()),
                ("b".to_owned(), "3".to_owned())
            ]
        );
    }

    #[test]
    fn strings_without_pairs_are_not_parsed() {
        assert!(parse("{}").is_none());
        assert!(parse("").is_none());
        assert!(parse("just words").is_none());
    }
}
