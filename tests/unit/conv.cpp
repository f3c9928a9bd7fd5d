// conv2d, conv_transpose2d and conv2d_weight_grad: values computed by hand (float32 and
// float64), agreement with a direct six-loop convolution over many configurations (banded
// im2col, threaded batches, groups, dilation, asymmetric padding, 1x1), the adjoint
// identities that tie the three ops together (GEMM and direct paths), the shared KITE_HD
// im2col/col2im element math that CUDA kernels reuse, strided inputs, the workspace bound, and the
// errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/generator.h"
#include "ops/conv.h"
#include "ops/cpu/conv.h"
#include "ops/factory.h"
#include "ops/math/im2col.h"
#include "ops/shape_ops.h"

namespace kite {
namespace {

constexpr DType kDtypes[] = {DType::Float32, DType::Float64};

Tensor make(const std::vector<double>& values, const Shape& shape, DType dtype) {
  return to_dtype(Tensor::from_vector(values, shape), dtype);
}

std::vector<double> iota(int64_t n, double start = 1.0) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = start + double(i);
  return v;
}

void expect_values(const Tensor& t, const std::vector<double>& expected, const std::string& what) {
  const std::vector<double> got = to_double_vector(t);
  ASSERT_EQ(got.size(), expected.size()) << what;
  const double tol = t.dtype() == DType::Float64 ? 1e-12 : 1e-5;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], tol * std::max(1.0, std::abs(expected[i])))
        << what << " element " << i << " (" << dtype_name(t.dtype()) << ")";
}

// max |a - b| / max(1, max |b|) over two tensors of one shape.
double relative_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const std::vector<double> x = to_double_vector(a), y = to_double_vector(b);
  double err = 0, scale = 1;
  for (size_t i = 0; i < x.size(); ++i) {
    err = std::max(err, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  return err / scale;
}

double inner(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = to_double_vector(a), y = to_double_vector(b);
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

template <class Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected kite::Error mentioning " << fragments[0];
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& f : fragments)
      EXPECT_NE(message.find(f), std::string::npos)
          << "message '" << message << "' lacks '" << f << "'";
  }
}

// ---- a direct convolution, the definition with six loops ----

struct Config {
  Shape input;   // [N, C, H, W]
  Shape weight;  // [O, C / groups, KH, KW]
  Conv2dOptions options;
};

Tensor direct_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o) {
  const Shape& in = x.shape();
  const Shape& ws = w.shape();
  const int64_t n = in[0], c = in[1], h = in[2], wd = in[3], oc = ws[0], kh = ws[2], kw = ws[3];
  const int64_t cg = c / o.groups, og = oc / o.groups;
  const int64_t oh =
      (h + o.padding.top + o.padding.bottom - o.dilation.h * (kh - 1) - 1) / o.stride.h + 1;
  const int64_t ow =
      (wd + o.padding.left + o.padding.right - o.dilation.w * (kw - 1) - 1) / o.stride.w + 1;
  const std::vector<double> xv = to_double_vector(x), wv = to_double_vector(w);
  const std::vector<double> bv =
      bias.defined() ? to_double_vector(bias) : std::vector<double>(oc, 0.0);
  std::vector<double> out(n * oc * oh * ow);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t o_ = 0; o_ < oc; ++o_)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t z = 0; z < ow; ++z) {
          double s = bv[o_];
          const int64_t grp = o_ / og;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t iy = y * o.stride.h - o.padding.top + i * o.dilation.h;
                const int64_t ix = z * o.stride.w - o.padding.left + j * o.dilation.w;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                s += xv[((b * c + grp * cg + ci) * h + iy) * wd + ix] *
                     wv[((o_ * cg + ci) * kh + i) * kw + j];
              }
          out[((b * oc + o_) * oh + y) * ow + z] = s;
        }
  return Tensor::from_vector(out, {n, oc, oh, ow});
}

