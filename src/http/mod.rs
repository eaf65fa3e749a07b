//! HTTP building blocks shared by every layer: the body type, response builders, cookies,
//! the request head's own rules, the one path normalisation, HTML escaping and the
//! gateway's own pages.

pub(crate) mod body;
pub(crate) mod cookie;
pub(crate) mod cors;
pub(crate) mod head;
pub mod html;
pub(crate) mod pages;
pub(crate) mod path;
pub(crate) mod response;
