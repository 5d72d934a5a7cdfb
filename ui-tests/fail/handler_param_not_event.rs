use eventlib::handler;

#[handler]
fn on_text(text: &String) {
    let _ = text.len();
}

fn main() {}