const std::vector<Config>& configs() {
  static const std::vector<Config> list = {
      {{2, 3, 6, 5}, {4, 3, 3, 3}, {.padding = 1}},
      {{3, 4, 9, 8},
       {6, 2, 3, 2},
       {.stride = {2, 1}, .padding = {1, 2, 0, 1}, .dilation = {2, 1}, .groups = 2}},
      {{1, 3, 7, 9}, {2, 3, 1, 7}, {.padding = {0, 3}}},
      {{1, 3, 9, 7}, {2, 3, 7, 1}, {.padding = {3, 0}}},
      {{2, 5, 4, 3}, {3, 5, 1, 1}, {}},
      {{2, 5, 5, 5}, {3, 5, 1, 1}, {.stride = 2}},
      {{4, 4, 7, 7}, {4, 1, 3, 3}, {.stride = 2, .padding = 1, .groups = 4}},
      {{1, 2, 8, 7}, {2, 2, 3, 3}, {.stride = 3}},
      {{2, 1, 8, 8}, {3, 1, 5, 5}, {.padding = 2}},
      {{3, 6, 5, 4},
       {6, 2, 2, 2},
       {.stride = 2, .padding = {0, 1, 1, 0}, .dilation = 2, .groups = 3}},
      // Stride 1, output as wide as the input: the flattened im2col/col2im (taps shifted by up
      // to 3 columns, dilation, taps that read only padding on a 2-wide image).
      {{2, 4, 9, 8}, {3, 4, 3, 3}, {.padding = 2, .dilation = 2}},
      {{2, 3, 5, 9}, {4, 3, 1, 7}, {.padding = {0, 3}}},
      {{2, 3, 9, 5}, {4, 3, 7, 1}, {.padding = {3, 0}}},
      {{1, 2, 4, 2}, {3, 2, 1, 7}, {.padding = {1, 0, 3, 3}}},
      // Stride 1 with one or two output channels per group: the direct (padded-plane) loops.
      {{2, 3, 6, 7}, {1, 3, 5, 3}, {.padding = {2, 1, 0, 2}, .dilation = {1, 2}}},
      {{3, 4, 6, 6}, {4, 1, 3, 3}, {.padding = 1, .groups = 4}},
      {{3, 6, 5, 5}, {4, 3, 3, 3}, {.padding = {0, 2, 1, 0}, .groups = 2}},
      {{4, 8, 28, 28}, {1, 8, 5, 5}, {.padding = 2}},
      // Big enough for the banded im2col (one image's columns exceed the workspace limit) and
      // for one thread per image.
      {{4, 16, 40, 40}, {8, 16, 3, 3}, {.padding = 1}},
      {{4, 64, 24, 24}, {5, 64, 3, 3}, {.stride = 1, .padding = {2, 0, 1, 1}}},
  };
  return list;
}

// ---- values by hand ----

TEST(Conv2d, DiagonalDifferenceKernel) {
  for (DType dt : kDtypes) {
    // out = x[i, j] - x[i + 1, j + 1] + 0.5 = -4 + 0.5 everywhere.
    const Tensor x = make(iota(9), {1, 1, 3, 3}, dt);
    const Tensor w = make({1, 0, 0, -1}, {1, 1, 2, 2}, dt);
    const Tensor out = conv2d(x, w, make({0.5}, {1}, dt));
    EXPECT_EQ(out.shape(), (Shape{1, 1, 2, 2}));
    expect_values(out, {-3.5, -3.5, -3.5, -3.5}, "diagonal difference");
  }
}

TEST(Conv2d, NeighbourhoodSumsWithPadding) {
  for (DType dt : kDtypes) {
    const Tensor out =
        conv2d(make(iota(9), {1, 1, 3, 3}, dt), make(std::vector<double>(9, 1.0), {1, 1, 3, 3}, dt),
               {}, {.padding = 1});
    expect_values(out, {12, 21, 16, 27, 45, 33, 24, 39, 28}, "3x3 sums");
  }
}

TEST(Conv2d, StrideWithAsymmetricPadding) {
  for (DType dt : kDtypes) {
    // Padded to 4x4 (one zero row on top, one zero column on the right); stride 2 reads
    // padded positions (0,0) (0,2) (2,0) (2,2) = 0, 0, 4, 6.
    const Tensor out = conv2d(make(iota(9), {1, 1, 3, 3}, dt), make({2}, {1, 1, 1, 1}, dt), {},
                              {.stride = 2, .padding = {1, 0, 0, 1}});
    EXPECT_EQ(out.shape(), (Shape{1, 1, 2, 2}));
    expect_values(out, {0, 0, 8, 12}, "stride 2, asymmetric padding");
  }
}

