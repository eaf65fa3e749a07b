//! The request head's own rules, checked first, before the path is normalised or any endpoint
//! or route looks at a request: which one host it is for, how its body is framed, and the
//! methods the gateway never forwards. A request that breaks one is refused as a whole, so
//! that no part of the gateway (routing, `Host` upstream, `X-Forwarded-Host`) and no upstream
//! behind it can read the same bytes differently.
//!
//! - **Host** (RFC 9112 §3.2, §3.2.2; RFC 9113 §8.3.1). An HTTP/1.1 request must carry
//!   exactly one `Host`; none, two lines, or a value that is not `host[:port]` is refused. When
//!   the target has an authority of its own (an absolute-form target, or HTTP/2's
//!   `:authority`), that authority is the request's host, and a `Host` header beside it must
//!   name the same host and port (a mismatch is refused rather than resolved: a proxy in front
//!   may have routed by the other one). Routing, the `Host` sent upstream and
//!   `X-Forwarded-Host` all use that one host.
//! - **Transfer-Encoding** (RFC 9112 §6.1, §6.3). hyper already refuses a coding list whose
//!   last coding is not `chunked`, and reads a request that carries `Content-Length` beside it
//!   by `Transfer-Encoding` alone and closes the connection after it. Here: `chunked` must
//!   appear exactly once over all the lines, and any other coding (`gzip, chunked`), which the
//!   gateway does not decode and must not pass on as if it had, is 501.
//! - **Methods** (RFC 9110 §9.3.6, §9.3.8). `TRACE` (and Microsoft's `TRACK`) echo the request,
//!   credentials and cookies included, back to whoever sent it (cross-site tracing); `CONNECT`
//!   would make the gateway a tunnel to anywhere. Neither is ever forwarded, on any path.
//!
//! Every refusal here is a malformed or hostile request head: the connection is closed after
//! the answer (decided in `rescue`).

use std::borrow::Cow;
use std::fmt;

use http::header::{self, HeaderMap, HeaderValue};
use http::uri::{Authority, Uri};
use http::{Method, Version};

/// The methods the gateway forwards, for the `Allow` header of a refused method's 405.
pub const FORWARDED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Why a request head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadRejection {
    /// An HTTP/1.1 request without `Host`.
    MissingHost,
    /// More than one `Host` line.
    RepeatedHost,
    /// A `Host` (or target authority) that is not `host[:port]`, or carries user information.
    InvalidHost,
    /// The target's authority and the `Host` header name different hosts.
    HostMismatch,
    /// `chunked` more than once, or a `Transfer-Encoding` value that is not text.
    BadFraming,
    /// A transfer coding other than `chunked` (501).
    UnsupportedCoding,
    /// `TRACE`, `TRACK` or `CONNECT` (405).
    MethodRefused,
}

impl fmt::Display for HeadRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeadRejection::MissingHost => "an HTTP/1.1 request needs a Host header",
            HeadRejection::RepeatedHost => "the request has more than one Host header",
            HeadRejection::InvalidHost => "invalid Host header",
            HeadRejection::HostMismatch => "the Host header and the request target disagree",
            HeadRejection::BadFraming => "the request's Transfer-Encoding is malformed",
            HeadRejection::UnsupportedCoding => {
                "the only transfer coding accepted is a single chunked"
            }
            HeadRejection::MethodRefused => "this method is never forwarded",
        })
    }
}

impl std::error::Error for HeadRejection {}

/// The one host a request is for, as checked by [`check`]. It owns its bytes (a header value
/// is a reference-counted buffer), so it outlives the request it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHost {
    /// `host[:port]` as the client sent it.
    authority: Option<HeaderValue>,
    /// The length of its host part (a prefix of `authority`).
    host_len: usize,
}

impl RequestHost {
    const NONE: RequestHost = RequestHost {
        authority: None,
        host_len: 0,
    };

    /// `host` is the host part of `authority`; it must be a DNS name or an IP literal.
    fn new(authority: HeaderValue, host: &str) -> Result<RequestHost, HeadRejection> {
        let name = host_name(host).ok_or(HeadRejection::InvalidHost)?;
        Ok(RequestHost {
            authority: Some(authority),
            host_len: name.len(),
        })
    }

    /// The host name, lower case, without port: what routes match (`None`: the request names
    /// no host, as HTTP/1.0 may, and only routes without `host` can serve it).
    pub fn name(&self) -> Option<Cow<'_, str>> {
        let text = self.authority.as_ref()?.to_str().ok()?;
        let host = text.get(..self.host_len)?;
        Some(if host.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(host.to_ascii_lowercase())
        } else {
            Cow::Borrowed(host)
        })
    }

    /// `host[:port]` as the client sent it, for `X-Forwarded-Host` and `preserve_host`.
    pub fn authority(&self) -> Option<&HeaderValue> {
        self.authority.as_ref()
    }
}

