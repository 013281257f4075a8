//! The arithmetic of the page cache: which page a file position falls in,
//! how much of it one step of a read or write covers, what a truncation
//! frees and zeroes, and the size and offset limits of `read`/`write`
//! (Linux `mm/filemap.c`, `mm/truncate.c`, `fs/read_write.c`,
//! `include/linux/fs.h`).
//!
//! Pure functions of numbers, so they are tested on the host; the kernel's
//! `mm/filemap.rs` does the rest (the pages, their locks, the copies).
//!
//! ```text
//!  file position pos (loff_t, 64-bit even on i386)
//!  |<------ index * PAGE_SIZE ------>|<- offset ->|
//!  page:  0        1        2       [index]
//!                                    |  offset .. offset + bytes  | next step
//! ```

use crate::layout::PAGE_SIZE;

/// `PAGE_SHIFT`: a position's page index is `pos >> PAGE_SHIFT`.
pub const PAGE_SHIFT: u32 = PAGE_SIZE.trailing_zeros();

/// The largest file a 32-bit Linux allows (Linux `MAX_LFS_FILESIZE` for
/// `BITS_PER_LONG == 32`: `(loff_t)ULONG_MAX << PAGE_SHIFT`): the page
/// index is an `unsigned long`, so a file has at most 2^32 pages. ramfs's
/// `s_maxbytes`.
pub const MAX_LFS_FILESIZE: u64 = (u32::MAX as u64) << PAGE_SHIFT;

/// The limit for a file opened without `O_LARGEFILE` (Linux
/// `MAX_NON_LFS`, `((1UL << 31) - 1)`): what an `off_t` holds.
pub const MAX_NON_LFS: u64 = (1 << 31) - 1;

/// The most one `read`/`write` moves (Linux `MAX_RW_COUNT`, `INT_MAX &
/// PAGE_MASK`): larger counts are cut to it, so the result fits the
/// return register.
pub const MAX_RW_COUNT: usize = i32::MAX as usize & !(PAGE_SIZE - 1);

/// One step of a page-cache copy: `bytes` bytes at `offset` within page
/// `index` of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// The page's index in the file (Linux `pgoff_t`).
    pub index: usize,
    /// Where in the page the step starts.
    pub offset: usize,
    /// How many bytes the step covers (at least 1).
    pub bytes: usize,
}

/// The page index and in-page offset of file position `pos`.
pub const fn page_index(pos: u64) -> (usize, usize) {
    ((pos >> PAGE_SHIFT) as usize, (pos as usize) & (PAGE_SIZE - 1))
}

/// Step 1 of each iteration of Linux's `generic_perform_write`: `offset =
/// pos & (PAGE_SIZE - 1); bytes = min(PAGE_SIZE - offset, count)`.
/// `count` must not be 0.
pub fn write_chunk(pos: u64, count: usize) -> Chunk {
    debug_assert!(count > 0);
    let (index, offset) = page_index(pos);
    Chunk { index, offset, bytes: (PAGE_SIZE - offset).min(count) }
}

/// One step of Linux's `filemap_read` loop: the piece of `[pos, pos +
/// count)` in the page that holds `pos`, cut at the file's end `i_size`;
/// `None` when nothing is left to read (at or past the end, or `count`
/// 0).
pub fn read_chunk(pos: u64, count: usize, i_size: u64) -> Option<Chunk> {
    if count == 0 || pos >= i_size {
        return None;
    }
    let (index, offset) = page_index(pos);
    let to_end = usize::try_from(i_size - pos).unwrap_or(usize::MAX);
    Some(Chunk { index, offset, bytes: (PAGE_SIZE - offset).min(count).min(to_end) })
}

/// What cutting a file to `newsize` does to its pages (Linux
/// `truncate_pagecache` → `truncate_inode_pages_range(mapping, newsize,
/// -1)`): every page from `first_gone` on leaves the cache, and if the
/// new end is inside a page, that page is kept and zeroed from
/// `partial.1` to its end (`truncate_inode_partial_folio`), so a later
/// growth of the file reads zeros there, not the old bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    /// The first page index that is removed.
    pub first_gone: usize,
    /// The page cut in the middle and the offset its zeroing starts at.
    pub partial: Option<(usize, usize)>,
}

/// See [`Truncation`]. `newsize` must not exceed [`MAX_LFS_FILESIZE`].
pub fn truncation(newsize: u64) -> Truncation {
    let (index, offset) = page_index(newsize);
    if offset == 0 { Truncation { first_gone: index, partial: None } } else { Truncation { first_gone: index + 1, partial: Some((index, offset)) } }
}