TEST(Conv2d, GroupsKeepChannelsApart) {
  for (DType dt : kDtypes) {
    const Tensor out =
        conv2d(make({3, 5}, {1, 2, 1, 1}, dt), make({2, 10}, {2, 1, 1, 1}, dt), {}, {.groups = 2});
    expect_values(out, {6, 50}, "groups");
  }
}

TEST(Conv2d, DilationSkipsColumns) {
  for (DType dt : kDtypes) {
    const Tensor out = conv2d(make(iota(5), {1, 1, 1, 5}, dt), make({1, 1}, {1, 1, 1, 2}, dt), {},
                              {.dilation = {1, 2}});
    expect_values(out, {4, 6, 8}, "dilation");
  }
}

TEST(ConvTranspose2d, SpreadsEachInputOverTheKernel) {
  for (DType dt : kDtypes) {
    const Tensor x = make({1, 2, 3, 4}, {1, 1, 2, 2}, dt);
    const Tensor w = make({1, 1, 1, 1}, {1, 1, 2, 2}, dt);
    expect_values(conv_transpose2d(x, w, {}, {.stride = 2}),
                  {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, "stride 2");
    expect_values(conv_transpose2d(x, w), {1, 3, 2, 4, 10, 6, 3, 7, 4}, "stride 1");
    const Tensor cropped = conv_transpose2d(x, w, make({10}, {1}, dt),
                                            {.stride = 2, .padding = 1, .output_padding = 1});
    EXPECT_EQ(cropped.shape(),
              (Shape{1, 1, 3, 3}));  // 4x4 minus one row/column each side, plus one
    expect_values(cropped, {11, 12, 12, 13, 14, 14, 13, 14, 14}, "padding + output_padding + bias");
  }
}

// ---- against the direct convolution ----

TEST(Conv2d, MatchesDirectConvolution) {
  Generator gen(3);
  for (const Config& c : configs()) {
    for (DType dt : kDtypes) {
      const Tensor x = randn(c.input, dt, Device::cpu(), &gen);
      const Tensor w = randn(c.weight, dt, Device::cpu(), &gen);
      const Tensor b = randn({c.weight[0]}, dt, Device::cpu(), &gen);
      const Tensor got = conv2d(x, w, b, c.options);
      const Tensor want = direct_conv2d(x, w, b, c.options);
      EXPECT_LT(relative_error(got, want), dt == DType::Float64 ? 1e-13 : 1e-5)
          << "input " << shape_str(c.input) << " weight " << shape_str(c.weight) << " "
          << dtype_name(dt);
    }
  }
}

// conv_transpose2d is the adjoint of conv2d in its input, conv2d_weight_grad the adjoint of
// conv2d in its weight: <conv2d(x, w), y> = <x, conv_transpose2d(y, w)> = <w, wgrad(x, y)>.
TEST(Conv2d, TransposeAndWeightGradAreAdjoints) {
  Generator gen(5);
  for (const Config& c : configs()) {
    const Tensor x = randn(c.input, DType::Float64, Device::cpu(), &gen);
    const Tensor w = randn(c.weight, DType::Float64, Device::cpu(), &gen);
    const Tensor y_shape_probe = conv2d(x, w, {}, c.options);
    const Tensor y = randn(y_shape_probe.shape(), DType::Float64, Device::cpu(), &gen);
    const double forward = inner(y_shape_probe, y);
    // The output_padding that maps the conv's output back onto x's size.
    const Conv2dOptions& o = c.options;
    const int64_t span_h =
        c.input[2] + o.padding.top + o.padding.bottom - o.dilation.h * (c.weight[2] - 1) - 1;
    const int64_t span_w =
        c.input[3] + o.padding.left + o.padding.right - o.dilation.w * (c.weight[3] - 1) - 1;
    const ConvTranspose2dOptions t{
        o.stride, o.padding, {span_h % o.stride.h, span_w % o.stride.w}, o.dilation, o.groups};
    const Tensor xt = conv_transpose2d(y, w, {}, t);
    ASSERT_EQ(xt.shape(), x.shape());
    EXPECT_NEAR(inner(x, xt), forward, 1e-10 * std::max(1.0, std::abs(forward)))
        << shape_str(c.input);
    const Tensor gw = conv2d_weight_grad(x, y, c.weight, o);
    EXPECT_NEAR(inner(w, gw), forward, 1e-10 * std::max(1.0, std::abs(forward)))
        << shape_str(c.input);
  }
}

// The element formulas of ops/math/im2col.h (what a CUDA kernel evaluates per element) give
// the same convolution and transposed convolution as the CPU kernels.
TEST(Im2colMath, ElementFormulasReproduceTheKernels) {
  Generator gen(9);
  for (const Config& c : configs()) {
    const Tensor x = randn(c.input, DType::Float64, Device::cpu(), &gen);
    const Tensor w = randn(c.weight, DType::Float64, Device::cpu(), &gen);
    const Tensor out = conv2d(x, w, {}, c.options);
    math::ConvGeometry g;
    g.batch = c.input[0];
    g.in_channels = c.input[1];
    g.in_h = c.input[2];
    g.in_w = c.input[3];
    g.out_channels = c.weight[0];
    g.out_h = out.size(2);
    g.out_w = out.size(3);
    g.kernel_h = c.weight[2];
    g.kernel_w = c.weight[3];
    g.stride_h = c.options.stride.h;
    g.stride_w = c.options.stride.w;
    g.pad_top = c.options.padding.top;
    g.pad_left = c.options.padding.left;
    g.dilation_h = c.options.dilation.h;
    g.dilation_w = c.options.dilation.w;
    g.groups = c.options.groups;
    EXPECT_EQ(g.out_h,
              math::conv_output_size(g.in_h, c.options.padding.top, c.options.padding.bottom,
                                     g.kernel_h, g.stride_h, g.dilation_h));
    const std::vector<double> xv = to_double_vector(x), wv = to_double_vector(w),
                              ov = to_double_vector(out);
    const int64_t cg = g.in_channels_per_group(), og = g.out_channels_per_group();
    const int64_t k = g.col_rows(), p = g.out_plane();
    // Forward: out = W * col with col from im2col_element, and directly (conv_direct_element).
    double err = 0, direct_err = 0;
    std::vector<double> col(k * p);
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        const double* xg = xv.data() + (n * g.in_channels + grp * cg) * g.in_plane();
        for (int64_t r = 0; r < k; ++r)
          for (int64_t j = 0; j < p; ++j) col[r * p + j] = math::im2col_element(xg, g, r, j);
        for (int64_t o = 0; o < og; ++o)
          for (int64_t j = 0; j < p; ++j) {
            double s = 0;
            for (int64_t r = 0; r < k; ++r) s += wv[(grp * og + o) * k + r] * col[r * p + j];
            const double want = ov[((n * g.out_channels) + grp * og + o) * p + j];
            err = std::max(err, std::abs(s - want));
            const double direct = math::conv_direct_element(xg, wv.data() + (grp * og + o) * k, g,
                                                            j / g.out_w, j % g.out_w);
            direct_err = std::max(direct_err, std::abs(direct - want));
          }
      }
    EXPECT_LT(err, 1e-12) << "im2col_element, input " << shape_str(c.input);
    EXPECT_LT(direct_err, 1e-12) << "conv_direct_element, input " << shape_str(c.input);
    // Transposed: conv_transpose2d(y) = col2im(W^T y) with col2im_element.
    const Tensor y = randn(out.shape(), DType::Float64, Device::cpu(), &gen);
    const std::vector<double> yv = to_double_vector(y);
    const Conv2dOptions& o = c.options;
    const int64_t span_h =
        g.in_h + o.padding.top + o.padding.bottom - o.dilation.h * (g.kernel_h - 1) - 1;
    const int64_t span_w =
        g.in_w + o.padding.left + o.padding.right - o.dilation.w * (g.kernel_w - 1) - 1;
    const std::vector<double> tv = to_double_vector(conv_transpose2d(
        y, w, {},
        {o.stride, o.padding, {span_h % o.stride.h, span_w % o.stride.w}, o.dilation, o.groups}));
    err = 0;
    double gather_err = 0;
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        // The product W^T y as col2im_gather's entry, never stored (the direct GPU kernel).
        const auto product = [&](int64_t r, int64_t j) {
          double s = 0;
          for (int64_t oc = 0; oc < og; ++oc)
            s += wv[(grp * og + oc) * k + r] * yv[(n * g.out_channels + grp * og + oc) * p + j];
          return s;
        };
        for (int64_t r = 0; r < k; ++r)
          for (int64_t j = 0; j < p; ++j) {
            double s = 0;
            for (int64_t oc = 0; oc < og; ++oc)
              s += wv[(grp * og + oc) * k + r] * yv[(n * g.out_channels + grp * og + oc) * p + j];
            col[r * p + j] = s;
          }
        for (int64_t ci = 0; ci < cg; ++ci)
          for (int64_t ih = 0; ih < g.in_h; ++ih)
            for (int64_t iw = 0; iw < g.in_w; ++iw) {
              const double want =
                  tv[((n * g.in_channels + grp * cg + ci) * g.in_h + ih) * g.in_w + iw];
              err = std::max(err, std::abs(math::col2im_element(col.data(), g, ci, ih, iw) - want));
              gather_err = std::max(
                  gather_err, std::abs(math::col2im_gather<double>(g, ci, ih, iw, product) - want));
            }
      }
    EXPECT_LT(err, 1e-12) << "col2im_element, input " << shape_str(c.input);
    EXPECT_LT(gather_err, 1e-12) << "col2im_gather, input " << shape_str(c.input);
  }
}

