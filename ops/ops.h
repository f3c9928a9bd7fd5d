// Everything a user of the engine needs, in one include.
#pragma once

#include "engine/autograd.h"
#include "engine/generator.h"
#include "engine/tensor.h"
#include "ops/activations.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/linalg.h"
#include "ops/loss.h"
#include "ops/optim_kernels.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