/// The segments of a page that Linux's `simple_write_begin` zeroes when
/// the page is not up to date and the write covers only `[from, from +
/// len)` of it (`zero_user_segments(page, 0, from, from + len,
/// PAGE_SIZE)`): before and after the write. Empty ranges when the write
/// covers the whole page.
pub fn write_begin_zero_segments(from: usize, len: usize) -> [(usize, usize); 2] {
    debug_assert!(from + len <= PAGE_SIZE);
    if len == PAGE_SIZE { [(0, 0), (PAGE_SIZE, PAGE_SIZE)] } else { [(0, from), (from + len, PAGE_SIZE)] }
}

/// The file size after `simple_write_end` took `copied` bytes at `pos`:
/// `i_size` grows to `pos + copied` if that is past it, never shrinks,
/// and a copy of nothing leaves it as it was.
pub fn write_end_size(i_size: u64, pos: u64, copied: usize) -> u64 {
    let last_pos = pos + copied as u64;
    if copied > 0 && last_pos > i_size { last_pos } else { i_size }
}

/// The 64-bit offset of `pread64`/`pwrite64`/`ftruncate64` from the two
/// 32-bit registers the i386 ABI passes it in, low word first (Linux
/// `arch/x86/kernel/sys_ia32.c`: `((loff_t)AA(poshi) << 32) | AA(poslo)`).
pub const fn loff_from_halves(lo: u32, hi: u32) -> i64 {
    (((hi as u64) << 32) | lo as u64) as i64
}

/// Why a read or write was refused before it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RwError {
    /// `EINVAL`: a negative position, or a position plus count that does
    /// not fit `loff_t` (Linux `rw_verify_area`).
    Invalid,
    /// `EFBIG`: a write at or past the largest size the file may have
    /// (Linux `generic_write_check_limits`; Linux also sends `SIGXFSZ`).
    TooBig,
}

impl RwError {
    /// Linux's errno value.
    pub const fn errno(self) -> i32 {
        match self {
            Self::Invalid => 22,
            Self::TooBig => 27,
        }
    }
}

/// Linux `rw_verify_area` for a file without `FMODE_UNSIGNED_OFFSET`
/// (every regular file): a negative position, or one whose end overflows
/// `loff_t`, is `EINVAL`.
pub fn rw_verify_area(pos: i64, count: usize) -> Result<(), RwError> {
    if pos < 0 || pos.checked_add(count as i64).is_none() {
        return Err(RwError::Invalid);
    }
    Ok(())
}