TEST(Im2colMath, ValidOutputRangeIsExact) {
  // For every (in, out, k, stride, pad, dilation), conv_valid_outputs is exactly the set of
  // outputs whose tap lands inside the input.
  for (int64_t in = 1; in <= 7; ++in)
    for (int64_t stride = 1; stride <= 3; ++stride)
      for (int64_t dilation = 1; dilation <= 2; ++dilation)
        for (int64_t pad = 0; pad <= 3; ++pad)
          for (int64_t kernel = 1; kernel <= 4; ++kernel) {
            const int64_t extent = dilation * (kernel - 1) + 1;
            if (extent > in + 2 * pad) continue;
            const int64_t out = math::conv_output_size(in, pad, pad, kernel, stride, dilation);
            for (int64_t k = 0; k < kernel; ++k) {
              const math::IndexRange r =
                  math::conv_valid_outputs(in, out, k, stride, pad, dilation);
              for (int64_t o = 0; o < out; ++o) {
                const int64_t i = math::conv_input_coord(o, k, stride, pad, dilation);
                EXPECT_EQ(o >= r.begin && o < r.end, i >= 0 && i < in)
                    << "in " << in << " stride " << stride << " pad " << pad << " k " << k << " o "
                    << o;
              }
            }
          }
}

// ---- layouts and limits ----

