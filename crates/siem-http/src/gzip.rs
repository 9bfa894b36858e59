//! gzip (RFC 1952) for request bodies, with one deflate compressor kept per thread.
//!
//! A fresh compressor allocates and clears about 300 KiB of window and hash tables; a
//! request body is a few hundred KiB, so building one per body cost a noticeable share of
//! the compression itself. Resetting a kept one clears only what deflate needs cleared.
//! The framing (a fixed 10-byte header, the raw deflate stream, CRC-32 and length) is
//! written here so the compressed bytes go straight into the output buffer.

use std::cell::RefCell;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use crate::GZIP_LEVEL;

/// `1f 8b`: gzip; `08`: deflate; no flags; no modification time; `04`: the fastest
/// level was used; `ff`: unknown operating system.
const HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x04, 0xff];

thread_local! {
    static COMPRESSOR: RefCell<Option<Compress>> = const { RefCell::new(None) };
}

/// `data` as one gzip member compressed at [`GZIP_LEVEL`], or `None` if deflate reported
/// an error (it has none for memory-to-memory compression; the caller then sends the body
/// uncompressed rather than panic in a worker).
pub(crate) fn compress(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 4 + 64);
    out.extend_from_slice(&HEADER);
    let done = COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let deflate = match slot.as_mut() {
            Some(deflate) => {
                deflate.reset();
                deflate
            }
            None => slot.insert(Compress::new(Compression::new(GZIP_LEVEL), false)),
        };
        let done = deflate_all(deflate, data, &mut out);
        if !done {
            // Not reused after a failure.
            *slot = None;
        }
        done
    });
    if !done {
        return None;
    }
    let mut crc = Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1).
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Some(out)
}

/// Runs `deflate` over all of `data` to the end of the stream, growing `out` as needed.
/// False if deflate reported an error.
fn deflate_all(deflate: &mut Compress, data: &[u8], out: &mut Vec<u8>) -> bool {
    let start_in = deflate.total_in();
    loop {
        let consumed = (deflate.total_in() - start_in) as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        match deflate.compress_vec(&data[consumed..], out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return true,
            Ok(Status::Ok | Status::BufError) => {}
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn gunzip(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    #[test]
    fn round_trips_empty_small_repetitive_and_incompressible_input() {
        let mut noise = Vec::with_capacity(300_000);
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        while noise.len() < 300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.extend_from_slice(&x.to_le_bytes());
        }
        let inputs: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"{}".to_vec(),
            br#"{"event_type":"pii.blocked","org_id":"o"}"#.repeat(20_000),
            noise,
        ];
        // In sequence on one thread, so the kept compressor is reused between bodies
        // (a reset that kept state from the previous body would corrupt the next one).
        for _ in 0..2 {
            for input in &inputs {
                let body = compress(input).expect("compressed");
                assert_eq!(&body[..10], &HEADER);
                assert_eq!(gunzip(&body), *input, "input of {} bytes", input.len());
            }
        }
    }

    #[test]
    fn trailer_holds_the_crc_and_length_of_the_input() {
        let input = b"hello, gzip".repeat(1000);
        let body = compress(&input).expect("compressed");
        let trailer = &body[body.len() - 8..];
        let mut crc = Crc::new();
        crc.update(&input);
        assert_eq!(trailer[..4], crc.sum().to_le_bytes());
        assert_eq!(trailer[4..], (input.len() as u32).to_le_bytes());
    }
}
