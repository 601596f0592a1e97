//! Keeping the caret where the shopper left it when a field reformats its value (the
//! number regroups, the expiry gains its ` / `). The caret's place is counted in kept
//! characters (digits, for the card fields): so many of them before the caret before
//! the edit, as many after it. Positions are in UTF-16 code units, as the DOM counts.

/// The UTF-16 position in `text` just after its `count`-th kept character (0 → 0).
fn position_after(text: &str, count: usize, keep: fn(char) -> bool) -> usize {
    if count == 0 {
        return 0;
    }
    let mut seen = 0;
    let mut pos = 0;
    for c in text.chars() {
        pos += c.len_utf16();
        if keep(c) {
            seen += 1;
            if seen == count {
                return pos;
            }
        }
    }
    pos
}

/// How many kept characters of `text` come before the UTF-16 position `caret`.
fn kept_before(text: &str, caret: usize, keep: fn(char) -> bool) -> usize {
    let mut pos = 0;
    let mut count = 0;
    for c in text.chars() {
        if pos >= caret {
            break;
        }
        pos += c.len_utf16();
        if keep(c) {
            count += 1;
        }
    }
    count
}

fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// `(display, caret)` for what the input holds after an edit (`raw`, caret at `caret`).
/// A caret at the end stays at the end, so a format that adds characters (the `0` of
/// `04`) does not leave it behind them.
pub fn reformat(
    raw: &str,
    caret: usize,
    format: fn(&str) -> String,
    keep: fn(char) -> bool,
) -> (String, usize) {
    let display = format(raw);
    let before = kept_before(raw, caret, keep);
    // Nothing kept after the caret: it was at the end of what the shopper typed.
    let at_end = before == kept_before(raw, usize::MAX, keep);
    let caret = if at_end {
        utf16_len(&display)
    } else {
        position_after(&display, before, keep).min(utf16_len(&display))
    };
    (display, caret)
}

/// Backspace right after a separator the form inserted (`4242 |4242`) would delete only
/// that separator, which the format puts straight back: delete the kept character
/// before it instead. `previous` is the value before the edit.
pub fn backspace_over_separator(
    previous: &str,
    raw: &str,
    caret: usize,
    keep: fn(char) -> bool,
) -> (String, usize) {
    let kept = |s: &str| s.chars().filter(|&c| keep(c)).collect::<String>();
    if raw == previous || kept(raw) != kept(previous) {
        return (raw.to_owned(), caret);
    }
    let before = kept_before(raw, caret, keep);
    if before == 0 {
        return (raw.to_owned(), caret);
    }
    // Remove the `before`-th kept character.
    let mut out = String::with_capacity(raw.len());
    let mut seen = 0;
    let mut new_caret = 0;
    let mut pos = 0;
    for c in raw.chars() {
        if keep(c) {
            seen += 1;
            if seen == before {
                new_caret = pos;
                continue;
            }
        }
        pos += c.len_utf16();
        out.push(c);
    }
    (out, new_caret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{display_expiry, display_number};
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn digit(c: char) -> bool {
        c.is_ascii_digit()
    }

    #[test]
    fn typing_at_the_end_follows_the_groups() {
        assert_eq!(
            reformat("42424", 5, display_number, digit),
            ("4242 4".into(), 6)
        );
        assert_eq!(reformat("4", 1, display_expiry, digit), ("04".into(), 2));
        assert_eq!(
            reformat("123", 3, display_expiry, digit),
            ("12 / 3".into(), 6)
        );
    }

    #[test]
    fn inserting_in_the_middle_keeps_the_caret_after_the_new_digit() {
        // "4242 |4242 4242 424" + "1" typed at position 5.
        let (shown, caret) = reformat("4242 14242 4242 424", 6, display_number, digit);
        assert_eq!(shown, "4242 1424 2424 2424");
        assert_eq!(caret, 6);
        // "42|42 4242" + "9" at position 2: caret after the 9, i.e. 3.
        assert_eq!(
            reformat("429242 4242", 3, display_number, digit),
            ("4292 4242 42".into(), 3)
        );
        // Deleting the first digit of the second group.
        assert_eq!(
            reformat("4242 242 4242 4242", 5, display_number, digit),
            ("4242 2424 2424 242".into(), 4)
        );
    }

    #[test]
    fn pasting_with_dashes_puts_the_caret_at_the_end() {
        assert_eq!(
            reformat("4242-4242 4242 4242", 19, display_number, digit),
            ("4242 4242 4242 4242".into(), 19)
        );
    }

    #[test]
    fn positions_count_utf16_units() {
        assert_eq!(position_after("é1𝔸2", 2, digit), 5);
        assert_eq!(kept_before("é1𝔸2", 4, digit), 1);
    }

    #[test]
    fn backspace_on_a_separator_deletes_the_digit_before_it() {
        // "4242 |4242" with the space deleted → "42424242", caret 4.
        assert_eq!(
            backspace_over_separator("4242 4242", "42424242", 4, digit),
            ("4244242".into(), 3)
        );
        // An ordinary deletion is left alone.
        assert_eq!(
            backspace_over_separator("4242 4242", "4242 424", 8, digit),
            ("4242 424".into(), 8)
        );
    }
}
