// A stand-in for a GPU in tests that run without one: the CUDA device slot of the engine gets a
// back end whose memory is ordinary host memory, and every CUDA dispatch slot gets the CPU's
// kernel. Tensors on "cuda:0" then work, with exactly the CPU's arithmetic.
//
// What this checks is the code around the kernels, which the CPU tests never reach: that ops,
// models and optimizers keep every tensor on their inputs' device (a constant made on the CPU
// that meets a "cuda:0" tensor is refused, "... are on different devices", as on a real GPU),
// and that the non-CPU branches of ops run. It checks nothing of the CUDA kernels.
//
// Process-wide and permanent: call it first thing in a test binary of its own, never in one
// that wants the real GPU.
#pragma once

namespace kite::test_support {

void install_host_backed_cuda();

}  // namespace kite::test_support
