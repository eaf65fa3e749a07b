//! HTTP building blocks shared by every layer: the body type, response builders, cookies,
//! and the request head's own rules.

pub mod body;
pub mod cookie;
pub mod head;
pub mod response;
