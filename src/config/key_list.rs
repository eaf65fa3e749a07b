//! Every key `gateway.toml` can hold, read from the serde shape in `file.rs` itself, so that
//! the configuration reference (`docs/configuration.md`) is checked against the real structs
//! and not against a hand-kept list that could drift (test-only).
//!
//! [`keys`] drives a type's `Deserialize` impl with a recording [`serde::Deserializer`]: each
//! `deserialize_struct` call hands over the struct's `fields` (after `rename`), which are
//! recorded under the current dotted path and then each visited with a recorder one level
//! down, so nested sections, `Option`s, `Vec`s (arrays of tables) and maps are walked too.
//! This is the trick serde-aux's `serde_introspect` uses, taken all the way down. `toml`'s
//! `Spanned<T>` is itself a struct to serde (`$__serde_spanned_private_*`): it is looked
//! through, not recorded. A map (`[scopes]`) is a key; its entries have free names, so a
//! struct inside one would be recorded as `PATH.NAME.field`. Something the recorder cannot see inside (`deserialize_any`,
//! as `#[serde(flatten)]` or `toml::Value` would need) is an error naming the path, so the
//! key list fails loudly rather than silently missing keys.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, Deserialize, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// `toml::Spanned`'s name for itself as a serde struct (serde_spanned's `NAME`).
const SPANNED: &str = "$__serde_spanned_private_Spanned";

/// The dotted path of every key of `T` (`server.tls.mode`, `routes.cors.allow_origins`):
/// the sections themselves (`server.tls`) included.
pub fn keys<T: Deserialize<'static>>() -> Result<BTreeSet<String>, Error> {
    let found = RefCell::new(BTreeSet::new());
    T::deserialize(Recorder {
        path: "",
        found: &found,
    })?;
    Ok(found.into_inner())
}

/// Why a type's keys could not be listed.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// A deserializer at one dotted path that answers every value with an empty one and
/// records the fields of every struct it is asked for.
#[derive(Clone, Copy)]
struct Recorder<'a, 'p> {
    path: &'p str,
    found: &'a RefCell<BTreeSet<String>>,
}

/// The fields of one struct, handed to its visitor as a map of (field, recorder) entries.
struct Fields<'a, 'p> {
    recorder: Recorder<'a, 'p>,
    fields: std::slice::Iter<'static, &'static str>,
    /// The path of the field whose key was just given, for its value.
    current: String,
    /// `Spanned`'s fields are looked through: the value stays at the same path.
    transparent: bool,
}

impl<'de> MapAccess<'de> for Fields<'_, '_>
where
    'de: 'static,
{
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(field) = self.fields.next() else {
            return Ok(None);
        };
        self.current = if self.transparent {
            self.recorder.path.to_owned()
        } else {
            join(self.recorder.path, field)
        };
        seed.deserialize(BorrowedStrDeserializer::new(field))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(Recorder {
            path: &self.current,
            found: self.recorder.found,
        })
    }
}

/// One entry of a map (a free name) or one element of a sequence, then the end.
struct One<'a, 'p> {
    recorder: Recorder<'a, 'p>,
    left: usize,
}

impl<'de> SeqAccess<'de> for One<'_, '_>
where
    'de: 'static,
{
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(self.recorder).map(Some)
    }
}

impl<'de> MapAccess<'de> for One<'_, '_>
where
    'de: 'static,
{
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(BorrowedStrDeserializer::new("NAME"))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        // The entry's name is free: a struct inside it has keys `PATH.NAME.field`.
        let path = join(self.recorder.path, "NAME");
        seed.deserialize(Recorder {
            path: &path,
            found: self.recorder.found,
        })
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

macro_rules! answer {
    ($($method:ident => $visit:ident($($value:expr)?)),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.$visit($($value)?)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Recorder<'_, '_>
where
    'de: 'static,
{
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(Error(format!(
            "`{}`: its type takes any value (deserialize_any), so its keys cannot be listed; \
             teach config::key_list about it",
            self.path
        )))
    }

    answer! {
        deserialize_bool => visit_bool(false),
        deserialize_i8 => visit_i64(0),
        deserialize_i16 => visit_i64(0),
        deserialize_i32 => visit_i64(0),
        deserialize_i64 => visit_i64(0),
        deserialize_u8 => visit_u64(0),
        deserialize_u16 => visit_u64(0),
        deserialize_u32 => visit_u64(0),
        deserialize_u64 => visit_u64(0),
        deserialize_f32 => visit_f64(0.0),
        deserialize_f64 => visit_f64(0.0),
        deserialize_char => visit_char('x'),
        deserialize_str => visit_borrowed_str(""),
        deserialize_string => visit_borrowed_str(""),
        deserialize_bytes => visit_borrowed_bytes(&[]),
        deserialize_byte_buf => visit_borrowed_bytes(&[]),
        deserialize_unit => visit_unit(),
        deserialize_identifier => visit_borrowed_str(""),
        deserialize_ignored_any => visit_unit(),
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(One {
            recorder: self,
            left: 1,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(One {
            recorder: self,
            left: len,
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(One {
            recorder: self,
            left: 1,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let transparent = name == SPANNED;
        if !transparent {
            let mut found = self.found.borrow_mut();
            found.extend(fields.iter().map(|field| join(self.path, field)));
        }
        visitor.visit_map(Fields {
            recorder: self,
            fields: fields.iter(),
            current: String::new(),
            transparent,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Error> {
        Err(Error(format!(
            "`{}`: an enum in the file's shape; teach config::key_list about it",
            self.path
        )))
    }
}

#[cfg(test)]
mod tests;
