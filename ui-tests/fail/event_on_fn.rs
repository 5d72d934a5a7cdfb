use eventlib::event;

#[event]
fn ping() {}

fn main() {
    ping();
}
