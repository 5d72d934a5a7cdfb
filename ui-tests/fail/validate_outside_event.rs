use eventlib::{validate, ValidationError};

struct Ping {
    n: u32,
}

impl Ping {
    #[validate]
    fn check(&self) -> Result<(), ValidationError> {
        if self.n == 0 {
            return Err(ValidationError::new("n must be positive"));
        }
        Ok(())
    }
}

fn main() {
    let _ = Ping { n: 1 }.check();
}
