//! The methods, one file each. [`crate::Method`] selects one by `kind`.

pub mod downsample;
pub mod holitom;
pub mod random;
