//! HTTP/1.1 message heads: parsing (strict RFC 9112, a field-line scanner of its own),
//! writing into caller buffers, token lists and body framing.
//!
//! The machines in [`crate::upgrade`] use this layer; its public items are
//! the borrowed views they hand out ([`RequestHead`], [`ResponseHead`],
//! [`Headers`]) and a few helpers useful to applications.

pub(crate) mod body;
mod head;
mod token;
pub(crate) mod write;

pub(crate) use head::{
    Elements, Facts, Field, HeadReader, content_length_value, request_framing, response_framing,
    target_form_allowed,
};
pub use head::{
    Framing, Header, HeaderIter, Headers, Limits, MAX_HEADER_SLOTS, RequestHead, ResponseHead,
    leading_empty_lines,
};
#[cfg(test)]
pub(crate) use head::{parse_request, work};
pub(crate) use token::{
    ByteSet, eq_ignore_case, eq_visible_lowercase, is_only_element, same_str, skip_quoted_string,
    split_protocol, token_len, trim_ows,
};
pub use token::{ListElements, is_field_value, is_token};
pub use write::reason_phrase;
