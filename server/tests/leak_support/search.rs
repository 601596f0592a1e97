//! Looking for card data in bytes: a card's number as typed (plain, grouped with spaces,
//! grouped with dashes), its middle digits, and its security code.
//!
//! The BIN (first six digits) and the last four may legitimately be stored and shown, so
//! the "middle digits" needle is what lies between them (digits 7 to len−4): it cannot be
//! made from the BIN and the last four, and it is what a truncation bug would reveal.
//!
//! A CVC is three or four digits, which random identifiers and timings contain by chance,
//! so it only counts as a number of its own: not touching an ASCII letter, digit or `_`
//! (base62 ids like `req_k846Tz…` and hex are words, not numbers), and not the value of a
//! timing field (`latency_us=846`, `elapsed=1.846ms`, `time.busy=846µs`).

use std::fmt;

/// A card the test types: a Luhn-valid number without separators and its security code.
#[derive(Clone, Copy)]
pub struct TestCard {
    pub label: &'static str,
    pub number: &'static str,
    pub cvc: &'static str,
}

impl TestCard {
    pub fn bin(&self) -> &'static str {
        &self.number[..6]
    }

    pub fn last4(&self) -> &'static str {
        &self.number[self.number.len() - 4..]
    }

    /// Digits 7 to len−4: neither in the BIN nor in the last four.
    pub fn middle(&self) -> &'static str {
        &self.number[6..self.number.len() - 4]
    }

    /// The number grouped as embossed, `sep` between groups: 4-6-5 for 15 digits (Amex),
    /// 4-4-4-4 otherwise.
    pub fn grouped(&self, sep: &str) -> String {
        group(self.number, sep)
    }

    /// The middle digits as they appear in the grouped number, separators included
    /// (`66 5566` for 4000 0566 5566 5556).
    pub fn grouped_middle(&self, sep: &str) -> String {
        let grouped = self.grouped(sep);
        let digit_offsets: Vec<usize> = grouped
            .char_indices()
            .filter(|(_, c)| c.is_ascii_digit())
            .map(|(offset, _)| offset)
            .collect();
        let first = digit_offsets[6];
        let last = digit_offsets[self.number.len() - 5];
        grouped[first..=last].to_owned()
    }
}

/// `digits` grouped as embossed: 4-6-5 for 15 digits (Amex), fours otherwise.
pub fn group(digits: &str, sep: &str) -> String {
    let sizes: &[usize] = if digits.len() == 15 {
        &[4, 6, 5]
    } else {
        &[4; 5]
    };
    let mut groups = Vec::new();
    let mut rest = digits;
    for &size in sizes {
        if rest.is_empty() {
            break;
        }
        let (head, tail) = rest.split_at(size.min(rest.len()));
        groups.push(head);
        rest = tail;
    }
    groups.join(sep)
}

enum Rule {
    /// Anywhere, as a plain substring.
    Substring,
    /// As a number of its own, timings masked (see the module doc).
    Standalone,
}

struct Needle {
    label: String,
    bytes: Vec<u8>,
    rule: Rule,
}

/// What to look for.
pub struct Needles(Vec<Needle>);

/// One occurrence of card data.
pub struct Hit {
    pub source: String,
    pub needle: String,
    pub offset: usize,
    /// The bytes around the hit, the hit itself replaced by its label, so a failure's
    /// message shows where the data was without printing it once more.
    pub context: String,
}

impl fmt::Display for Hit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {} of {}: {}",
            self.needle, self.offset, self.source, self.context
        )
    }
}

/// Fields whose values are durations; their digits are masked before looking for a CVC.
const TIMING_FIELDS: [&[u8]; 5] = [
    b"latency_us=",
    b"elapsed=",
    b"elapsed_secs=",
    b"time.busy=",
    b"time.idle=",
];

const CONTEXT_BYTES: usize = 48;

