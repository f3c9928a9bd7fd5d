// The CPU caching allocator (see cpu_allocator.h).
#include "engine/cpu_allocator.h"

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/flat_map.h"

namespace kite {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kFineLimit = 4096;  // below: multiples of 64 bytes
constexpr size_t kDefaultLimitMiB = 2048;

size_t limit_from_environment() {
  const char* text = std::getenv("KITE_CPU_CACHE_MB");
  if (text == nullptr || *text == '\0') return kDefaultLimitMiB << 20;
  char* end = nullptr;
  const unsigned long long mib = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') {
    std::fprintf(stderr, "kite: ignoring KITE_CPU_CACHE_MB='%s' (expected a number of MiB)\n",
                 text);
    return kDefaultLimitMiB << 20;
  }
  return static_cast<size_t>(mib) << 20;
}

std::string mib(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

thread_local bool pinned_scope = false;
PinnedAllocateFn pinned_allocate = nullptr;
PinnedFreeFn pinned_free = nullptr;

class CpuAllocator {
 public:
  static CpuAllocator& instance() {
    // Never destroyed: tensors in static objects may be freed after main returns.
    static CpuAllocator* allocator = new CpuAllocator();
    return *allocator;
  }

  void* allocate(size_t nbytes) {
    const size_t size = cpu_size_class(nbytes);
    bool pinned = pinned_scope && pinned_allocate != nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.allocations;
      auto& lists = pinned ? pinned_free_blocks_ : free_blocks_;
      std::vector<void*>* list = lists.find(size);
      if (list != nullptr && !list->empty()) {
        void* ptr = list->back();
        list->pop_back();
        stats_.cached_bytes -= size;
        ++stats_.cache_hits;
        hand_out(ptr, Block{size, pinned});
        return ptr;
      }
    }
    void* ptr = system_allocate(size, pinned);
    if (ptr == nullptr) {  // give the cache back and try once more
      empty_cache();
      ptr = system_allocate(size, pinned);
    }
    if (ptr == nullptr && pinned) {
      // Page-locking is a speed-up, not a need (the driver may refuse it: a locked-memory
      // limit, a GPU in exclusive-process mode): ordinary memory copies to the GPU too.
      pinned = false;
      ptr = system_allocate(size, pinned);
    }
    KITE_CHECK(ptr != nullptr, "cpu: out of memory allocating " << nbytes << " bytes"
                                                                << (pinned ? " (pinned)" : ""));
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.system_allocations;
    hand_out(ptr, Block{size, pinned});
    return ptr;
  }

  bool is_pinned(const void* ptr) {
    std::lock_guard<std::mutex> lock(mutex_);
    const Block* block = blocks_.find(const_cast<void*>(ptr));
    return block != nullptr && block->pinned;
  }

  void deallocate(void* ptr) {
    if (ptr == nullptr) return;
    std::unique_lock<std::mutex> lock(mutex_);
    const std::optional<Block> taken = blocks_.take(ptr);
    if (!taken) {
      // Called from Storage's destructor, which must not throw: report and leak.
      std::fprintf(stderr, "kite cpu allocator: free of unknown pointer %p ignored\n", ptr);
      return;
    }
    const Block block = *taken;
    stats_.current_bytes -= block.size;
    if (stats_.cached_bytes + block.size <= stats_.cache_limit_bytes) {
      (block.pinned ? pinned_free_blocks_ : free_blocks_)[block.size].push_back(ptr);
      stats_.cached_bytes += block.size;
      return;
    }
    lock.unlock();
    system_free(ptr, block.pinned);
  }

  void release_until(size_t limit) {
    std::vector<std::pair<void*, bool>> released;  // (block, pinned)
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (bool pinned : {false, true}) {
        (pinned ? pinned_free_blocks_ : free_blocks_)
            .for_each([&](size_t size, std::vector<void*>& blocks) {
              while (stats_.cached_bytes > limit && !blocks.empty()) {
                released.emplace_back(blocks.back(), pinned);
                blocks.pop_back();
                stats_.cached_bytes -= size;
              }
            });
      }
    }
    for (auto [ptr, pinned] : released) system_free(ptr, pinned);
  }

  void empty_cache() { release_until(0); }

  void set_limit(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.cache_limit_bytes = bytes;
    }
    release_until(bytes);
  }

  CpuAllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_bytes = stats_.current_bytes;
  }

 private:
  CpuAllocator() { stats_.cache_limit_bytes = limit_from_environment(); }

  struct Block {
    size_t size;  // size class
    bool pinned;
  };

  static void* system_allocate(size_t size, bool pinned) {
    return pinned ? pinned_allocate(size) : std::aligned_alloc(kAlignment, size);
  }
  static void system_free(void* ptr, bool pinned) {
    if (pinned)
      pinned_free(ptr);
    else
      std::free(ptr);
  }

  // Records a block as in use (mutex held).
  void hand_out(void* ptr, Block block) {
    blocks_[ptr] = block;
    stats_.current_bytes += block.size;
    if (stats_.current_bytes > stats_.peak_bytes) stats_.peak_bytes = stats_.current_bytes;
  }

  // Flat tables (engine/flat_map.h): no division to find a slot, no heap node per entry.
  using FreeLists = FlatMap<size_t, std::vector<void*>>;  // size class -> blocks
  std::mutex mutex_;
  FreeLists free_blocks_, pinned_free_blocks_;
  FlatMap<void*, Block> blocks_;  // blocks in use
  CpuAllocatorStats stats_;
};

}  // namespace

