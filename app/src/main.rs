//! The `ekphrasis-app` binary that Trunk builds: it only starts the app.

fn main() {
    ekphrasis_app::start();
}
