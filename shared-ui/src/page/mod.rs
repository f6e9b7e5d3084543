//! How a page looks: the shared maud components and the embedded assets (CSS, Stimulus).

pub mod assets;
pub mod components;
