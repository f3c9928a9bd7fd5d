// The kernel interface of the fused optimizer updates (ops/optim_kernels.h): one function
// pointer type per kernel and its dispatch stub. The CPU kernels are in ops/cpu/optim.cpp;
// a CUDA back end fills the CUDA slots with kernels of the same signatures.
//
// Layout contract: the public functions in ops/optim_kernels.cpp have already checked that
// every tensor passed here is defined, contiguous, of the parameter's floating dtype, shape
// and device, so kernels may treat them as flat arrays of numel() elements.
#pragma once

#include "engine/dispatch.h"
#include "engine/tensor.h"
#include "ops/math/optim.h"

namespace kite {

// momentum_buffer is undefined when scalars.momentum == 0.
using SgdStepFn = void (*)(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                           const SgdScalars& scalars);
using AdamStepFn = void (*)(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                            const Tensor& exp_avg_sq, const AdamScalars& scalars);
// Sum of the squares of all elements, accumulated in double.
using SumOfSquaresFn = double (*)(const Tensor& x);
// x *= factor, in place.
using ScaleFn = void (*)(const Tensor& x, double factor);

extern DispatchStub<SgdStepFn> sgd_step_stub;
extern DispatchStub<AdamStepFn> adam_step_stub;
extern DispatchStub<SumOfSquaresFn> sum_of_squares_stub;
extern DispatchStub<ScaleFn> scale_stub;

}  // namespace kite
