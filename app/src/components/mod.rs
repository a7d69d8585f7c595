//! The parts of the page, one module each.

pub mod announcer;
pub mod compose_bar;
pub mod controls;
pub mod description_editor;
pub mod file_inputs;
pub mod footer;
pub mod gallery;
pub mod header;
pub mod home;
pub mod kiosk;
pub mod kiosk_visit;
pub mod models_banner;
pub mod not_here;
pub mod player_panel;
pub mod problem_notice;
pub mod qr_code;
pub mod results;
pub mod share_bar;
pub mod stages;
pub mod track_page;
pub mod uploader;