impl Needles {
    /// For each card: the number plain and grouped (spaces, dashes), its middle digits
    /// (plain and as they sit in the grouped number), and its CVC.
    pub fn for_cards(cards: &[TestCard]) -> Needles {
        let mut needles = Needles(Vec::new());
        for card in cards {
            assert!(
                !format!("{}{}", card.bin(), card.last4()).contains(card.middle())
                    && !format!("{}{}", card.last4(), card.bin()).contains(card.middle()),
                "{}: its middle digits must not be made from its BIN and last four",
                card.label
            );
            needles = needles.number(&format!("{} number", card.label), card.number);
            needles.push(
                format!("{} middle digits", card.label),
                card.middle(),
                Rule::Substring,
            );
            for (form, sep) in [("spaces", " "), ("dashes", "-")] {
                needles.push(
                    format!("{} middle digits ({form})", card.label),
                    &card.grouped_middle(sep),
                    Rule::Substring,
                );
            }
            needles.push(format!("{} CVC", card.label), card.cvc, Rule::Standalone);
        }
        needles
    }

    /// Adds another card number the test typed (plain and grouped), e.g. a mistyped one.
    pub fn number(mut self, label: &str, digits: &str) -> Needles {
        self.push(format!("{label} (plain)"), digits, Rule::Substring);
        self.push(
            format!("{label} (spaces)"),
            &group(digits, " "),
            Rule::Substring,
        );
        self.push(
            format!("{label} (dashes)"),
            &group(digits, "-"),
            Rule::Substring,
        );
        self
    }

    fn push(&mut self, label: String, text: &str, rule: Rule) {
        self.0.push(Needle {
            label,
            bytes: text.as_bytes().to_vec(),
            rule,
        });
    }

    /// Every occurrence of every needle in `haystack`, which is called `source` in hits.
    pub fn find(&self, source: &str, haystack: &[u8]) -> Vec<Hit> {
        let masked = mask_timings(haystack);
        let mut hits = Vec::new();
        for needle in &self.0 {
            let (searched, standalone) = match needle.rule {
                Rule::Substring => (haystack, false),
                Rule::Standalone => (&masked[..], true),
            };
            for offset in occurrences(searched, &needle.bytes) {
                let end = offset + needle.bytes.len();
                if standalone && touches_word(searched, offset, end) {
                    continue;
                }
                hits.push(Hit {
                    source: source.to_owned(),
                    needle: needle.label.clone(),
                    offset,
                    context: context(haystack, offset, end, &needle.label),
                });
            }
        }
        hits
    }
}

/// Start offsets of every (possibly overlapping) occurrence of `needle` in `haystack`.
fn occurrences<'a>(haystack: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(move |(_, window)| *window == needle)
        .map(|(offset, _)| offset)
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Whether `haystack[start..end]` is glued to a letter, digit or `_` on either side.
fn touches_word(haystack: &[u8], start: usize, end: usize) -> bool {
    let before = start.checked_sub(1).map(|i| haystack[i]);
    let after = haystack.get(end).copied();
    before.is_some_and(is_word_byte) || after.is_some_and(is_word_byte)
}

/// `haystack` with the value of every timing field replaced by `#`s (same length).
fn mask_timings(haystack: &[u8]) -> Vec<u8> {
    let mut masked = haystack.to_vec();
    for field in TIMING_FIELDS {
        for start in occurrences(haystack, field) {
            let value = start + field.len();
            for byte in &mut masked[value..] {
                if matches!(byte, b' ' | b'\t' | b'\n' | b',' | b'}' | b'"') {
                    break;
                }
                *byte = b'#';
            }
        }
    }
    masked
}

fn context(haystack: &[u8], start: usize, end: usize, label: &str) -> String {
    let before = &haystack[start.saturating_sub(CONTEXT_BYTES)..start];
    let after = &haystack[end..(end + CONTEXT_BYTES).min(haystack.len())];
    format!(
        "…{}⟦{label}⟧{}…",
        String::from_utf8_lossy(before).escape_debug(),
        String::from_utf8_lossy(after).escape_debug()
    )
}
