//! The parts of the page, one module each.

pub mod compose_bar;
pub mod controls;
pub mod footer;
pub mod header;
pub mod problem_notice;
pub mod results;
pub mod uploader;
