//! Static files with their gzip and brotli encodings, made once when the file is loaded
//! (brotli at quality 11 takes most of a second for the frame's wasm: too much for a
//! request), and the choice among them by the request's `Accept-Encoding`.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use std::io::Write;

pub struct Encoded {
    identity: Bytes,
    gzip: Bytes,
    brotli: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

/// The best coding the client accepts (brotli, then gzip), honouring `q=0` refusals.
fn choose(accept: Option<&HeaderValue>) -> Coding {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return Coding::Identity;
    };
    let accepted = |name: &str| {
        accept.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.replace(' ', "").starts_with("q=0")
                    && !p.contains(|c: char| ('1'..='9').contains(&c))
            });
            (coding.eq_ignore_ascii_case(name) || coding == "*") && !refused
        })
    };
    if accepted("br") {
        Coding::Brotli
    } else if accepted("gzip") {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

impl Encoded {
    /// Encodes `bytes` at once: CPU-heavy, so call it off the async runtime.
    pub fn new(bytes: Vec<u8>) -> Encoded {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gzip.write_all(&bytes).expect("writing to memory");
        let gzip = Bytes::from(gzip.finish().expect("writing to memory"));
        let mut brotli = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &bytes[..], &mut brotli, &params).expect("writing to memory");
        Encoded {
            identity: Bytes::from(bytes),
            gzip,
            brotli: Bytes::from(brotli),
        }
    }

    /// The body to send for a request with `request_headers`, and the response headers
    /// that say how it is encoded.
    pub fn pick(&self, request_headers: &HeaderMap) -> (HeaderMap, Bytes) {
        let mut headers = HeaderMap::new();
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        let body = match choose(request_headers.get(header::ACCEPT_ENCODING)) {
            Coding::Brotli => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
                self.brotli.clone()
            }
            Coding::Gzip => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                self.gzip.clone()
            }
            Coding::Identity => self.identity.clone(),
        };
        (headers, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn request(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept).unwrap(),
        );
        h
    }

    #[test]
    fn chooses_by_accept_encoding() {
        assert_eq!(
            choose(Some(&HeaderValue::from_static("gzip, deflate, br, zstd"))),
            Coding::Brotli
        );
        assert_eq!(
            choose(Some(&HeaderValue::from_static("gzip"))),
            Coding::Gzip
        );
        assert_eq!(
            choose(Some(&HeaderValue::from_static("br;q=0, gzip;q=0.8"))),
            Coding::Gzip
        );
        assert_eq!(
            choose(Some(&HeaderValue::from_static("identity"))),
            Coding::Identity
        );
        assert_eq!(choose(None), Coding::Identity);
    }

    #[test]
    fn encodings_decode_to_the_original() {
        let original = b"(module) ".repeat(500);
        let file = Encoded::new(original.clone());
        let (headers, body) = file.pick(&request("br"));
        assert_eq!(headers[header::CONTENT_ENCODING], "br");
        let mut decoded = Vec::new();
        brotli::BrotliDecompress(&mut &body[..], &mut decoded).unwrap();
        assert_eq!(decoded, original);
        let (headers, body) = file.pick(&request("gzip"));
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, original);
        let (headers, body) = file.pick(&HeaderMap::new());
        assert!(headers.get(header::CONTENT_ENCODING).is_none());
        assert_eq!(&body[..], &original[..]);
        assert!(file.pick(&request("br")).1.len() < original.len() / 10);
    }
}