TEST(Conv2d, StridedInputsGiveTheSameResult) {
  Generator gen(11);
  const Tensor x =
      randn({2, 5, 3, 4}, DType::Float64, Device::cpu(), &gen);  // [N, H, C, W] storage
  const Tensor w =
      randn({3, 2, 3, 2}, DType::Float64, Device::cpu(), &gen);  // [C, O, KH, KW] storage
  const Tensor xt = permute(x, {0, 2, 1, 3});                    // [2, 3, 5, 4], not contiguous
  const Tensor wt = transpose(w, 0, 1);                          // [2, 3, 3, 2], not contiguous
  ASSERT_FALSE(xt.is_contiguous());
  ASSERT_FALSE(wt.is_contiguous());
  const Conv2dOptions o{.stride = {1, 2}, .padding = 1};
  EXPECT_LT(relative_error(conv2d(xt, wt, {}, o), conv2d(contiguous(xt), contiguous(wt), {}, o)),
            1e-15);
}

TEST(Conv2d, EmptyBatch) {
  const Tensor out = conv2d(zeros({0, 3, 5, 5}), zeros({4, 3, 3, 3}));
  EXPECT_EQ(out.shape(), (Shape{0, 4, 3, 3}));
  const Tensor gw = conv2d_weight_grad(zeros({0, 3, 5, 5}), zeros({0, 4, 3, 3}), {4, 3, 3, 3});
  expect_values(gw, std::vector<double>(4 * 3 * 9, 0.0), "weight gradient of no images");
}

