//! Tower layers around the dispatcher, one module per layer. Their order is written down
//! once, in `server::stack`.

pub mod access_log;
pub mod catch_panic;
pub mod request_id;