/// Checks the request head (see the module doc) and returns the host it is for.
pub fn check(
    method: &Method,
    version: Version,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<RequestHost, HeadRejection> {
    if method == Method::TRACE || method == Method::CONNECT || method.as_str() == "TRACK" {
        return Err(HeadRejection::MethodRefused);
    }
    check_framing(headers)?;
    request_host(version, uri, headers)
}

fn check_framing(headers: &HeaderMap) -> Result<(), HeadRejection> {
    let mut chunked = 0usize;
    for value in headers.get_all(header::TRANSFER_ENCODING) {
        let text = value.to_str().map_err(|_| HeadRejection::BadFraming)?;
        // A list may hold empty elements (RFC 9110 §5.6.1); they name no coding.
        for coding in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if coding.eq_ignore_ascii_case("chunked") {
                chunked += 1;
            } else {
                return Err(HeadRejection::UnsupportedCoding);
            }
        }
    }
    if chunked > 1 {
        return Err(HeadRejection::BadFraming);
    }
    Ok(())
}

fn request_host(
    version: Version,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<RequestHost, HeadRejection> {
    let mut lines = headers.get_all(header::HOST).iter();
    let host_header = lines.next();
    if lines.next().is_some() {
        return Err(HeadRejection::RepeatedHost);
    }
    match uri.authority() {
        Some(target) => {
            if target.as_str().contains('@') {
                return Err(HeadRejection::InvalidHost);
            }
            if let Some(value) = host_header {
                let text = value.to_str().map_err(|_| HeadRejection::InvalidHost)?;
                let sent: Authority = text.parse().map_err(|_| HeadRejection::InvalidHost)?;
                if !same_authority(target, &sent, uri.scheme_str()) {
                    return Err(HeadRejection::HostMismatch);
                }
            } else if version == Version::HTTP_11 {
                // An absolute-form target does not excuse the Host line (RFC 9112 §3.2).
                return Err(HeadRejection::MissingHost);
            }
            let value =
                HeaderValue::from_str(target.as_str()).map_err(|_| HeadRejection::InvalidHost)?;
            RequestHost::new(value, target.host())
        }
        None => {
            let Some(value) = host_header else {
                return match version {
                    Version::HTTP_09 | Version::HTTP_10 => Ok(RequestHost::NONE),
                    _ => Err(HeadRejection::MissingHost),
                };
            };
            let text = value.to_str().map_err(|_| HeadRejection::InvalidHost)?;
            if text.is_empty() {
                // RFC 9112 §3.2: an empty Host is what a client sends for a target without an
                // authority; the request names no host.
                return Ok(RequestHost::NONE);
            }
            let name = match plain_host(text) {
                Some(host) => host,
                None => {
                    let authority: Authority =
                        text.parse().map_err(|_| HeadRejection::InvalidHost)?;
                    if authority.as_str().contains('@') {
                        return Err(HeadRejection::InvalidHost);
                    }
                    // The host is the start of `text` (`host[:port]`); slice, not copy.
                    text.get(..authority.host().len())
                        .ok_or(HeadRejection::InvalidHost)?
                }
            };
            RequestHost::new(value.clone(), name)
        }
    }
}

/// The name routes are matched by, from a host the authority parse accepted: a bracketed IP
/// literal as it is, or a name of letters, digits, `-`, `_` and non-empty `.`-separated labels,
/// with one trailing dot (the DNS root) dropped, so that `a.example.` is `a.example` to the
/// routes as it is to DNS and to most servers behind. `None` for anything else the URI
/// grammar allows in a host (`%` escapes, `!$&'()*+,;=`): an upstream or a virtual host behind
/// could read those differently from the gateway's exact match.
fn host_name(host: &str) -> Option<&str> {
    if host.starts_with('[') {
        return host.ends_with(']').then_some(host);
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    // One pass: every byte allowed, and no label empty (no leading, trailing or double dot).
    let mut label_empty = true;
    for b in name.bytes() {
        if b == b'.' {
            if label_empty {
                return None;
            }
            label_empty = true;
        } else if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            label_empty = false;
        } else {
            return None;
        }
    }
    (!label_empty).then_some(name)
}

/// Whether two authorities name the same host and port; a missing port is the scheme's
/// default (`https` when the scheme is unknown, as for HTTP/2 over TLS).
fn same_authority(a: &Authority, b: &Authority, scheme: Option<&str>) -> bool {
    let default = if scheme == Some("http") { 80 } else { 443 };
    a.host().eq_ignore_ascii_case(b.host())
        && a.port_u16().unwrap_or(default) == b.port_u16().unwrap_or(default)
}

/// The host of a `Host` value of the everyday form `name[:port]` (letters, digits, `.`, `-`;
/// a port of 1 to 5 digits), which is always a valid authority without user information, so
/// the full authority parse can be skipped; `None` for anything else (IPv6 literals, odd
/// characters, invalid values), which takes the full parse.
fn plain_host(text: &str) -> Option<&str> {
    let (host, port) = match text.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    (host_ok && port_ok).then_some(host)
}

#[cfg(test)]
mod tests;
