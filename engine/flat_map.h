// FlatMap<Key, Value>: a hash table for pointer and integer keys, for the caching allocators'
// bookkeeping (block address -> block, size class -> free blocks).
//
// Why not std::unordered_map: every lookup there turns the hash into a bucket with a modulo by
// a prime, a 64-bit division, and every entry is a node of its own. In the allocators, which run
// twice per tensor, the divisions were the largest single cost of allocate and free (perf on
// matmul's CUDA path, with the stand-in runtime of apps/bench/fake_cuda_runtime.cpp). Here the
// slots are one array whose size is a power of two; the slot is the top bits of key * 2^64/phi
// (Fibonacci hashing: spreads aligned addresses, whose low bits are all zero, over the whole
// table); a collision takes the next free slot (linear probing); an erase shifts the following
// entries of its run back (no tombstones).
//
// The key Key{} (nullptr, 0) marks an empty slot and cannot be stored: the allocators never
// store a null block or a zero size class. Not thread-safe; the allocators hold their mutex.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/error.h"

namespace kite {

template <class Key, class Value>
requires std::is_pointer_v<Key> || std::is_integral_v<Key>
class FlatMap {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  Value* find(Key key) {
    if (slots_.empty() || key == Key{}) return nullptr;
    for (size_t i = home(key);; i = next(i)) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == Key{}) return nullptr;
    }
  }

  // The value of `key`, default-constructed first if the key is new.
  Value& operator[](Key key) {
    KITE_CHECK(key != Key{}, "FlatMap: the empty key cannot be stored");
    if (Value* value = find(key)) return *value;
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();  // keep at most 3/4 of the slots full
    size_t i = home(key);
    while (slots_[i].key != Key{}) i = next(i);
    slots_[i].key = key;
    ++size_;
    return slots_[i].value;
  }

  // Removes `key` and returns its value; nullopt when it is not there.
  std::optional<Value> take(Key key) {
    if (slots_.empty() || key == Key{}) return std::nullopt;
    size_t i = home(key);
    while (slots_[i].key != key) {
      if (slots_[i].key == Key{}) return std::nullopt;
      i = next(i);
    }
    std::optional<Value> value(std::move(slots_[i].value));
    // Backward shift: a later entry of the run whose home slot is not in (hole, entry] moves
    // into the hole, and its old slot becomes the hole; left where it was, a lookup for it
    // would start at its home, meet the hole and stop short.
    for (size_t j = next(i); slots_[j].key != Key{}; j = next(j)) {
      const size_t k = home(slots_[j].key);
      const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
      if (stays) continue;
      slots_[i] = std::move(slots_[j]);
      i = j;
    }
    slots_[i] = Slot{};
    --size_;
    return value;
  }

  // Calls fn(key, value) for every entry, in no particular order.
  template <class Fn>
  void for_each(Fn&& fn) {
    for (Slot& slot : slots_)
      if (slot.key != Key{}) fn(slot.key, slot.value);
  }

 private:
  struct Slot {
    Key key{};
    Value value{};
  };

  static uint64_t bits_of(Key key) {
    if constexpr (std::is_pointer_v<Key>)
      return reinterpret_cast<uintptr_t>(key);
    else
      return static_cast<uint64_t>(key);
  }
  size_t home(Key key) const {
    return static_cast<size_t>((bits_of(key) * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  size_t next(size_t i) const { return (i + 1) & (slots_.size() - 1); }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t capacity = old.empty() ? 64 : old.size() * 2;
    slots_ = std::vector<Slot>(capacity);
    shift_ = 64 - std::countr_zero(capacity);
    size_ = 0;
    for (Slot& slot : old)
      if (slot.key != Key{}) (*this)[slot.key] = std::move(slot.value);
  }

  std::vector<Slot> slots_;  // size 0 or a power of two
  int shift_ = 64;           // 64 - log2(slots_.size())
  size_t size_ = 0;
};

}  // namespace kite
