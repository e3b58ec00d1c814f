//! Networking (asyncio's streams and transports): TCP, UDP and Unix-domain
//! sockets on the runtime's reactor. Stream types implement
//! `futures_io::AsyncRead` and `AsyncWrite`, so `futures::io` helpers
//! (`AsyncReadExt`, `BufReader`, `copy`, ...) work on them.
//!
//! ```
//! use aiolos::net::{TcpListener, TcpStream};
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//!
//! let rt = aiolos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let server = aiolos::spawn(async move {
//!         let (mut s, _) = listener.accept().await.unwrap();
//!         let mut buf = [0; 5];
//!         s.read_exact(&mut buf).await.unwrap();
//!         s.write_all(&buf).await.unwrap();
//!     });
//!     let mut c = TcpStream::connect(addr).await.unwrap();
//!     c.write_all(b"hello").await.unwrap();
//!     let mut buf = [0; 5];
//!     c.read_exact(&mut buf).await.unwrap();
//!     assert_eq!(&buf, b"hello");
//!     server.await.unwrap();
//! });
//! ```

pub use aiolos_io::net::*;
