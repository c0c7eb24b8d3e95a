//! `none`: keep every token (the slot's default; the uncompressed cell of a grid).

use serde::{Deserialize, Serialize};

use crate::{Input, Plan, Result, Rule};

/// Parameters of `none` (there are none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoCompression {}

impl Rule for NoCompression {
    const KIND: &'static str = "none";

    fn plan(&self, x: &Input) -> Result<Plan> {
        Ok(Plan::keep(0..x.len()))
    }
}