/// Linux `generic_write_check_limits`: the largest size is `s_maxbytes`,
/// or [`MAX_NON_LFS`] for a file opened without `O_LARGEFILE`; a write
/// starting at or past it is `EFBIG`, one that would cross it is cut to
/// end there. Returns the count that may be written. (A write of 0 bytes
/// is checked too, as in Linux.)
pub fn generic_write_check_limits(pos: u64, count: usize, largefile: bool, s_maxbytes: u64) -> Result<usize, RwError> {
    let max_size = if largefile { s_maxbytes } else { MAX_NON_LFS.min(s_maxbytes) };
    if pos >= max_size {
        return Err(RwError::TooBig);
    }
    Ok(count.min(usize::try_from(max_size - pos).unwrap_or(usize::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_split_into_index_and_offset() {
        assert_eq!(page_index(0), (0, 0));
        assert_eq!(page_index(4095), (0, 4095));
        assert_eq!(page_index(4096), (1, 0));
        assert_eq!(page_index(5 << 32), (5 << 20, 0), "positions past 4 GiB keep their high bits");
        assert_eq!(page_index(MAX_LFS_FILESIZE - 1), (u32::MAX as usize - 1, 4095));
    }

    #[test]
    fn write_steps_stop_at_each_page_end() {
        assert_eq!(write_chunk(0, 8192), Chunk { index: 0, offset: 0, bytes: 4096 });
        assert_eq!(write_chunk(100, 8192), Chunk { index: 0, offset: 100, bytes: 3996 });
        assert_eq!(write_chunk(4096 + 10, 5), Chunk { index: 1, offset: 10, bytes: 5 });
        // Walking a write step by step covers it exactly once.
        for (start, len) in [(0u64, 1usize), (4095, 2), (3, 3 * 4096 + 7), (8192, 4096)] {
            let (mut pos, mut left, mut steps) = (start, len, 0);
            while left > 0 {
                let c = write_chunk(pos, left);
                assert!(c.offset + c.bytes <= PAGE_SIZE && c.bytes > 0);
                pos += c.bytes as u64;
                left -= c.bytes;
                steps += 1;
            }
            assert_eq!(pos, start + len as u64);
            assert_eq!(steps, ((start as usize + len).div_ceil(4096)) - start as usize / 4096);
        }
    }

    #[test]
    fn read_steps_stop_at_the_end_of_the_file() {
        assert_eq!(read_chunk(0, 100, 50), Some(Chunk { index: 0, offset: 0, bytes: 50 }));
        assert_eq!(read_chunk(50, 100, 50), None, "at the end");
        assert_eq!(read_chunk(60, 100, 50), None, "past the end");
        assert_eq!(read_chunk(0, 0, 50), None, "nothing asked");
        assert_eq!(read_chunk(4000, 8192, 1 << 40), Some(Chunk { index: 0, offset: 4000, bytes: 96 }));
        assert_eq!(read_chunk(1 << 33, 10, (1 << 33) + 4), Some(Chunk { index: 1 << 21, offset: 0, bytes: 4 }));
    }

    #[test]
    fn truncation_frees_whole_pages_and_zeroes_the_cut_one() {
        assert_eq!(truncation(0), Truncation { first_gone: 0, partial: None });
        assert_eq!(truncation(4096), Truncation { first_gone: 1, partial: None });
        assert_eq!(truncation(4097), Truncation { first_gone: 2, partial: Some((1, 1)) });
        assert_eq!(truncation(100), Truncation { first_gone: 1, partial: Some((0, 100)) });
    }

    #[test]
    fn write_begin_zeroes_around_a_partial_write() {
        assert_eq!(write_begin_zero_segments(0, 4096), [(0, 0), (4096, 4096)]);
        assert_eq!(write_begin_zero_segments(100, 10), [(0, 100), (110, 4096)]);
        assert_eq!(write_begin_zero_segments(0, 1), [(0, 0), (1, 4096)]);
        assert_eq!(write_begin_zero_segments(4095, 1), [(0, 4095), (4096, 4096)]);
    }

    #[test]
    fn i_size_grows_only_by_what_was_copied() {
        assert_eq!(write_end_size(0, 0, 4096), 4096);
        assert_eq!(write_end_size(8192, 0, 4096), 8192, "a write inside the file does not shrink it");
        assert_eq!(write_end_size(100, 4096, 10), 4106);
        assert_eq!(write_end_size(100, 4096, 0), 100, "a copy of nothing changes nothing");
    }

    #[test]
    fn the_64_bit_offset_comes_low_word_first() {
        assert_eq!(loff_from_halves(0x1000, 0), 0x1000);
        assert_eq!(loff_from_halves(0, 1), 1 << 32);
        assert_eq!(loff_from_halves(0xffff_ffff, 0x7fff_ffff), i64::MAX);
        assert_eq!(loff_from_halves(0xffff_ffff, 0xffff_ffff), -1);
    }

    #[test]
    fn rw_verify_area_refuses_negative_and_overflowing_positions() {
        assert_eq!(rw_verify_area(0, usize::MAX), Ok(()));
        assert_eq!(rw_verify_area(-1, 0), Err(RwError::Invalid));
        assert_eq!(rw_verify_area(i64::MAX, 1), Err(RwError::Invalid));
        assert_eq!(rw_verify_area(i64::MAX - 1, 1), Ok(()));
        assert_eq!((RwError::Invalid.errno(), RwError::TooBig.errno()), (22, 27));
    }

    #[test]
    fn write_limits_follow_o_largefile() {
        let big = MAX_LFS_FILESIZE;
        assert_eq!(generic_write_check_limits(0, 100, false, big), Ok(100));
        assert_eq!(generic_write_check_limits(MAX_NON_LFS - 10, 100, false, big), Ok(10), "cut at 2 GiB - 1");
        assert_eq!(generic_write_check_limits(MAX_NON_LFS, 1, false, big), Err(RwError::TooBig));
        assert_eq!(generic_write_check_limits(MAX_NON_LFS, 0, false, big), Err(RwError::TooBig), "even for 0 bytes");
        assert_eq!(generic_write_check_limits(MAX_NON_LFS, 1, true, big), Ok(1));
        assert_eq!(generic_write_check_limits(big - 1, 100, true, big), Ok(1));
        assert_eq!(generic_write_check_limits(big, 1, true, big), Err(RwError::TooBig));
        assert_eq!(MAX_RW_COUNT, 0x7fff_f000);
    }
}
