use eventlib::{handler, Record};

#[handler("*")]
fn audit(record: Record) {
    let _ = record.name();
}

fn main() {}
