//! The relying party's outbound HTTP: one request to a provider (discovery, JWKS, token,
//! UserInfo, GitHub's API), over a fresh connection the proxy's `Connector` opens (`https`
//! checked against the public web roots), with every bound in place: the whole exchange,
//! connect to last body byte, within [`TIMEOUT`]; the response body at most the caller's
//! limit; redirects never followed (a 3xx is an answer like any other). Nothing here logs:
//! a caller logs the [`FetchError`], whose text never holds a request value (no code, no
//! token, no secret).

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, HOST, USER_AGENT};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};

use crate::proxy::connect::Connector;

/// One request to a provider, connection to last byte.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting alone (DNS, TCP, TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A provider's answer, its body read within the limit.
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Fetched {
    /// Whether the answer says it is JSON (`application/json`, parameters allowed).
    pub fn is_json(&self) -> bool {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
    }
}

/// Why a request to a provider failed. `Display` is the cause for the operator's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The URL is not an absolute http(s) URL.
    BadUrl,
    /// No connection: the connector's own description (host and port, never a path).
    Connect(String),
    Timeout,
    /// The body is over the limit.
    TooLarge(usize),
    /// The connection failed during the exchange.
    Failed,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::BadUrl => f.write_str("the URL is not an absolute http(s) URL"),
            FetchError::Connect(why) => write!(f, "cannot connect: {why}"),
            FetchError::Timeout => write!(f, "no complete answer within {TIMEOUT:?}"),
            FetchError::TooLarge(limit) => write!(f, "the answer is over {limit} bytes"),
            FetchError::Failed => f.write_str("the connection failed during the exchange"),
        }
    }
}

impl std::error::Error for FetchError {}

/// An outbound request: method, absolute URL, extra headers, body.
pub struct Outbound<'a> {
    pub method: Method,
    pub url: &'a str,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// A form body (`application/x-www-form-urlencoded`), if any.
    pub form: Option<String>,
}

impl<'a> Outbound<'a> {
    pub fn get(url: &'a str) -> Outbound<'a> {
        Outbound {
            method: Method::GET,
            url,
            headers: Vec::new(),
            form: None,
        }
    }

    pub fn post_form(url: &'a str, form: String) -> Outbound<'a> {
        Outbound {
            method: Method::POST,
            url,
            headers: Vec::new(),
            form: Some(form),
        }
    }

    /// Adds a header; a value that is not a valid header value is not sent (the request
    /// then fails at the provider, which says why).
    pub fn header(mut self, name: HeaderName, value: &str) -> Outbound<'a> {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }
}

/// Sends `request`, reading at most `limit` bytes of the answer, all within [`TIMEOUT`].
pub async fn send(request: Outbound<'_>, limit: usize) -> Result<Fetched, FetchError> {
    match tokio::time::timeout(TIMEOUT, exchange(request, limit)).await {
        Ok(answer) => answer,
        Err(_elapsed) => Err(FetchError::Timeout),
    }
}

async fn exchange(request: Outbound<'_>, limit: usize) -> Result<Fetched, FetchError> {
    let uri: Uri = request.url.parse().map_err(|_| FetchError::BadUrl)?;
    let authority = uri.authority().ok_or(FetchError::BadUrl)?.clone();
    let connector = Connector::for_uri(&uri, CONNECT_TIMEOUT).map_err(|_| FetchError::BadUrl)?;
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut builder = Request::builder()
        .method(request.method)
        .uri(target)
        .header(HOST, authority.as_str())
        .header(USER_AGENT, concat!("authgate/", env!("CARGO_PKG_VERSION")));
    if !request.headers.iter().any(|(name, _)| name == ACCEPT) {
        builder = builder.header(ACCEPT, "application/json");
    }
    for (name, value) in request.headers {
        builder = builder.header(name, value);
    }
    let body = match request.form {
        Some(form) => {
            builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
            Bytes::from(form)
        }
        None => Bytes::new(),
    };
    let outbound = builder
        .body(Full::new(body))
        .map_err(|_| FetchError::BadUrl)?;
    let mut sender = connector
        .connect::<Full<Bytes>>()
        .await
        .map_err(|e| FetchError::Connect(format!("{authority}: {e}")))?;
    let response = sender
        .send_request(outbound)
        .await
        .map_err(|_| FetchError::Failed)?;
    let (parts, body) = response.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(FetchError::TooLarge(limit));
    }
    let body = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                FetchError::TooLarge(limit)
            } else {
                FetchError::Failed
            }
        })?
        .to_bytes();
    Ok(Fetched {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}
