//! What embed.js tells the frame through its URL: the session id in the query (so the
//! gateway can set `frame-ancestors`), and in the fragment — never sent to any server —
//! the client secret, the embedding page's origin, this instance's channel and the
//! merchant's display options (`opts`, URL-encoded JSON; see `options.rs`).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameParams {
    pub session_id: String,
    pub client_secret: String,
    pub parent_origin: String,
    pub channel: String,
    /// The `opts` JSON text, unchecked; `options::OptionsPatch::parse` reads it.
    pub options: Option<String>,
}

const SECRET_MARK: &[u8] = b"_secret_";

/// Decodes `%XX` escapes and `+` of a URL query component.
fn decode(component: &str) -> Option<String> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = component.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

pub fn get(pairs: &str, key: &str) -> Option<String> {
    pairs
        .trim_start_matches(['?', '#'])
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| decode(v))
}

/// Parses `location.search` and `location.hash`; `None` when anything is missing or the
/// secret does not belong to the session named in the query.
pub fn parse(search: &str, hash: &str) -> Option<FrameParams> {
    let session_id = get(search, "session")?;
    let client_secret = get(hash, "secret")?;
    // The secret is `<session id>_secret_<…>`. (A byte search rather than
    // `split_once("_secret_")`, whose substring searcher is large in wasm.)
    let at = client_secret
        .as_bytes()
        .windows(SECRET_MARK.len())
        .position(|w| w == SECRET_MARK)?;
    if client_secret.as_bytes().get(..at) != Some(session_id.as_bytes()) {
        return None;
    }
    Some(FrameParams {
        session_id,
        client_secret,
        parent_origin: get(hash, "origin")?,
        channel: get(hash, "channel").filter(|c| !c.is_empty())?,
        options: get(hash, "opts"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    // Run in headless Chromium like the frame itself (scripts/test.sh).
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn parses_query_and_fragment() {
        let p = parse(
            "?session=cs_abc",
            "#secret=cs_abc_secret_xyz&origin=http%3A%2F%2F127.0.0.1%3A3000&channel=c1",
        )
        .unwrap();
        assert_eq!(p.session_id, "cs_abc");
        assert_eq!(p.client_secret, "cs_abc_secret_xyz");
        assert_eq!(p.parent_origin, "http://127.0.0.1:3000");
        assert_eq!(p.channel, "c1");
        assert_eq!(p.options, None);
        let p = parse(
            "?session=cs_abc",
            "#secret=cs_abc_secret_xyz&origin=o&channel=c&opts=%7B%22locale%22%3A%22pt-BR%22%7D",
        )
        .unwrap();
        assert_eq!(p.options.as_deref(), Some(r#"{"locale":"pt-BR"}"#));
    }

    #[test]
    fn refuses_a_secret_of_another_session_or_missing_parts() {
        assert!(
            parse(
                "?session=cs_other",
                "#secret=cs_abc_secret_xyz&origin=o&channel=c"
            )
            .is_none()
        );
        assert!(parse("?session=cs_abc", "#secret=cs_abc_secret_xyz&channel=c").is_none());
        assert!(parse("", "").is_none());
    }
}
