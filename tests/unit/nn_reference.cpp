// The spatial and normalisation ops against PyTorch: every case of
// tests/reference/nn_reference.safetensors (written by make_nn_fixtures.py with PyTorch 1.13)
// is run here in float64 and float32, and the output, every input gradient, max-pooling
// indices and updated running statistics are compared with PyTorch's.
//
// Tolerance: the max-norm relative error, max|kite - torch| <= rtol * max|torch| over each
// tensor, with rtol 1e-10 in float64 and 1e-5 in float32. (Relative to the tensor's scale
// rather than element by element, because an output that sums terms of both signs can be
// near zero while its rounding error is set by the terms.)
//
// Gradients are checked twice: by a plain backward (batch norm's fused kernel) and by
// autograd::grad with create_graph (the backward formulas written as ops).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "engine/autograd.h"
#include "engine/safetensors.h"
#include "ops/conv.h"
#include "ops/factory.h"
#include "ops/norm.h"
#include "ops/pool.h"
#include "ops/upsample.h"

namespace kite {
namespace {

using Extras = std::map<std::string, Tensor>;
using CaseFn = std::function<Tensor(const std::vector<Tensor>&, Extras&)>;

Tensor max_pool(const Tensor& x, const MaxPool2dOptions& o, Extras& extras) {
  MaxPool2dResult r = max_pool2d_with_indices(x, o);
  extras["indices"] = r.indices;
  return r.values;
}

// The same configurations as CASES in make_nn_fixtures.py, by name.
const std::map<std::string, CaseFn>& reference_cases() {
  using In = std::vector<Tensor>;
  static const std::map<std::string, CaseFn> cases = {
      {"conv2d_3x3_pad1_bias",
       [](const In& x, Extras&) { return conv2d(x[0], x[1], x[2], {.padding = 1}); }},
      {"conv2d_stride_asym_pad_dilation_groups",
       [](const In& x, Extras&) {
         return conv2d(
             x[0], x[1], {},
             {.stride = {2, 1}, .padding = {1, 2, 0, 1}, .dilation = {2, 1}, .groups = 2});
       }},
      {"conv2d_1x7",
       [](const In& x, Extras&) {
         return conv2d(x[0], x[1], x[2], {.padding = {0, 3}});
       }},
      {"conv2d_7x1",
       [](const In& x, Extras&) {
         return conv2d(x[0], x[1], {}, {.padding = {3, 0}});
       }},
      {"conv2d_pointwise", [](const In& x, Extras&) { return conv2d(x[0], x[1], x[2]); }},
      {"conv2d_depthwise_stride2",
       [](const In& x, Extras&) {
         return conv2d(x[0], x[1], {}, {.stride = 2, .padding = 1, .groups = 4});
       }},
      {"conv2d_5x5_one_channel",
       [](const In& x, Extras&) { return conv2d(x[0], x[1], x[2], {.padding = 2}); }},
      {"conv_transpose2d_s2_p1_op1_bias",
       [](const In& x, Extras&) {
         return conv_transpose2d(x[0], x[1], x[2],
                                 {.stride = 2, .padding = 1, .output_padding = 1});
       }},
      {"conv_transpose2d_groups_dilation",
       [](const In& x, Extras&) {
         return conv_transpose2d(
             x[0], x[1], {},
             {.stride = {1, 2}, .padding = {0, 1}, .dilation = {1, 2}, .groups = 2});
       }},
      {"max_pool2d_2x2", [](const In& x, Extras& e) { return max_pool(x[0], {.kernel = 2}, e); }},
      {"max_pool2d_3x3_s2_p1_ceil",
       [](const In& x, Extras& e) {
         return max_pool(x[0], {.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true}, e);
       }},
      {"max_pool2d_3x3_s1_p1",
       [](const In& x, Extras& e) {
         return max_pool(x[0], {.kernel = 3, .stride = 1, .padding = 1}, e);
       }},
      {"max_pool2d_dilation",
       [](const In& x, Extras& e) {
         return max_pool(x[0], {.kernel = {2, 3}, .stride = {1, 2}, .dilation = 2}, e);
       }},
      {"avg_pool2d_2x2", [](const In& x, Extras&) { return avg_pool2d(x[0], {.kernel = 2}); }},
      {"avg_pool2d_3x3_s1_p1_exclude_pad",
       [](const In& x, Extras&) {
         return avg_pool2d(x[0],
                           {.kernel = 3, .stride = 1, .padding = 1, .count_include_pad = false});
       }},
      {"avg_pool2d_3x3_s2_p1_ceil_include_pad",
       [](const In& x, Extras&) {
         return avg_pool2d(x[0], {.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true});
       }},
      {"avg_pool2d_3x3_s2_p1_ceil_exclude_pad",
       [](const In& x, Extras&) {
         return avg_pool2d(x[0], {.kernel = 3,
                                  .stride = 2,
                                  .padding = 1,
                                  .ceil_mode = true,
                                  .count_include_pad = false});
       }},
      {"adaptive_avg_pool2d_7x5_to_3x2",
       [](const In& x, Extras&) {
         return adaptive_avg_pool2d(x[0], {3, 2});
       }},
      {"adaptive_avg_pool2d_global",
       [](const In& x, Extras&) { return adaptive_avg_pool2d(x[0], 1); }},
      {"upsample_nearest2d_x2", [](const In& x, Extras&) { return upsample_nearest2d(x[0], 2); }},
      {"upsample_nearest2d_2x3",
       [](const In& x, Extras&) {
         return upsample_nearest2d(x[0], {2, 3});
       }},
      {"upsample_bilinear2d_up_half_pixel",
       [](const In& x, Extras&) {
         return upsample_bilinear2d(x[0], {9, 7}, false);
       }},
      {"upsample_bilinear2d_up_align_corners",
       [](const In& x, Extras&) {
         return upsample_bilinear2d(x[0], {8, 11}, true);
       }},
      {"upsample_bilinear2d_down_half_pixel",
       [](const In& x, Extras&) {
         return upsample_bilinear2d(x[0], {4, 4}, false);
       }},
      {"upsample_bilinear2d_12_to_37",
       [](const In& x, Extras&) {
         return upsample_bilinear2d(x[0], {37, 37}, false);
       }},
      {"batch_norm_train",
       [](const In& x, Extras& e) {
         Tensor running_mean = clone(x[3]), running_var = clone(x[4]);
         Tensor out = batch_norm(x[0], x[1], x[2], running_mean, running_var, true, 0.1, 1e-5);
         e["running_mean"] = running_mean;
         e["running_var"] = running_var;
         return out;
       }},
      {"batch_norm_eval",
       [](const In& x, Extras&) {
         return batch_norm(x[0], x[1], x[2], x[3], x[4], false, 0.1, 1e-3);
       }},
      {"batch_norm_train_1d",
       [](const In& x, Extras&) { return batch_norm(x[0], {}, {}, {}, {}, true); }},
      {"group_norm", [](const In& x, Extras&) { return group_norm(x[0], 3, x[1], x[2]); }},
      {"layer_norm",
       [](const In& x, Extras&) {
         return layer_norm(x[0], {4, 5}, x[1], x[2]);
       }},
  };
  return cases;
}

const safetensors::File& fixture() {
  static const safetensors::File file =
      safetensors::read(std::string(KITE_TEST_REFERENCE_DIR) + "/nn_reference.safetensors");
  return file;
}

Tensor to_tensor(const safetensors::RawTensor& raw) {
  DType dtype = DType::Float64;
  switch (raw.dtype) {
    case safetensors::DTypeCode::F32:
      dtype = DType::Float32;
      break;
    case safetensors::DTypeCode::F64:
      dtype = DType::Float64;
      break;
    case safetensors::DTypeCode::I64:
      dtype = DType::Int64;
      break;
    case safetensors::DTypeCode::U8:
      dtype = DType::UInt8;
      break;
  }
  Tensor t = Tensor::empty(raw.shape, dtype);
  if (!raw.bytes.empty()) std::memcpy(t.raw_data(), raw.bytes.data(), raw.bytes.size());
  return t;
}

bool has(const std::string& name) { return fixture().tensors.count(name) > 0; }
Tensor load(const std::string& name) {
  auto it = fixture().tensors.find(name);
  if (it == fixture().tensors.end()) throw std::runtime_error("fixture lacks tensor " + name);
  return to_tensor(it->second);
}

void expect_close(const Tensor& got, const Tensor& want, double rtol, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what << ": no result";
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  const std::vector<double> g = to_double_vector(got), w = to_double_vector(want);
  double scale = 0.0, error = 0.0;
  size_t worst = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    scale = std::max(scale, std::abs(w[i]));
    const double e = std::abs(g[i] - w[i]);
    if (!(e <= error)) {  // also catches NaN
      error = e;
      worst = i;
    }
  }
  EXPECT_LE(error, rtol * scale) << what << ": element " << worst << " is " << g[worst]
                                 << ", PyTorch has " << w[worst] << " (scale " << scale << ")";
}

void run_case(const std::string& name, DType dtype) {
  const std::string suffix = dtype == DType::Float64 ? ".f64" : ".f32";
  const double rtol = dtype == DType::Float64 ? 1e-10 : 1e-5;
  const CaseFn& fn = reference_cases().at(name);
  std::vector<Tensor> leaves;
  std::vector<size_t> differentiable;
  for (size_t i = 0; has(name + "/in" + std::to_string(i)); ++i) {
    Tensor x = to_dtype(load(name + "/in" + std::to_string(i)), dtype);
    if (has(name + "/grad" + std::to_string(i) + suffix)) {
      x.set_requires_grad(true);
      differentiable.push_back(i);
    }
    leaves.push_back(x);
  }
  const Tensor grad_out = to_dtype(load(name + "/grad_out"), dtype);

  for (bool create_graph : {false, true}) {
    const std::string mode = name + suffix + (create_graph ? " (create_graph)" : "");
    for (size_t i : differentiable) leaves[i].zero_grad();
    Extras extras;
    const Tensor out = fn(leaves, extras);
    expect_close(out, load(name + "/out" + suffix), rtol, mode + " output");
    for (const auto& [key, value] : extras) {
      const Tensor want = load(name + "/extra." + key + suffix);
      if (want.dtype() == DType::Int64) {
        EXPECT_EQ(to_int64_vector(value), to_int64_vector(want)) << mode << " " << key;
      } else {
        expect_close(value, want, rtol, mode + " " + key);
      }
    }
    std::vector<Tensor> grads;
    if (create_graph) {
      std::vector<Tensor> inputs;
      for (size_t i : differentiable) inputs.push_back(leaves[i]);
      grads = autograd::grad({out}, inputs, {grad_out}, true);
    } else {
      out.backward(grad_out);
      for (size_t i : differentiable) grads.push_back(leaves[i].grad());
    }
    for (size_t k = 0; k < differentiable.size(); ++k) {
      const std::string g = "/grad" + std::to_string(differentiable[k]) + suffix;
      expect_close(grads[k], load(name + g), rtol, mode + g);
    }
  }
}

TEST(NnReference, FixtureHoldsExactlyTheKnownCases) {
  std::set<std::string> in_file, known;
  for (const auto& [name, description] : fixture().metadata) in_file.insert(name);
  for (const auto& [name, fn] : reference_cases()) known.insert(name);
  EXPECT_EQ(in_file, known);
}

class NnReferenceCase : public ::testing::TestWithParam<std::string> {};

TEST_P(NnReferenceCase, Float64) { run_case(GetParam(), DType::Float64); }
TEST_P(NnReferenceCase, Float32) { run_case(GetParam(), DType::Float32); }

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : reference_cases()) names.push_back(name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(PyTorch, NnReferenceCase, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace kite
