//! hico-vision
