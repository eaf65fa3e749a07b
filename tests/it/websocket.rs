use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{
    http_client, within, GatewayBuilder, Route, TestUpstream, WsEchoUpstream, WAIT,
};

#[tokio::test(flavor = "multi_thread")]
async fn websocket_echo_through_the_gateway() {
    let upstream = WsEchoUpstream::start().await;
    let plain = TestUpstream::echo("plain").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/ws/", upstream.url()))
        .route(Route::new("/", plain.url()))
        .start()
        .await;

    let url = format!("ws://{}/ws/chat", gateway.addr());
    let (mut ws, response) = within(
        WAIT,
        "the WebSocket handshake",
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("handshake through the gateway");
    assert_eq!(response.status(), 101);

    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let messages = [
        Message::Text("hello through authgate".into()),
        Message::Binary(vec![0, 1, 2, 254, 255]),
        Message::Text("ünïcødé ✓".into()),
        Message::Binary(big),
    ];
    for message in messages {
        ws.send(message.clone()).await.expect("send");
        let echoed = within(WAIT, "the echo", ws.next())
            .await
            .expect("a message")
            .expect("a valid frame");
        assert_eq!(echoed, message);
    }

    ws.close(None).await.expect("close");
    let closing = within(WAIT, "the close acknowledgement", async {
        let mut saw_close = false;
        while let Some(frame) = ws.next().await {
            match frame {
                Ok(Message::Close(_)) => saw_close = true,
                Ok(other) => panic!("unexpected message after close: {other:?}"),
                Err(_) => break,
            }
        }
        saw_close
    })
    .await;
    assert!(
        closing,
        "the upstream's close frame did not come back through the gateway"
    );

    // The handshake went through the same header hygiene as any request.
    let handshakes = upstream.handshakes();
    assert_eq!(handshakes.len(), 1);
    let has = |name: &str| {
        handshakes[0]
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    assert!(has("x-forwarded-for"));
    assert!(has("sec-websocket-key"));

    // The gateway keeps serving plain requests.
    let response = http_client()
        .get(gateway.url("/plain"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
}
