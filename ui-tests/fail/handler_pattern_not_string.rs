use eventlib::{handler, Record};

#[handler(shop.*)]
fn audit(record: &Record) {
    let _ = record.name();
}

fn main() {}
