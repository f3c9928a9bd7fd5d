// The stream every kite kernel, copy and allocation of the calling thread goes to.
//
// By default it is the legacy default stream (0), which orders work with every other
// blocking stream of the device: the simple, consistent choice. A StreamGuard points the
// calling thread at another stream for a scope. The caching allocator keeps freed blocks
// per stream and hands a block only to allocations on the stream it was freed from, so
// stream order alone guarantees that a reused block is no longer being read; memory shared
// between streams needs the caller's own synchronisation. The guard's stream is per thread, not
// per device: use it only for work on the device that stream was created on (a kernel for a
// tensor on another device would be launched on a foreign stream and fail).
#pragma once

#include <cuda_runtime.h>

namespace kite::cuda {

cudaStream_t current_stream();

class StreamGuard {
 public:
  explicit StreamGuard(cudaStream_t stream);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  cudaStream_t previous_;
};

}  // namespace kite::cuda
