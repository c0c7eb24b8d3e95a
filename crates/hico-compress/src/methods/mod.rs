//! The methods, one file each. [`crate::Method`] selects one by `kind`.

pub mod downsample;
pub mod llava_scissor;
pub mod random;
