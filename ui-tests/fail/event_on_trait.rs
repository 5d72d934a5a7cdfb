use eventlib::event;

#[event]
trait Ping {
    fn ping(&self);
}

fn main() {}
