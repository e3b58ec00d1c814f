//! Bring your own file descriptor: [`Async`] drives any non-blocking fd with
//! the runtime's reactor (asyncio's `loop.add_reader` / `add_writer`, as a
//! value).
//!
//! ```
//! use std::io::{Read, Write};
//! use std::os::unix::net::UnixStream;
//! use aiolos::io::Async;
//!
//! let rt = aiolos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let (a, b) = UnixStream::pair().unwrap();
//!     let a = Async::new(a).unwrap();
//!     let b = Async::new(b).unwrap();
//!     a.write_with(|s| (&*s).write(b"ping")).await.unwrap();
//!     let mut buf = [0; 4];
//!     let n = b.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
//!     assert_eq!(&buf[..n], b"ping");
//! });
//! ```

pub use aiolos_io::Async;
