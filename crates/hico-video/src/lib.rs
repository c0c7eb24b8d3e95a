//! hico-video
