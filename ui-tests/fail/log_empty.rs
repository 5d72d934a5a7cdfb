use eventlib::log;

fn main() -> Result<(), eventlib::Error> {
    log!()?;
    Ok(())
}
