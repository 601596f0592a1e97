//! Entry point Trunk builds: mounts the card form.

fn main() {
    payframe_frontend::start();
}
