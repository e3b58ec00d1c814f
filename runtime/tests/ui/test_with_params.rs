// `#[aiolos::test]` on a function with parameters: the error points at them.

#[aiolos::test]
async fn adds(a: u32, b: u32) {
    assert_eq!(a + b, b + a);
}

fn main() {}
