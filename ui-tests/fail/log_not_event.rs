use eventlib::log;

fn main() -> Result<(), eventlib::Error> {
    log!(String::from("shop.Ping"))?;
    Ok(())
}
