//! The methods, one file each. [`crate::Method`] selects one by `kind`.

pub mod cdpruner;
pub mod divprune;
pub mod downsample;
pub mod random;
