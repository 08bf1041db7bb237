//! The protobuf codec of the cvo service: prost's, except that a request that does not decode
//! (bad wire format, invalid UTF-8 in a string) is the caller's INVALID_ARGUMENT with a
//! BadRequest naming the field, not an INTERNAL error as prost's codec reports it.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::ProstEncoder;

use super::error::invalid;

/// prost's codec with caller-facing decode errors; see the module docs.
#[derive(Debug)]
pub struct RequestCodec<T, U>(PhantomData<fn() -> (T, U)>);

impl<T, U> Default for RequestCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for RequestCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = RequestDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestDecoder(PhantomData)
    }
}

/// Decodes a message; see the module docs.
#[derive(Debug)]
pub struct RequestDecoder<U>(PhantomData<fn() -> U>);

impl<U: Message + Default> Decoder for RequestDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|e| malformed(&e))
    }
}

/// INVALID_ARGUMENT for a message that does not decode, naming the field where prost says
/// it failed (`customers.id` for an id that is not UTF-8).
pub fn malformed(e: &prost::DecodeError) -> Status {
    let (field, reason) = describe(&e.to_string());
    invalid(field, format!("malformed message: {reason}"))
}

/// Splits prost's "failed to decode Protobuf message: Inner.field: Outer.field: reason" into
/// the field path from the outside in and the reason.
fn describe(text: &str) -> (String, String) {
    let rest = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(text);
    let mut fields = Vec::new();
    let mut reason = rest;
    while let Some((head, tail)) = reason.split_once(": ") {
        match head.split_once('.') {
            Some((message, field))
                if !message.is_empty()
                    && !field.is_empty()
                    && head
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_') =>
            {
                fields.push(field);
                reason = tail;
            }
            _ => break,
        }
    }
    fields.reverse();
    let field = if fields.is_empty() {
        "request".to_owned()
    } else {
        fields.join(".")
    };
    (field, reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::pb;

    #[test]
    fn names_the_field_of_invalid_utf8() {
        // customers[0].id = "\xff": field 2 (customers) wrapping field 1 (id).
        let bytes = [0x12, 0x03, 0x0a, 0x01, 0xff];
        let err = pb::UpsertCustomersRequest::decode(&bytes[..]).unwrap_err();
        let (field, reason) = describe(&err.to_string());
        assert_eq!(field, "customers.id");
        assert!(reason.contains("UTF-8"), "{reason}");
        let status = malformed(&err);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn unknown_shapes_name_the_request() {
        assert_eq!(describe("something else").0, "request");
        let err = pb::UpsertCustomersRequest::decode(&[0x12, 0x7f][..]).unwrap_err();
        assert!(!describe(&err.to_string()).0.is_empty());
    }
}
