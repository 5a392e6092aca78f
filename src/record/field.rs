//! The fields of a log record as named in errors, and the documented
//! size limit of each.

use std::fmt;

/// Most bytes (UTF-8) in `job_id`.
pub const MAX_JOB_ID_BYTES: usize = 128;
/// Most bytes in each name field: `flow`, `component`, `action`, `category`,
/// `env`, `app`, `version`.
pub const MAX_NAME_BYTES: usize = 256;
/// Most bytes in `content`, the summary shown in lists.
pub const MAX_CONTENT_BYTES: usize = 16 * 1024;
/// Most bytes in `detail`, the full message data.
pub const MAX_DETAIL_BYTES: usize = 4 * 1024 * 1024;

/// A field of a [`LogRecord`](crate::LogRecord), named in errors about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `job_id`
    JobId,
    /// `flow`
    Flow,
    /// `component`
    Component,
    /// `action`
    Action,
    /// `category`
    Category,
    /// `env`
    Env,
    /// `app`
    App,
    /// `version`
    Version,
    /// `content`
    Content,
    /// `detail`
    Detail,
}

impl Field {
    /// Every field, in the order of [`LogRecord`](crate::LogRecord)'s
    /// declaration.
    pub const ALL: [Field; 10] = [
        Field::JobId,
        Field::Flow,
        Field::Component,
        Field::Action,
        Field::Category,
        Field::Env,
        Field::App,
        Field::Version,
        Field::Content,
        Field::Detail,
    ];

    /// The field's name as written in [`LogRecord`](crate::LogRecord).
    pub const fn name(self) -> &'static str {
        match self {
            Field::JobId => "job_id",
            Field::Flow => "flow",
            Field::Component => "component",
            Field::Action => "action",
            Field::Category => "category",
            Field::Env => "env",
            Field::App => "app",
            Field::Version => "version",
            Field::Content => "content",
            Field::Detail => "detail",
        }
    }

    /// The most bytes the field may hold.
    pub const fn max_bytes(self) -> usize {
        match self {
            Field::JobId => MAX_JOB_ID_BYTES,
            Field::Content => MAX_CONTENT_BYTES,
            Field::Detail => MAX_DETAIL_BYTES,
            _ => MAX_NAME_BYTES,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
