// `#[aiolos::test]` on a function without `async`: the error points at `fn`.

#[aiolos::test]
fn runs() {}

fn main() {}
