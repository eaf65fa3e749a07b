//! A WebSocket echo upstream: tokio-tungstenite's `accept_async` on a raw listener, sending
//! back every text and binary message; closes when the client does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

/// One request's headers, names lower case.
type HeaderList = Vec<(String, String)>;

/// The echo server. Dropping it stops it.
pub struct WsEchoUpstream {
    addr: SocketAddr,
    handshakes: Arc<Mutex<Vec<HeaderList>>>,
    task: JoinHandle<()>,
}

impl Drop for WsEchoUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WsEchoUpstream {
    pub async fn start() -> WsEchoUpstream {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind ws upstream");
        let addr = listener.local_addr().expect("addr");
        let handshakes = Arc::new(Mutex::new(Vec::new()));
        let seen = handshakes.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                while connections.try_join_next().is_some() {}
                let seen = seen.clone();
                connections.spawn(async move {
                    // tungstenite's callback signature fixes the (large) error type.
                    #[allow(clippy::result_large_err)]
                    let record = |req: &Request, res: Response| {
                        let headers = req
                            .headers()
                            .iter()
                            .map(|(k, v)| {
                                (
                                    k.as_str().to_owned(),
                                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                )
                            })
                            .collect();
                        seen.lock().expect("handshakes lock").push(headers);
                        Ok(res)
                    };
                    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, record).await
                    else {
                        return;
                    };
                    while let Some(Ok(message)) = ws.next().await {
                        // Pings are answered and closes acknowledged by tungstenite itself.
                        let data = matches!(message, Message::Text(_) | Message::Binary(_));
                        if data && ws.send(message).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        WsEchoUpstream {
            addr,
            handshakes,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`, for a route's `upstream`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request headers of every handshake received.
    pub fn handshakes(&self) -> Vec<HeaderList> {
        self.handshakes.lock().expect("handshakes lock").clone()
    }
}
