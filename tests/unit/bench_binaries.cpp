// End to end: the benchmarks bench_ops, bench_gemm, bench_conv and bench_op_overhead on tiny
// sizes. On the CPU each prints its table and exits 0. With --device cuda each either runs on
// the GPU (a machine with one: the GPU rows and the targets line) or, without a GPU, stops at
// once with a one-line error naming the device and exit code 1. Bad flags exit 2. The binaries
// are found next to this test's build folder; the test skips, saying so, when they have not
// been built. Also the CUDA path's host side on the stand-in runtime, which needs no GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "run_binary.h"

namespace kite {
namespace {

using test_support::Result;

bool gpu_present() {
  return has_backend(DeviceType::CUDA) && backend_for(DeviceType::CUDA).device_count() > 0;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A run with --device cuda: with a GPU it succeeds and prints `expected`; without one it exits 1
// and stderr is one line that names the device flag.
void expect_gpu_rows_or_refusal(const Result& r, const std::vector<std::string>& expected) {
  if (gpu_present()) {
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const std::string& text : expected)
      EXPECT_TRUE(contains(r.out, text)) << text << "\n" << r.out;
    return;
  }
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "--device cuda")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

class BenchOps : public test_support::AppTest {
 protected:
  BenchOps() : AppTest("bench_ops") {}
};

TEST_F(BenchOps, CpuTableAndCudaRowsOrAOneLineRefusal) {
  const Result cpu = run({"--sizes", "4K", "--threads", "1", "--reps", "2"});
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  for (const char* row : {"| memcpy | 4096 | 1 |", "| add op |", "| exp kernel |", "| sum op |"})
    EXPECT_TRUE(contains(cpu.out, row)) << row << " missing from\n" << cpu.out;

  expect_gpu_rows_or_refusal(
      run({"--sizes", "64K", "--reps", "2", "--device", "cuda"}),
      {"| copy (cudaMemcpyAsync) | 65536 | - |", "targets at 65536 elements: add op"});
  EXPECT_EQ(run({"--sizes", "12Q"}).exit_code, 1);  // a malformed size is named, not parsed as 12
  EXPECT_EQ(run({"--device", "tpu"}).exit_code, 2);
}

class BenchGemm : public test_support::AppTest {
 protected:
  BenchGemm() : AppTest("bench_gemm") {}
};

TEST_F(BenchGemm, CpuTableAndCudaRowsOrAOneLineRefusal) {
  const Result cpu =
      run({"--sizes", "32,8x16x4", "--threads", "1", "--dtype", "f64", "--reps", "2"});
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  EXPECT_TRUE(contains(cpu.out, "| f64 | nn | 1 | 32x32x32 |")) << cpu.out;
  EXPECT_TRUE(contains(cpu.out, "| f64 | nn | 1 | 8x16x4 |")) << cpu.out;

  expect_gpu_rows_or_refusal(
      run({"--sizes", "64,8x16x4", "--trans", "nn,tn", "--device", "cuda"}),
      {"| f32 | tn | 8x16x4 |", "| f64 | nn | 64x64x64 |", "target (kite/cuBLAS time <= 1.05)"});
  // --tf32 is a GPU flag; on the CPU it is refused rather than ignored.
  const Result tf32 = run({"--sizes", "8", "--tf32"});
  EXPECT_EQ(tf32.exit_code, 1);
  EXPECT_TRUE(contains(tf32.err, "--tf32")) << tf32.err;
  EXPECT_EQ(run({"--sizes", "8x8"}).exit_code, 2);
}

class BenchConv : public test_support::AppTest {
 protected:
  BenchConv() : AppTest("bench_conv") {}
};

TEST_F(BenchConv, CpuTableAndCudaRowsOrAOneLineRefusal) {
  const std::vector<std::string> small = {"--batch", "2",      "--repeats",
                                          "1",       "--only", "expand1x1 64"};
  std::vector<std::string> args = small;
  const Result cpu = run(args);
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  EXPECT_TRUE(contains(cpu.out, "| enc res expand1x1 64->128 @14 | [2, 64, 14, 14] |")) << cpu.out;
  EXPECT_TRUE(contains(cpu.out, "AE conv stack")) << cpu.out;

  args.insert(args.end(), {"--device", "cuda"});
  expect_gpu_rows_or_refusal(run(args), {"bench_conv: cuda:0, batch 2", "AE conv stack"});
}

class BenchOpOverhead : public test_support::AppTest {
 protected:
  BenchOpOverhead() : AppTest("bench_op_overhead") {}

