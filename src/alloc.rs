//! The global allocator: the system allocator, except that huge requests are served lazily.
//!
//! Why: the kafka-protocol decoder sizes a `Vec` from an array length read off the wire before it
//! reads any element, so a 40-byte request claiming 2^31 elements asks for hundreds of GiB at once.
//! With the system allocator that allocation fails and Rust aborts the process: one bad frame would
//! take the whole broker down. Allocations of [`LAZY_MIN`] bytes or more are therefore mapped with
//! `MAP_NORESERVE`: address space only, no memory committed until touched. The decoder then fails
//! on the first missing element, the mapping is dropped, and only that connection is closed.
//! Legitimate allocations never come near the threshold (requests are capped at
//! `socket.request.max.bytes`, 100 MiB by default).
use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations at least this large are lazy mappings.
pub const LAZY_MIN: usize = 1 << 30;
const PAGE: usize = 4096;

pub struct GuardedAllocator;

fn lazy(layout: &Layout) -> bool {
    layout.size() >= LAZY_MIN && layout.align() <= PAGE
}

unsafe impl GlobalAlloc for GuardedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if lazy(&layout) {
            // SAFETY: an anonymous private mapping; no file, no aliasing.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    layout.size(),
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return std::ptr::null_mut();
            }
            return p as *mut u8;
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if lazy(&layout) {
            // Fresh anonymous mappings are zero-filled.
            return unsafe { self.alloc(layout) };
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if lazy(&layout) {
            unsafe { libc::munmap(ptr as *mut libc::c_void, layout.size()) };
            return;
        }
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` with `layout.align()` is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if !lazy(&layout) && !lazy(&new_layout) {
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn absurd_capacity_does_not_abort() {
        // 2^31 elements of 64 bytes: 128 GiB of address space, nothing committed.
        let v: Vec<[u8; 64]> = Vec::with_capacity(i32::MAX as usize);
        assert!(v.capacity() >= i32::MAX as usize);
        let mut small: Vec<u8> = Vec::with_capacity(10);
        small.extend_from_slice(b"still fine");
        assert_eq!(&small, b"still fine");
    }
}
