// `main` cannot take parameters: the error points at them.

#[aiolos::main]
async fn main(name: String) {
    println!("{name}");
}
