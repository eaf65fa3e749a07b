use std::path::Path;

use http::Version;

use crate::support::{client_builder, GatewayProcess};

/// The repository's `gateway.toml`, with only what a test must change: an ephemeral port
/// and JSON logs (to read the port). Its relative `data_dir` lands in the process's
/// temporary directory.
fn starter_for_test() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
    let starter = std::fs::read_to_string(path).expect("the starter gateway.toml");
    let (mut listen, mut format) = (false, false);
    let text: Vec<String> = starter
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("listen =") {
                listen = true;
                "listen = \"127.0.0.1:0\"".to_owned()
            } else if line.trim_start().starts_with("format =") {
                format = true;
                "format = \"json\"".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert!(
        listen && format,
        "the starter has no `listen` or `[log] format` line to adapt"
    );
    text.join("\n")
}

/// The value of the hidden form input `name` in an HTML page.
fn hidden_input(html: &str, name: &str) -> String {
    crate::support::html::hidden_input(html, name).expect("hidden input")
}

/// The path and query of a `Location`, which may name the starter's configured port.
fn location(response: &reqwest::Response) -> String {
    let value = response.headers()["location"].to_str().expect("ascii");
    match value.find("://") {
        Some(scheme_end) => {
            let rest = &value[scheme_end + 3..];
            rest[rest.find('/').unwrap_or(rest.len())..].to_owned()
        }
        None => value.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn starter_configuration_serves_on_its_own() {
    let gateway = GatewayProcess::start_with_config(|_| starter_for_test()).await;
    let pem = std::fs::read(gateway.dir().join("data/tls/self-signed.pem"))
        .expect("the starter generates a self-signed certificate into data/tls");
    let client = client_builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM"))
        .resolve("localhost", gateway.addr())
        .cookie_store(true)
        .build()
        .expect("client");
    let url = |path: &str| format!("https://localhost:{}{path}", gateway.addr().port());

    // The demo user signs in through the login page and lands on the page it asked for.
    let response = client
        .get(url("/hello?x=1"))
        .header("Accept", "text/html")
        .send()
        .await
        .expect("protected page");
    assert_eq!(response.status(), 302, "a browser is sent to sign in");
    let authorize = location(&response);
    assert!(authorize.starts_with("/oauth2/authorize?"), "{authorize}");
    let login_page = client
        .get(url(&authorize))
        .send()
        .await
        .expect("login page");
    assert_eq!(login_page.status(), 200);
    let html = login_page.text().await.expect("login HTML");
    let form = [
        ("csrf", hidden_input(&html, "csrf")),
        ("request", hidden_input(&html, "request")),
        ("username", "demo".to_owned()),
        ("password", "authgate-demo".to_owned()),
    ];
    let response = client
        .post(url("/oauth2/login"))
        .form(&form)
        .send()
        .await
        .expect("login");
    assert_eq!(
        response.status(),
        303,
        "the README's demo password signs in"
    );
    let response = client
        .get(url(&location(&response)))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), 302, "first-party: no consent page");
    let callback = location(&response);
    assert!(callback.starts_with("/oauth2/callback?"), "{callback}");
    let response = client.get(url(&callback)).send().await.expect("callback");
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/hello?x=1");

    // whoami: the request as an upstream would receive it, JSON for API clients.
    let response = client
        .get(url("/hello?x=1"))
        .header("Accept", "application/json")
        .header("X-Auth-User", "spoofed")
        .send()
        .await
        .expect("whoami");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), Version::HTTP_2);
    let whoami: serde_json::Value = response.json().await.expect("whoami JSON");
    assert_eq!(whoami["method"], "GET");
    assert_eq!(whoami["path"], "/hello");
    assert_eq!(whoami["query"], "x=1");
    let headers = whoami["headers"].to_string().to_ascii_lowercase();
    assert!(headers.contains("x-forwarded-proto"), "{headers}");
    assert!(headers.contains(r#"["x-auth-user","demo"]"#), "{headers}");
    assert!(
        !headers.contains("spoofed"),
        "a spoofed identity shown as received: {headers}"
    );
    assert!(
        !headers.contains("__host-authgate"),
        "the session cookie reached the upstream: {headers}"
    );

    // ... and HTML for a browser.
    let response = client
        .get(url("/"))
        .header("Accept", "text/html")
        .send()
        .await
        .expect("whoami HTML");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");

    // static://418
    let response = client.get(url("/teapot")).send().await.expect("teapot");
    assert_eq!(response.status(), 418);

    // The bearer route without a token: 401 that says how to authenticate, even with a
    // session (a bearer route reads only the Authorization header).
    let response = client.get(url("/api/x")).send().await.expect("api");
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));

    // The demo user is announced at every start.
    assert!(
        gateway.log().iter().any(|line| line.contains("demo user")),
        "no warning about the demo user"
    );
}
