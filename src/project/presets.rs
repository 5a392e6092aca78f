//! A project's saved presets: named time ranges kept in the project's
//! `presets` file (its byte layout is in `src/presets.rs`).

use crate::error::{Error, Result};
use crate::presets::{self, SavedRange};

use super::core::Core;

impl Core {
    pub(crate) fn save_preset(&self, name: &str, range: SavedRange) -> Result<()> {
        if self.settings.read_only {
            return Err(self.settings.read_only_error());
        }
        presets::validate_name(name)?;
        if let SavedRange::Last(d) = &range
            && d.is_zero()
        {
            return Err(Error::InvalidArgument {
                what: "preset",
                reason: "an empty relative range".into(),
            });
        }
        // The presets file refuses an inverted range as corrupt, so one
        // stored would make every preset unreadable.
        range.spec().check()?;
        let _guard = self.presets.lock();
        let mut all = presets::load(&self.settings.presets_path())?;
        all.retain(|(n, _)| n != name);
        if all.len() >= presets::MAX_PRESETS {
            return Err(Error::InvalidArgument {
                what: "preset",
                reason: format!("a project keeps at most {} presets", presets::MAX_PRESETS),
            });
        }
        all.push((name.to_owned(), range));
        all.sort_by(|a, b| a.0.cmp(&b.0));
        presets::store(&self.settings.presets_path(), &all)
    }

    pub(crate) fn delete_preset(&self, name: &str) -> Result<bool> {
        if self.settings.read_only {
            return Err(self.settings.read_only_error());
        }
        let _guard = self.presets.lock();
        let mut all = presets::load(&self.settings.presets_path())?;
        let before = all.len();
        all.retain(|(n, _)| n != name);
        if all.len() == before {
            return Ok(false);
        }
        presets::store(&self.settings.presets_path(), &all)?;
        Ok(true)
    }

    pub(crate) fn presets(&self) -> Result<Vec<(String, SavedRange)>> {
        presets::load(&self.settings.presets_path())
    }
}