TEST(Conv2d, WorkspaceStaysWithinItsLimit) {
  // One image's im2col matrix here is 576 x 4096 floats (9 MiB); it must be built in bands.
  Generator gen(13);
  const Tensor x = randn({2, 64, 64, 64}, DType::Float32, Device::cpu(), &gen);
  const Tensor w = randn({8, 64, 3, 3}, DType::Float32, Device::cpu(), &gen);
  conv2d(x, w, {}, {.padding = 1});
  conv2d_weight_grad(x, randn({2, 8, 64, 64}, DType::Float32, Device::cpu(), &gen), w.shape(),
                     {.padding = 1});
  // One output channel on a plane too large for the direct loops' padded planes: bands.
  const Tensor big = randn({1, 1, 1100, 1100}, DType::Float32, Device::cpu(), &gen);
  const Tensor w1 = randn({1, 1, 3, 3}, DType::Float32, Device::cpu(), &gen);
  const Tensor y = conv2d(big, w1, {}, {.padding = 1});
  conv_transpose2d(y, w1, {}, {.padding = 1});
  conv2d_weight_grad(big, y, w1.shape(), {.padding = 1});
  EXPECT_GT(cpu::conv_workspace_peak_bytes(), 0u);
  EXPECT_LE(cpu::conv_workspace_peak_bytes(), cpu::kConvWorkspaceLimitBytes);
}

// ---- errors ----

TEST(Conv2d, RejectsBadShapesAndOptions) {
  const Tensor x = zeros({1, 3, 5, 5});
  expect_error(
      [&] {
        conv2d(x, zeros({4, 2, 3, 3}));
      },
      {"conv2d", "3 channels", "[4, 2, 3, 3]", "expects 2"});
  expect_error(
      [&] {
        conv2d(x, zeros({4, 1, 3, 3}), {}, {.groups = 2});
      },
      {"conv2d", "groups = 2", "divide"});
  expect_error(
      [&] {
        conv2d(x, zeros({4, 3, 7, 3}));
      },
      {"conv2d", "kernel 7x3", "larger than the padded input 5x5"});
  expect_error(
      [&] {
        conv2d(x, zeros({4, 3, 3, 3}), {}, {.dilation = 3});
      },
      {"conv2d", "spans 7x7", "larger than the padded input"});
  expect_error(
      [&] {
        conv2d(x, zeros({4, 3, 3, 3}), {}, {.padding = {0, -1}});
      },
      {"conv2d", "must not be negative"});
  expect_error(
      [&] {
        conv2d(x, zeros({4, 3, 3, 3}), {}, {.stride = 0});
      },
      {"conv2d", "stride must be positive"});
  expect_error([&] { conv2d(x, zeros({4, 3, 3, 3}), zeros({3})); }, {"conv2d", "bias", "[4]"});
  expect_error(
      [&] {
        conv2d(zeros({3, 5, 5}), zeros({4, 3, 3, 3}));
      },
      {"conv2d", "4-D input", "[3, 5, 5]"});
  expect_error(
      [&] {
        conv2d(x, zeros({4, 3, 3, 3}, DType::Float64));
      },
      {"conv2d", "weight", "float64", "float32"});
  expect_error([&] { conv2d(x, zeros({4, 3, 3})); }, {"conv2d", "4-D weight"});
}

TEST(ConvTranspose2d, RejectsBadShapesAndOptions) {
  const Tensor x = zeros({1, 4, 3, 3});
  expect_error(
      [&] {
        conv_transpose2d(x, zeros({3, 2, 3, 3}));
      },
      {"conv_transpose2d", "4 channels", "expects 3"});
  expect_error(
      [&] {
        conv_transpose2d(x, zeros({4, 2, 3, 3}), {}, {.stride = 2, .output_padding = 2});
      },
      {"conv_transpose2d", "output_padding 2x2", "smaller than the stride 2x2"});
  expect_error(
      [&] {
        conv_transpose2d(x, zeros({4, 2, 3, 3}), {}, {.padding = 3});
      },
      {"conv_transpose2d", "not positive"});
  expect_error(
      [&] {
        conv_transpose2d(x, zeros({4, 2, 3, 3}), zeros({4}));
      },
      {"conv_transpose2d", "bias", "[2]"});
}

TEST(Conv2dWeightGrad, RejectsAMismatchedGradient) {
  expect_error(
      [&] {
        conv2d_weight_grad(zeros({1, 3, 5, 5}), zeros({1, 4, 5, 5}), {4, 3, 3, 3});
      },
      {"conv2d_weight_grad", "grad_output", "[1, 4, 3, 3]"});
}

}  // namespace
}  // namespace kite
