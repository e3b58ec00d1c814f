// `#[aiolos::test]` already adds `#[test]`: a second one is refused.

#[aiolos::test]
#[test]
async fn runs() {}

fn main() {}
