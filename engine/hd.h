// KITE_HD marks arithmetic shared by CPU loops and CUDA kernels.
//
// Under nvcc it becomes __host__ __device__; elsewhere it is empty. Code marked with it
// must not allocate, throw, or touch anything but its arguments, so that the CPU tests
// exercise exactly the arithmetic that GPU kernels run.
#pragma once

#if defined(__CUDACC__)
#define KITE_HD __host__ __device__ __forceinline__
#else
#define KITE_HD inline
#endif