  // The CUDA path's host side, without a GPU: bench_op_overhead with the stand-in runtime
  // preloaded (apps/bench/fake_cuda_runtime.cpp), which counts the calls made to it. Its rows,
  // "| op | ns | allocations | runtime calls | device queries |", as op -> {runtime calls, device
  // queries} per call; empty when the stand-in was not built.
  std::map<std::string, std::pair<double, double>> stand_in_counts() {
    const std::filesystem::path stand_in = test_support::apps_dir() / "libkite_fake_cuda.so";
    if (!std::filesystem::exists(stand_in)) return {};
    const Result r = run(binary_, {"--calls", "4", "--rounds", "2", "--device", "cuda"},
                         {"LD_PRELOAD=" + stand_in.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "| device queries/call |")) << r.out;
    std::map<std::string, std::pair<double, double>> counts;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      std::vector<std::string> cells;
      std::istringstream fields(line);
      for (std::string cell; std::getline(fields, cell, '|');) cells.push_back(cell);
      if (cells.size() != 6 || cells[2].find_first_of("0123456789") == std::string::npos) continue;
      counts[cells[1].substr(1, cells[1].size() - 2)] = {std::stod(cells[4]), std::stod(cells[5])};
    }
    return counts;
  }
};

TEST_F(BenchOpOverhead, CpuTableAndCudaRowsOrAOneLineRefusal) {
  const Result cpu = run({"--calls", "4", "--rounds", "2"});
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  for (const char* row : {"| Tensor::empty | ", "| matmul | ", "| matmul, recorded | "})
    EXPECT_TRUE(contains(cpu.out, row)) << row << " missing from\n" << cpu.out;
  expect_gpu_rows_or_refusal(run({"--calls", "4", "--rounds", "2", "--device", "cuda"}),
                             {"| linear | "});
  EXPECT_EQ(run({"--calls", "0"}).exit_code, 2);
}

// A kernel op asks the runtime for the current device once, in its DeviceGuard (launch
// geometry and the cuBLAS handle read the guard's answer); making a tensor or a view asks
// nothing.
TEST_F(BenchOpOverhead, CudaPathAsksForTheDeviceAtMostOncePerOp) {
  const auto counts = stand_in_counts();
  if (counts.empty()) GTEST_SKIP() << "no libkite_fake_cuda.so (built without CUDA)";
  for (const char* op : {"add", "mul", "relu", "sum", "matmul", "linear", "matmul, recorded"}) {
    ASSERT_EQ(counts.count(op), 1u) << op << " missing";
    EXPECT_LE(counts.at(op).second, 1.0) << op;
  }
  EXPECT_EQ(counts.at("Tensor::empty").second, 0.0);
  EXPECT_EQ(counts.at("transpose (a view)").second, 0.0);
}

// A product's cublasLt plan (cuda/gemm_plan.h) is made once per shape and kept: after the
// first call, a matmul is the device query and one cublasLtMatmul. Making the plan again on
// every call would add its thirteen descriptor, preference and heuristic calls.
TEST_F(BenchOpOverhead, CudaMatmulKeepsItsGemmPlan) {
  const auto counts = stand_in_counts();
  if (counts.empty()) GTEST_SKIP() << "no libkite_fake_cuda.so (built without CUDA)";
  for (const char* op : {"matmul", "matmul, recorded"}) {
    ASSERT_EQ(counts.count(op), 1u) << op << " missing";
    EXPECT_EQ(counts.at(op).first, 2.0) << op;
  }
}

}  // namespace
}  // namespace kite
