//! The methods, one file each. [`crate::Method`] selects one by `kind`.

pub mod cdpruner;
pub mod divprune;
pub mod downsample;
pub mod dycoke_ttm;
pub mod fastvid;
pub mod holitom;
pub mod llava_scissor;
pub mod none;
pub mod prunevid;
pub mod random;
pub mod vidcom2;
pub mod visionzip;
pub mod vispruner;
