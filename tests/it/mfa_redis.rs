//! Two gateways of one deployment on one real Redis: a TOTP code accepted at one is refused
//! at the other (the last accepted time step is a compare-and-set in Redis), while the
//! secret enrolled at one opens at the other (one `[mfa] secret_key`, in the shared data
//! directory).

use reqwest::StatusCode;

use crate::support::fixture::user;
use crate::support::mfa::{is_code_page, journey, reach_code_page, submit_from};
use crate::support::oauth::AuthGateway;
use crate::support::redis::RedisServer;

const CAROL: &str = "carol";

#[tokio::test]
async fn two_gateways_on_one_redis_accept_the_same_totp_code_once() {
    let redis = RedisServer::start();
    let carol = user(CAROL, &["app"]);
    let sections = format!(
        r#"
[store]
backend = "redis"
url = "{}"
{carol}mfa = true

[[routes]]
path = "/plain/"
upstream = "whoami://"
auth = "session"
"#,
        redis.url()
    );
    let a = AuthGateway::start_shared(&sections, None).await;
    let b = AuthGateway::start_shared(&sections, Some(&a)).await;
    let (_, met) = journey(&a, &a.browser(), "/plain/", CAROL, None).await;
    assert_eq!(met.pages, ["login", "enrol"]);
    let app = met.app.unwrap();
    a.advance(30);
    b.advance(30);

    // One person (or a thief of the code) at each gateway, both at the code page.
    let at_a = a.browser();
    let page_a = reach_code_page(&at_a, a.issuer(), "/plain/", CAROL).await;
    let at_b = b.browser();
    let page_b = reach_code_page(&at_b, a.issuer(), "/plain/", CAROL).await;
    let code = app.code(a.now());
    let first = submit_from(&at_b, a.issuer(), &page_b, &code).await;
    assert_eq!(
        first.status,
        StatusCode::SEE_OTHER,
        "accepted at b: {first:?}"
    );
    let second = submit_from(&at_a, a.issuer(), &page_a, &code).await;
    assert!(
        is_code_page(&second),
        "the same code again at a: {second:?}"
    );
    assert!(second.alert().unwrap().contains("not right"));
    // The next step's code is accepted at a.
    a.advance(30);
    b.advance(30);
    let next = submit_from(&at_a, a.issuer(), &second, &app.code(a.now())).await;
    assert_eq!(next.status, StatusCode::SEE_OTHER, "{next:?}");
}
