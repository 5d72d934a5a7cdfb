use eventlib::{handler, Record};

#[handler("a.*.b")]
fn audit(record: &Record) {
    let _ = record.name();
}

fn main() {}
