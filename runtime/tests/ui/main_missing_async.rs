// `#[aiolos::main]` on a function without `async`: the error points at `fn`.

#[aiolos::main]
fn main() {}
