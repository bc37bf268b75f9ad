//! The contract's global allocator: a bump allocator over linear memory.
//!
//! Every call runs in a fresh instance that is thrown away afterwards, so memory never needs to
//! be given back: allocation is a pointer increment, `dealloc` only reclaims the most recent
//! block, and `realloc` of the most recent block grows it in place (which is what a growing
//! `Vec` or `String` does). The heap starts at `__heap_base`, uses what is left of the initial
//! memory first and grows the memory only when that runs out, so a typical call touches few
//! pages. A call that allocates more than the runtime's memory limit (16 MiB) fails with
//! `MemoryLimit`.
//!
//! Disable the `bump-allocator` feature to bring your own `#[global_allocator]`.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};

const PAGE_BYTES: usize = 64 * 1024;

unsafe extern "C" {
    /// First byte after the stack and static data, placed by the linker.
    static __heap_base: u8;
}

/// Next free byte (0 until the first allocation) and end of the memory obtained so far.
/// wasm32 contracts are single-threaded, so relaxed atomics are plain loads and stores.
static NEXT: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);

struct Bump;

#[global_allocator]
static ALLOCATOR: Bump = Bump;

fn reserve(start: usize, size: usize) -> *mut u8 {
    let Some(new_next) = start.checked_add(size) else {
        return core::ptr::null_mut();
    };
    let end = END.load(Ordering::Relaxed);
    if new_next > end {
        let pages = (new_next - end).div_ceil(PAGE_BYTES);
        if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
            return core::ptr::null_mut();
        }
        END.store(end + pages * PAGE_BYTES, Ordering::Relaxed);
    }
    NEXT.store(new_next, Ordering::Relaxed);
    start as *mut u8
}

// SAFETY: `alloc` returns blocks that are disjoint from every other live block (the pointer
// only moves forward, except when the most recent block itself is freed or resized), aligned
// as requested, and inside linear memory that `memory.grow` has made accessible. Null is
// returned when memory cannot grow, as `GlobalAlloc` requires.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut next = NEXT.load(Ordering::Relaxed);
        if next == 0 {
            // SAFETY: only the address of the linker-defined symbol is taken, never its value.
            next = core::ptr::addr_of!(__heap_base) as usize;
            END.store(
                core::arch::wasm32::memory_size(0) * PAGE_BYTES,
                Ordering::Relaxed,
            );
        }
        let Some(start) = next.checked_next_multiple_of(layout.align()) else {
            return core::ptr::null_mut();
        };
        reserve(start, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr as usize + layout.size() == NEXT.load(Ordering::Relaxed) {
            NEXT.store(ptr as usize, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ptr as usize + layout.size() == NEXT.load(Ordering::Relaxed) {
            // The most recent block: grow or shrink it where it is.
            return reserve(ptr as usize, new_size);
        }
        // SAFETY: `new_size` with the old alignment is a valid layout (the caller guarantees
        // it does not overflow when rounded), the new block is disjoint from the old one, and
        // both are valid for `min(old, new)` bytes.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.alloc(new_layout);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            }
            new
        }
    }
}
