// Counts the heap allocations of the whole program (the engine's included) by replacing the
// global operator new: bench_op_overhead and tests/unit/op_allocations.cpp report and check
// allocations per op call with it.
//
// Include it in exactly ONE source file of a program: the replacements below are definitions
// of the program's operator new and delete (C++ does not allow them to be inline).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace kite::apps {

inline std::atomic<long> heap_allocation_count{0};

// Heap allocations (operator new calls) since the program started.
inline long heap_allocations() { return heap_allocation_count.load(std::memory_order_relaxed); }

}  // namespace kite::apps

// Not inlined: GCC would otherwise see free() called on memory from operator new and warn.
[[gnu::noinline]] void* operator new(std::size_t size) {
  kite::apps::heap_allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
