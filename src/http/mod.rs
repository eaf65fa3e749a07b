//! HTTP building blocks shared by every layer: the body type and response builders.

pub mod body;
pub mod cookie;
pub mod response;