size_t cpu_size_class(size_t nbytes) {
  if (nbytes <= kFineLimit) return nbytes == 0 ? kAlignment : (nbytes + 63) / 64 * 64;
  // Eight classes per power of two: keep the top four bits (1xxx) of the size, round up.
  const int shift = std::bit_width(nbytes) - 4;
  const size_t step = size_t{1} << shift;
  return (nbytes + step - 1) / step * step;
}

void* cpu_allocate(size_t nbytes) { return CpuAllocator::instance().allocate(nbytes); }
void cpu_deallocate(void* ptr) { CpuAllocator::instance().deallocate(ptr); }
CpuAllocatorStats cpu_allocator_stats() { return CpuAllocator::instance().stats(); }
void cpu_reset_peak_bytes() { CpuAllocator::instance().reset_peak(); }
void cpu_empty_cache() { CpuAllocator::instance().empty_cache(); }
void cpu_set_cache_limit(size_t bytes) { CpuAllocator::instance().set_limit(bytes); }

void register_pinned_host_allocator(PinnedAllocateFn allocate, PinnedFreeFn free) {
  KITE_CHECK((allocate == nullptr) == (free == nullptr),
             "register_pinned_host_allocator: give both functions or neither");
  pinned_allocate = allocate;
  pinned_free = free;
}

std::pair<PinnedAllocateFn, PinnedFreeFn> registered_pinned_host_allocator() {
  return {pinned_allocate, pinned_free};
}

bool pinned_host_available() { return pinned_allocate != nullptr; }

bool cpu_is_pinned(const void* ptr) { return CpuAllocator::instance().is_pinned(ptr); }

PinnedHostScope::PinnedHostScope(bool enabled) : previous_(pinned_scope) { pinned_scope = enabled; }

PinnedHostScope::~PinnedHostScope() { pinned_scope = previous_; }

std::string format_cpu_allocator_stats() {
  const CpuAllocatorStats s = cpu_allocator_stats();
  std::ostringstream out;
  out << "cpu allocator: current " << mib(s.current_bytes) << ", peak " << mib(s.peak_bytes)
      << ", cached " << mib(s.cached_bytes) << ", " << s.allocations << " requests ("
      << s.cache_hits << " from cache)";
  return out.str();
}

}  // namespace kite
