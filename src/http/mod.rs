//! HTTP building blocks shared by every layer: the body type, response builders, cookies,
//! the request head's own rules, the one path normalisation, HTML escaping and the
//! gateway's own pages.

pub mod body;
pub mod cookie;
pub mod head;
pub mod html;
pub mod pages;
pub mod path;
pub mod response;
