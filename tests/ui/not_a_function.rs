// `#[leak_check]` goes on test functions only.

#[taskleak::leak_check]
struct Fixture {
    port: u16,
}

#[taskleak::leak_check]
mod tests {}

#[taskleak::leak_check]
const TIMEOUT_MS: u64 = 10;

fn main() {
    let _ = Fixture {
        port: TIMEOUT_MS as u16,
    }
    .port;
}
