//! The reverse proxy: the route table, header hygiene, the upstream client (its connections
//! and their pool), built-in upstreams and WebSocket tunnels, and the signed identity
//! assertion of routes with `assertion = true`. Paths arrive normalised
//! (`http::path`).

pub mod assertion;
pub mod builtin;
pub mod connect;
pub mod forward;
pub mod headers;
pub mod identity_headers;
pub mod pool;
pub mod response_timer;
pub mod routes;
pub mod upgrade;
