//! A raw TCP client: writes exactly the bytes a test gives and parses the response itself.
//!
//! Needed where reqwest would help too much: it resolves `..`, re-encodes paths, adds and
//! drops headers, and cannot send a malformed or slow request.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{within, WAIT};

/// A request written byte for byte: `METHOD TARGET HTTP/1.1`, `Host`, the headers in the
/// order given, and `Connection: close` unless [`RawRequest::keep_alive`].
#[derive(Debug, Clone)]
pub struct RawRequest {
    method: String,
    target: String,
    host: Option<String>,
    headers: Vec<(String, String)>,
    close: bool,
    body: Vec<u8>,
    version: &'static str,
}

impl RawRequest {
    pub fn new(method: &str, target: &str) -> RawRequest {
        RawRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            host: Some("127.0.0.1".to_owned()),
            headers: Vec::new(),
            close: true,
            body: Vec::new(),
            version: "HTTP/1.1",
        }
    }

    pub fn get(target: &str) -> RawRequest {
        RawRequest::new("GET", target)
    }

    /// Sets the `Host` header (the default is `127.0.0.1`).
    pub fn host(mut self, host: &str) -> RawRequest {
        self.host = Some(host.to_owned());
        self
    }

    /// Sends no `Host` line at all.
    pub fn without_host(mut self) -> RawRequest {
        self.host = None;
        self
    }

    /// Writes `HTTP/1.0` in the request line instead of `HTTP/1.1`.
    pub fn http10(mut self) -> RawRequest {
        self.version = "HTTP/1.0";
        self
    }

    /// Adds a header line exactly as given.
    pub fn header(mut self, name: &str, value: &str) -> RawRequest {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Leaves out `Connection: close`.
    pub fn keep_alive(mut self) -> RawRequest {
        self.close = false;
        self
    }

    /// Bytes written after the head, as they are (add `Content-Length` yourself).
    pub fn body(mut self, body: &[u8]) -> RawRequest {
        self.body = body.to_vec();
        self
    }

    /// The bytes on the wire.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.method, self.target, self.version).into_bytes();
        if let Some(host) = &self.host {
            out.extend_from_slice(format!("Host: {host}\r\n").as_bytes());
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if self.close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// Sends this request on a new connection and reads the response until the server closes.
    pub async fn send(&self, addr: SocketAddr) -> RawResponse {
        let mut conn = RawConnection::connect(addr).await;
        conn.write(&self.bytes()).await.expect("write request");
        conn.read_response().await
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// Names as sent; compare case-insensitively.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked when it was chunked.
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "response body is not the JSON expected ({err}): {}",
                self.text()
            )
        })
    }

    /// Parses one response from the start of `bytes`; returns it and the bytes it used, or
    /// `None` when `bytes` does not yet hold a whole response (`eof`: no more will come).
    pub fn parse(bytes: &[u8], eof: bool) -> Option<(RawResponse, usize)> {
        let head_end = find(bytes, b"\r\n\r\n")? + 4;
        let head = std::str::from_utf8(&bytes[..head_end - 4]).expect("response head is text");
        let mut lines = head.split("\r\n");
        let status_line = lines.next()?;
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
            .collect();
        let mut response = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        let rest = &bytes[head_end..];
        let no_body = status == 204 || status == 304 || (100..200).contains(&status);
        if no_body {
            return Some((response, head_end));
        }
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
        if chunked {
            let (body, used) = dechunk(rest)?;
            response.body = body;
            return Some((response, head_end + used));
        }
        if let Some(length) = response.header("content-length") {
            let length: usize = length.parse().expect("content-length");
            if rest.len() < length {
                return None;
            }
            response.body = rest[..length].to_vec();
            return Some((response, head_end + length));
        }
        if !eof {
            return None;
        }
        response.body = rest.to_vec();
        Some((response, bytes.len()))
    }
}

/// One TCP connection to a server.
pub struct RawConnection {
    stream: TcpStream,
    buffer: Vec<u8>,
    eof: bool,
}

impl RawConnection {
    pub async fn connect(addr: SocketAddr) -> RawConnection {
        let stream = within(WAIT, "TCP connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        RawConnection {
            stream,
            buffer: Vec::new(),
            eof: false,
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Reads the next response (bounded by [`WAIT`]); panics when the connection closes (or
    /// is reset) before a whole one arrived.
    pub async fn read_response(&mut self) -> RawResponse {
        within(WAIT, "a response", async {
            loop {
                if let Some((response, used)) = RawResponse::parse(&self.buffer, self.eof) {
                    self.buffer.drain(..used);
                    return response;
                }
                assert!(
                    !self.eof,
                    "connection closed before a whole response; got {:?}",
                    String::from_utf8_lossy(&self.buffer)
                );
                // A reset after the response counts as its end: the bytes before it stand.
                if self.fill().await.is_err() {
                    self.eof = true;
                }
            }
        })
        .await
    }

    /// Reads until the server closes the connection (or resets it), within `limit`; returns
    /// whatever arrived. Panics if the connection is still open after `limit`.
    pub async fn read_until_closed(&mut self, limit: Duration) -> Vec<u8> {
        within(limit, "the server to close the connection", async {
            while !self.eof {
                if self.fill().await.is_err() {
                    break;
                }
            }
        })
        .await;
        std::mem::take(&mut self.buffer)
    }

    async fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            self.eof = true;
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a chunked body; `None` when incomplete.
fn dechunk(mut bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    let start = bytes.len();
    let mut body = Vec::new();
    loop {
        let line_end = find(bytes, b"\r\n")?;
        let size_text = std::str::from_utf8(&bytes[..line_end]).expect("chunk size");
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).expect("chunk size hex");
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                let end = find(bytes, b"\r\n")?;
                bytes = &bytes[end + 2..];
                if end == 0 {
                    return Some((body, start - bytes.len()));
                }
            }
        }
        if bytes.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&bytes[..size]);
        bytes = &bytes[size + 2..];
    }
}
