// `#[aiolos::main]` on something that is not a function.

#[aiolos::main]
struct Main;

fn main() {}
