//! [`Text`], the string type of record and run fields.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// The string type of record and run fields: an immutable UTF-8 string
/// that keeps up to 24 bytes inline (most names, IDs and versions), so
/// reading a record allocates once or twice instead of nine times.
///
/// It derefs to `&str`, compares with `str` and `String`, and converts
/// from `&str`, `String` and `Cow<str>`; serde sees a plain string.
///
/// ```
/// use runlog::Text;
/// let t = Text::from("sync-orders");
/// assert_eq!(t, "sync-orders");
/// assert_eq!(t.len(), 11);
/// assert_eq!(t.as_str().to_uppercase(), "SYNC-ORDERS");
/// assert_eq!(String::from(t), "sync-orders");
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text(CompactString);

impl Text {
    /// The empty string (no allocation).
    pub const fn new() -> Text {
        Text(CompactString::const_new(""))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0.as_str(), f)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(CompactString::from(s))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text(CompactString::from(s.as_str()))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(CompactString::from(s))
    }
}

impl From<Cow<'_, str>> for Text {
    fn from(s: Cow<'_, str>) -> Text {
        Text(CompactString::from(s))
    }
}

impl From<&Text> for Text {
    fn from(s: &Text) -> Text {
        s.clone()
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0.into_string()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.0.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.0.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.0.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.0.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.0.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.0.as_str()
    }
}
