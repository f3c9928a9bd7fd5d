// Scalar math for code shared by CPU loops and CUDA kernels: one overload per function for
// float and for double, calling the C library's expf/exp, logf/log, ... by name.
//
// Why not std::exp: the C names exist in CUDA device code too (nvcc maps them to its own
// device math library), while std:: overloads are host-only. Writing the float and double
// overloads out also keeps float arithmetic in float: exp(float) through the double
// function would be slower and round differently from the GPU.
#pragma once

#include <math.h>

#include "engine/hd.h"

namespace kite {

KITE_HD float k_exp(float x) { return ::expf(x); }
KITE_HD double k_exp(double x) { return ::exp(x); }

KITE_HD float k_expm1(float x) { return ::expm1f(x); }
KITE_HD double k_expm1(double x) { return ::expm1(x); }

KITE_HD float k_log(float x) { return ::logf(x); }
KITE_HD double k_log(double x) { return ::log(x); }

KITE_HD float k_log1p(float x) { return ::log1pf(x); }
KITE_HD double k_log1p(double x) { return ::log1p(x); }

KITE_HD float k_sqrt(float x) { return ::sqrtf(x); }
KITE_HD double k_sqrt(double x) { return ::sqrt(x); }

KITE_HD float k_tanh(float x) { return ::tanhf(x); }
KITE_HD double k_tanh(double x) { return ::tanh(x); }

KITE_HD float k_abs(float x) { return ::fabsf(x); }
KITE_HD double k_abs(double x) { return ::fabs(x); }

KITE_HD float k_pow(float x, float y) { return ::powf(x, y); }
KITE_HD double k_pow(double x, double y) { return ::pow(x, y); }

// fmax/fmin semantics: when one argument is NaN the other is returned.
KITE_HD float k_max(float x, float y) { return ::fmaxf(x, y); }
KITE_HD double k_max(double x, double y) { return ::fmax(x, y); }

KITE_HD float k_min(float x, float y) { return ::fminf(x, y); }
KITE_HD double k_min(double x, double y) { return ::fmin(x, y); }

}  // namespace kite
