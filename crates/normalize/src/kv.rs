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
        match split_at_equals(item) {
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

/// Splits at `,` followed by one whitespace character. (The items are short: a
/// byte loop finds `,` for less than a `memchr` call costs.)
fn split_items(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let current = rest?;
        let bytes = current.as_bytes();
        let mut search = 0;
        while let Some(i) = bytes[search..].iter().position(|&b| b == b',') {
            let comma = search + i;
            let ws_len = match bytes.get(comma + 1) {
                // `char::is_whitespace` on ASCII.
                Some(b' ' | b'\t'..=b'\r') => 1,
                Some(&b) if b >= 0x80 => current[comma + 1..]
                    .chars()
                    .next()
                    .filter(|c| c.is_whitespace())
                    .map_or(0, char::len_utf8),
                _ => 0,
            };
            if ws_len > 0 {
                rest = Some(&current[comma + 1 + ws_len..]);
                return Some(&current[..comma]);
            }
            search = comma + 1;
        }
        rest = None;
        Some(current)
    })
}

/// `item` split at its first `=`.
fn split_at_equals(item: &str) -> Option<(&str, &str)> {
    let at = item.as_bytes().iter().position(|&b| b == b'=')?;
    Some((&item[..at], &item[at + 1..]))
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
    fn items_split_at_a_comma_and_any_one_whitespace_character() {
        assert_eq!(
            owned("{a=1,\tb=2,\u{a0}c=3,\u{2003}d=4,\u{b}e=5,x=6,\u{e9}=7}"),
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "2".to_owned()),
                ("c".to_owned(), "3".to_owned()),
                ("d".to_owned(), "4".to_owned()),
                ("e".to_owned(), "5,x=6,\u{e9}=7".to_owned()),
            ]
        );
        assert_eq!(
            owned("{k=v, , ü=x=y,  z}"),
            vec![
                ("k".to_owned(), "v, ".to_owned()),
                ("ü".to_owned(), "x=y,  z".to_owned()),
            ]
        );
    }

    /// The splitting rule written the plain way (`str::find`, `split_once`).
    fn reference_items(s: &str) -> Vec<(&str, Option<(&str, &str)>)> {
        let mut items = Vec::new();
        let mut current = s;
        let mut search = 0;
        loop {
            match current[search..].find(',') {
                Some(i) => {
                    let comma = search + i;
                    let after = &current[comma + 1..];
                    match after.chars().next().filter(|c| c.is_whitespace()) {
                        Some(ws) => {
                            let item = &current[..comma];
                            items.push((item, item.split_once('=')));
                            current = &after[ws.len_utf8()..];
                            search = 0;
                        }
                        None => search = comma + 1,
                    }
                }
                None => {
                    items.push((current, current.split_once('=')));
                    return items;
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn items_split_like_the_plain_rule(s in "[a=, \t\u{b}\u{a0}\u{2003}\u{e9}{}]{0,24}") {
            let ours: Vec<_> = split_items(&s).map(|i| (i, split_at_equals(i))).collect();
            proptest::prop_assert_eq!(ours, reference_items(&s));
        }
    }

    #[test]
    fn strings_without_pairs_are_not_parsed() {
        assert!(parse("{}").is_none());
        assert!(parse("").is_none());
        assert!(parse("just words").is_none());
    }
}
