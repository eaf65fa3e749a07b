use crate::support::{
    http_client, within, Echoed, GatewayBuilder, GatewayProcess, Route, TestUpstream, WAIT,
};
use std::io::ErrorKind;

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_the_in_flight_request_finish_then_exits_0() {
    let (upstream, gate) = TestUpstream::gated("slow").await;
    let mut gateway =
        GatewayProcess::start(GatewayBuilder::new().route(Route::new("/slow/", upstream.url())))
            .await;

    let in_flight = tokio::spawn(http_client().get(gateway.url("/slow/report")).send());
    gate.arrived().await;

    gateway.signal("TERM");
    gateway.wait_for_log("listener closed", WAIT).await;

    // No new connections once the listener is closed.
    let refused = tokio::net::TcpStream::connect(gateway.addr()).await;
    match refused {
        Err(err) => assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}"),
        Ok(_) => panic!("a new connection was accepted after SIGTERM"),
    }
    assert!(
        gateway.is_running(),
        "the gateway exited with a request in flight"
    );

    // The request that was in flight still gets its answer.
    gate.release();
    let response = within(WAIT, "the in-flight response", in_flight)
        .await
        .expect("join")
        .expect("the in-flight request failed");
    assert_eq!(response.status(), 200);
    let echoed: Echoed = response.json().await.expect("JSON");
    assert_eq!(echoed.path, "/slow/report");

    let status = gateway.wait_exit(WAIT).await;
    assert_eq!(
        status.code(),
        Some(0),
        "exit status; log:\n{}",
        gateway.log().join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_shuts_down_an_idle_gateway_with_exit_0() {
    let mut gateway =
        GatewayProcess::start(GatewayBuilder::new().route(Route::new("/", "static://204"))).await;
    let response = http_client()
        .get(gateway.url("/"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 204);

    gateway.signal("INT");
    let status = gateway.wait_exit(WAIT).await;
    assert_eq!(
        status.code(),
        Some(0),
        "exit status; log:\n{}",
        gateway.log().join("\n")
    );
}
